//! The invalid-input corpus: every file under `tests/data/x12/invalid/` and the acknowledgement it
//! must get, written down in `<name>.expect` beside it.
//!
//! An `.expect` file starts with `#` lines saying what is wrong with the input; the other lines
//! are the verdict as [`summary`] renders it:
//!
//! ```text
//! TA1 <TA105>
//! AK9 <AK901> <AK902 included> <AK903 received> <AK904 accepted> [<AK905..>]
//! IK5 <AK202 set control number> <IK501> [<IK502..>]
//! IK3 <segment id> <IK302 position> <IK303 loop or -> <IK304>
//! IK4 <element>[.<component>][r<repetition>] <IK403> <data element reference or -> [<bad value>]
//! ```
//!
//! `HETS_BLESS=1 cargo test -p openhets-x12 --test invalid_corpus` rewrites the verdict lines
//! (keeping the comments); every blessed file is then read by hand against the TR3 before it is
//! committed. `<name>.gen` stands for an input too big to commit: `random <bytes> <seed>`.
//! Each acknowledgement is also written for the external judge (`.ci/run`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use x12::{Checked, Delimiters, OutboundEnvelope, Rules};

const RULES: Rules<'static> = Rules { receiver_id: Some("CMS"), sender_id: Some("WDEMO001") };

fn corpus_dir() -> PathBuf {
    support::data_dir().join("invalid")
}

/// xorshift64*: a fixed, dependency-free byte stream for generated inputs.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn load(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).expect("read corpus file");
    if path.extension().is_some_and(|e| e == "gen") {
        let text = String::from_utf8(raw).expect("a .gen file is text");
        let spec = text.lines().find(|l| !l.starts_with('#')).expect("a .gen file has a recipe line");
        let parts: Vec<&str> = spec.split_whitespace().collect();
        assert_eq!(parts.first(), Some(&"random"), "unknown recipe in {}", path.display());
        let len = parts[1].parse().expect("length");
        let seed = parts[2].parse().expect("seed");
        pseudo_random(len, seed)
    } else {
        raw
    }
}

/// The verdict in the `.expect` notation.
fn summary<T>(checked: &Checked<'_, T>) -> String {
    let mut s = String::new();
    match checked {
        Checked::Accepted { .. } => s.push_str("ACCEPTED\n"),
        Checked::Interchange { ta1, .. } => writeln!(s, "TA1 {}", ta1.code.code()).unwrap(),
        Checked::Rejected { ack, .. } => {
            write!(s, "AK9 {} {} {} {}", ack.code.code(), ack.included, ack.received, ack.accepted).unwrap();
            for e in &ack.errors {
                write!(s, " {}", e.code()).unwrap();
            }
            s.push('\n');
            for set in &ack.sets {
                write!(s, "IK5 {} {}", set.control_number, set.code.code()).unwrap();
                for e in &set.errors {
                    write!(s, " {}", e.code()).unwrap();
                }
                s.push('\n');
                for seg in &set.segments {
                    let lp = seg.loop_id.as_deref().unwrap_or("-");
                    writeln!(s, "IK3 {} {} {} {}", seg.segment_id, seg.position, lp, seg.code.code()).unwrap();
                    for el in &seg.elements {
                        write!(s, "IK4 {}", el.position.element).unwrap();
                        if let Some(c) = el.position.component {
                            write!(s, ".{c}").unwrap();
                        }
                        if let Some(r) = el.position.repetition {
                            write!(s, "r{r}").unwrap();
                        }
                        match el.reference {
                            Some(r) => write!(s, " {} {r}", el.code.code()).unwrap(),
                            None => write!(s, " {} -", el.code.code()).unwrap(),
                        }
                        if let Some(v) = &el.bad_value {
                            write!(s, " {v}").unwrap();
                        }
                        s.push('\n');
                    }
                }
            }
        }
    }
    s
}

/// The acknowledgement bytes this system would answer with.
fn acknowledgement<T>(checked: &Checked<'_, T>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let fallback = OutboundEnvelope { delimiters: Delimiters::default(), ..support::reply_envelope() };
    match checked {
        Checked::Accepted { .. } => return None,
        Checked::Interchange { interchange, ta1 } => {
            let env = match interchange {
                Some(h) => OutboundEnvelope::reply_to(h, support::date(), support::time(), 1),
                None => fallback,
            };
            ta1.write(&env, &mut out);
        }
        Checked::Rejected { interchange, ack } => {
            let env = OutboundEnvelope::reply_to(interchange, support::date(), support::time(), 1);
            ack.write(&env, &mut out);
        }
    }
    Some(out)
}

#[test]
fn every_invalid_input_gets_its_expected_acknowledgement() {
    let bless = std::env::var_os("HETS_BLESS").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("read the invalid corpus")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "x12" || e == "gen"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 40, "the corpus has {} inputs; the issue asks for at least 40", inputs.len());

    let mut failures = Vec::new();
    for input in &inputs {
        let name = input.file_stem().and_then(|s| s.to_str()).expect("utf-8 name").to_string();
        let bytes = load(input);
        let checked = x12::check_270(&bytes, &RULES);
        let got = summary(&checked);
        let expect_path = input.with_extension("expect");
        let existing = std::fs::read_to_string(&expect_path).unwrap_or_default();
        let comments: String = existing.lines().filter(|l| l.starts_with('#')).map(|l| format!("{l}\n")).collect();
        let want: String = existing.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
        if bless {
            std::fs::write(&expect_path, format!("{comments}{got}")).expect("write .expect");
        } else if comments.is_empty() {
            failures.push(format!("{name}: the .expect file has no comment saying what is wrong"));
        } else if got != want {
            failures.push(format!("{name}:\n--- expected\n{want}--- got\n{got}"));
        }
        if checked.is_accepted() {
            failures.push(format!("{name}: accepted, but it is invalid"));
        }
        if let Some(ack) = acknowledgement(&checked) {
            support::conformance(&format!("invalid-{name}-ack"), &ack);
        }
    }
    assert!(failures.is_empty(), "{} corpus files disagree:\n{}", failures.len(), failures.join("\n"));
}
