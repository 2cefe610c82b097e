//! An audit killed half-way (SIGKILL to `hets audit run`) and run again ends in exactly the
//! state of an audit that ran once, uninterrupted: the same audit records, standings, cases,
//! history and outbox, so no notice is queued twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use eligibility::{Instant, SubmitterSeed, SubmitterStatus};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use store::{Outcome, TransactionRecord};

const SUBMITTERS: usize = 60;
const PER_SUBMITTER: usize = 3000;
const DAY: &str = "2026-12-01";
/// 00:30 ET the next day.
const AT: &str = "2026-12-02T05:30:00Z";

fn hets() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hets"))
}

/// A database with many submitters and a day of their traffic: a third fail the NPI audit, a
/// third run over the AAA rate, a third pass.
fn build(path: &Path) {
    let store = store::open(&format!("sqlite:{}", path.display())).unwrap();
    let seeds: Vec<SubmitterSeed> = (0..SUBMITTERS)
        .map(|i| SubmitterSeed {
            id: format!("WCRASH{i:02}"),
            name: format!("CRASH TEST SUBMITTER {i}"),
            email: format!("ops{i}@crash.example"),
            status: SubmitterStatus::Active,
            suspended_until: None,
            suspensions: 0,
            password: "x".into(),
            npis: vec![],
        })
        .collect();
    store.put_submitters(&seeds).unwrap();
    let start = Instant::parse_rfc3339("2026-12-01T05:00:00Z").unwrap().unix_seconds;
    for (i, s) in seeds.iter().enumerate() {
        let records: Vec<TransactionRecord> = (0..PER_SUBMITTER)
            .map(|k| {
                let aaa: Vec<String> = match i % 3 {
                    0 if k < 30 => vec!["43".into()],
                    1 if k < 600 => vec!["75".into()],
                    _ => vec![],
                };
                TransactionRecord {
                    at: Instant::from_unix(start + (k as i64 * 28) % 86_000),
                    submitter: s.id.clone(),
                    npi: Some("1125213722".into()),
                    mbi: Some(store::synthetic::mbi_from_index(k as u64)),
                    outcome: if aaa.is_empty() { Outcome::Response271 } else { Outcome::Response271Aaa },
                    aaa_codes: aaa,
                    service_types: vec!["30".into()],
                    duration_micros: 900,
                }
            })
            .collect();
        store.record_transactions(&records).unwrap();
    }
    store.set_bulk_load(false).unwrap();
}

/// Everything the audit decides, in a comparable form (ids aside, which depend on insert order).
fn state(path: &Path) -> Vec<String> {
    let store = store::open(&format!("sqlite:{}", path.display())).unwrap();
    let mut out = Vec::new();
    for a in store.audit_records(None, DAY, DAY).unwrap() {
        out.push(format!("audit {} {} {} {} {}", a.submitter, a.npi_verdict, a.aaa_verdict, a.actions, a.figures));
    }
    for s in store.submitters().unwrap() {
        out.push(format!("standing {} {:?}", s.id, s.standing()));
    }
    for c in store.aaa_cases(None).unwrap() {
        out.push(format!("case {c:?}"));
    }
    let mut changes: Vec<String> = store
        .status_changes(None, 100_000)
        .unwrap()
        .into_iter()
        .map(|c| format!("change {} {} {} {} {} {} {}", c.at, c.submitter, c.subject, c.from, c.to, c.reason, c.actor))
        .collect();
    changes.sort();
    out.extend(changes);
    let mut mail: Vec<String> = store
        .outbox(100_000)
        .unwrap()
        .into_iter()
        .map(|m| format!("mail {} {} {} {}", m.kind, m.to, m.subject, m.text))
        .collect();
    mail.sort();
    out.extend(mail);
    out
}

fn audited(path: &Path) -> usize {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row("SELECT count(*) FROM audit_record", [], |r| r.get::<_, i64>(0)).unwrap_or(0) as usize
}

fn records_file(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".records");
    name.into()
}

fn audit(path: &Path) -> std::process::Child {
    hets()
        .args(["audit", "run", "--period", DAY, "--at", AT, "--db"])
        .arg(format!("sqlite:{}", path.display()))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn a_killed_audit_finishes_on_rerun_with_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.db");
    build(&clean);
    let crashed = dir.path().join("crashed.db");
    std::fs::copy(&clean, &crashed).unwrap();
    // A SQLite database is two files: the transaction records live beside it.
    std::fs::copy(records_file(&clean), records_file(&crashed)).unwrap();

    // Uninterrupted.
    assert!(audit(&clean).wait().unwrap().success());
    assert_eq!(audited(&clean), SUBMITTERS);

    // Killed once some but not all submitters are audited, then run again.
    let mut child = audit(&crashed);
    let mut seen = 0;
    for _ in 0..20_000 {
        seen = audited(&crashed);
        if seen >= SUBMITTERS / 4 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = audited(&crashed);
    eprintln!("killed after {at_kill} of {SUBMITTERS} submitters were audited");
    assert!(seen > 0 && at_kill < SUBMITTERS, "killed mid-run: {at_kill} of {SUBMITTERS} audited");
    assert!(audit(&crashed).wait().unwrap().success());

    let (a, b) = (state(&clean), state(&crashed));
    assert!(a.iter().any(|l| l.starts_with("mail suspension")), "the scenario suspends someone");
    assert!(a.iter().any(|l| l.starts_with("mail aaa_notice")), "the scenario opens AAA cases");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
}
