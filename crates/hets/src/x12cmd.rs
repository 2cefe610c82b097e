//! `hets x12 …`: the X12 engine on files, for people and for scripts.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::io::{Read, Write};
use std::process::ExitCode;
use x12::{Ack999, Checked, OutboundEnvelope, Ta1};

#[derive(Subcommand)]
pub enum X12Command {
    /// Check interchanges against the envelope rules and 005010X279A1; exit 1 if any is invalid.
    Check {
        /// Print one JSON object per file instead of a report.
        #[arg(long)]
        json: bool,
        /// Files to check (`-` for standard input).
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Print the TA1 or 999 this system would answer (nothing for a valid interchange).
    Ack(AckArgs),
    /// List the segments one per line, with the TR3 loop of each in a side column.
    Fmt {
        /// File to list (`-` for standard input).
        file: String,
    },
    /// Print the typed 270 or 271 as JSON.
    Json {
        /// File to decode (`-` for standard input).
        file: String,
    },
}

#[derive(Args)]
pub struct AckArgs {
    /// File to acknowledge (`-` for standard input).
    file: String,
    /// ISA13/GS06 of the acknowledgement.
    #[arg(long, default_value_t = 1)]
    control_number: u32,
    /// The receiver id this system answers as (ISA08 of inbound interchanges).
    #[arg(long, default_value = "CMS")]
    receiver_id: String,
}

pub fn run(cmd: X12Command) -> Result<ExitCode> {
    match cmd {
        X12Command::Check { json, files } => check(&files, json),
        X12Command::Ack(args) => ack(&args),
        X12Command::Fmt { file } => fmt(&file),
        X12Command::Json { file } => json(&file),
    }
}

/// The bytes of `file`, or of standard input for `-`.
pub(crate) fn read(file: &str) -> Result<Vec<u8>> {
    if file == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v).context("reading standard input")?;
        Ok(v)
    } else {
        std::fs::read(file).with_context(|| format!("reading {file}"))
    }
}

/// The verdict on one file, as `check --json` prints it.
#[derive(Serialize)]
struct Report {
    file: String,
    valid: bool,
    transaction_set: Option<String>,
    /// `TA1` or `999` when invalid.
    acknowledgement: Option<&'static str>,
    ta1: Option<Ta1>,
    ack999: Option<Ack999>,
}

fn verdict(file: &str, bytes: &[u8]) -> Report {
    let set = x12::transaction_set_id(bytes);
    let mut report = Report {
        file: file.to_string(),
        valid: false,
        transaction_set: set.clone(),
        acknowledgement: None,
        ta1: None,
        ack999: None,
    };
    let (ta1, ack) = if set.as_deref() == Some("271") {
        split(x12::check_271(bytes))
    } else {
        split(x12::check_270(bytes, &x12::Rules::default()))
    };
    report.valid = ta1.is_none() && ack.is_none();
    report.acknowledgement = if ta1.is_some() {
        Some("TA1")
    } else if ack.is_some() {
        Some("999")
    } else {
        None
    };
    report.ta1 = ta1;
    report.ack999 = ack;
    report
}

fn split<T>(c: Checked<'_, T>) -> (Option<Ta1>, Option<Ack999>) {
    match c {
        Checked::Accepted { .. } => (None, None),
        Checked::Interchange { ta1, .. } => (Some(ta1), None),
        Checked::Rejected { ack, .. } => (None, Some(ack)),
    }
}

fn check(files: &[String], json: bool) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut all_valid = true;
    for file in files {
        let bytes = read(file)?;
        let r = verdict(file, &bytes);
        all_valid &= r.valid;
        if json {
            serde_json::to_writer(&mut out, &r)?;
            writeln!(out)?;
            continue;
        }
        let set = r.transaction_set.as_deref().unwrap_or("?");
        if r.valid {
            writeln!(out, "{file}: valid {set}")?;
        }
        if let Some(t) = &r.ta1 {
            writeln!(
                out,
                "{file}: INVALID interchange (TA1 {} {}): {}",
                t.code.code(),
                t.code.description(),
                t.detail
            )?;
        }
        if let Some(a) = &r.ack999 {
            writeln!(out, "{file}: INVALID {set} (999 {})", a.code.code())?;
            for e in &a.errors {
                writeln!(out, "  group: AK9 {} {}", e.code(), e.description())?;
            }
            for s in &a.sets {
                for e in &s.errors {
                    writeln!(out, "  set {}: IK5 {} {}", s.control_number, e.code(), e.description())?;
                }
                for seg in &s.segments {
                    let lp = seg.loop_id.as_deref().unwrap_or("header");
                    writeln!(
                        out,
                        "  segment {} #{} (loop {lp}): IK3 {} {}: {}",
                        seg.segment_id,
                        seg.position,
                        seg.code.code(),
                        seg.code.description(),
                        seg.detail
                    )?;
                    for el in &seg.elements {
                        let p = &el.position;
                        let mut at = format!("{}{:02}", seg.segment_id, p.element);
                        if let Some(c) = p.component {
                            at.push_str(&format!("-{c}"));
                        }
                        if let Some(r) = p.repetition {
                            at.push_str(&format!(" repetition {r}"));
                        }
                        writeln!(out, "    element {at}: IK4 {} {}", el.code.code(), el.code.description())?;
                    }
                }
            }
        }
    }
    Ok(if all_valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn ack(args: &AckArgs) -> Result<ExitCode> {
    let bytes = read(&args.file)?;
    let (date, time) = crate::clock::now();
    let rules = x12::Rules { receiver_id: Some(&args.receiver_id), sender_id: None };
    let mut out = Vec::new();
    let checked = x12::check_270(&bytes, &rules);
    match &checked {
        Checked::Accepted { .. } => return Ok(ExitCode::SUCCESS),
        Checked::Interchange { interchange, ta1 } => {
            let env = match interchange {
                Some(h) => OutboundEnvelope::reply_to(h, date, time, args.control_number),
                None => OutboundEnvelope {
                    delimiters: x12::Delimiters::default(),
                    sender_qualifier: "ZZ",
                    sender_id: &args.receiver_id,
                    receiver_qualifier: "ZZ",
                    receiver_id: "UNKNOWN",
                    date,
                    time,
                    control_number: args.control_number,
                    usage: "P",
                },
            };
            ta1.write(&env, &mut out);
        }
        Checked::Rejected { interchange, ack } => {
            ack.write(&OutboundEnvelope::reply_to(interchange, date, time, args.control_number), &mut out);
        }
    }
    out.push(b'\n');
    std::io::stdout().write_all(&out)?;
    Ok(ExitCode::from(1))
}

fn fmt(file: &str) -> Result<ExitCode> {
    let bytes = read(file)?;
    let Some(lines) = x12::outline(&bytes) else {
        eprintln!("hets: {file}: not an X12 interchange (no readable ISA)");
        return Ok(ExitCode::from(1));
    };
    let mut out = std::io::stdout().lock();
    for l in lines {
        writeln!(out, "{:<6} {}", l.loop_id, l.segment)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn json(file: &str) -> Result<ExitCode> {
    let bytes = read(file)?;
    let mut out = std::io::stdout().lock();
    let result = if x12::transaction_set_id(&bytes).as_deref() == Some("271") {
        match x12::check_271(&bytes) {
            Checked::Accepted { transaction, .. } => serde_json::to_writer_pretty(&mut out, &transaction).map(|_| true),
            _ => Ok(false),
        }
    } else {
        match x12::check_270(&bytes, &x12::Rules::default()) {
            Checked::Accepted { transaction, .. } => serde_json::to_writer_pretty(&mut out, &transaction).map(|_| true),
            _ => Ok(false),
        }
    };
    if result? {
        writeln!(out)?;
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("hets: {file}: invalid interchange; `hets x12 check {file}` says why");
        Ok(ExitCode::from(1))
    }
}
