//! How long the audit of one busy day takes: `cargo run --release -p openhets-compliance
//! --example audit_day -- [RECORDS] [SUBMITTERS] [DB]` writes a day of transaction records
//! (default 1,000,000 over 100 submitters) into a SQLite database and times
//! `Compliance::audit` over it. Loading is not timed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use compliance::{Compliance, ManualClock, Period, Policy};
use eligibility::{Instant, SubmitterSeed, SubmitterStatus};
use std::sync::Arc;
use store::{Outcome, TransactionRecord};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let records: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let submitters: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let path = args.get(3).cloned().unwrap_or_else(|| dir.path().join("audit.db").display().to_string());
    let store = store::open(&format!("sqlite:{path}")).unwrap();
    let seeds: Vec<SubmitterSeed> = (0..submitters)
        .map(|i| SubmitterSeed {
            id: format!("WBENCH{i:03}"),
            name: format!("BENCH SUBMITTER {i}"),
            email: format!("ops{i}@bench.example"),
            status: SubmitterStatus::Active,
            suspended_until: None,
            suspensions: 0,
            password: "x".into(),
            npis: vec![],
        })
        .collect();
    store.put_submitters(&seeds).unwrap();
    let start = Instant::parse_rfc3339("2026-12-01T05:00:00Z").unwrap().unix_seconds;
    let per = records / submitters;
    let t = std::time::Instant::now();
    store.set_bulk_load(true).unwrap();
    for (i, s) in seeds.iter().enumerate() {
        let batch: Vec<TransactionRecord> = (0..per)
            .map(|k| {
                // A realistic mix: ~0.4% invalid NPIs, ~8% AAA, some repeats of popular pairs.
                let aaa: Vec<String> = match (k * 7919 + i) % 1000 {
                    0..=3 => vec!["43".into()],
                    4..=80 => vec!["75".into()],
                    _ => vec![],
                };
                TransactionRecord {
                    at: Instant::from_unix(start + (k as i64 * 86_399) / per as i64),
                    submitter: s.id.clone(),
                    npi: Some(format!("11252137{:02}", k % 50)),
                    mbi: Some(store::synthetic::mbi_from_index((k % (per / 3 + 1)) as u64)),
                    outcome: if aaa.is_empty() { Outcome::Response271 } else { Outcome::Response271Aaa },
                    aaa_codes: aaa,
                    service_types: vec!["30".into()],
                    duration_micros: 900,
                }
            })
            .collect();
        store.record_transactions(&batch).unwrap();
    }
    store.set_bulk_load(false).unwrap();
    eprintln!("loaded {} records in {:.1} s", per * submitters, t.elapsed().as_secs_f64());
    let clock = Arc::new(ManualClock::new(Instant::parse_rfc3339("2026-12-02T05:30:00Z").unwrap()));
    let c = Compliance::new(store, Policy::default(), clock, "bench");
    let period = Period::day(x12::Date::parse_iso("2026-12-01").unwrap());
    let t = std::time::Instant::now();
    let run = c.audit(&period).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let suspended = run.audited.iter().filter(|(_, a)| a.contains("suspension")).count();
    println!(
        "audited {} submitters, {} records, in {secs:.2} s ({:.0} records/s); {suspended} suspended",
        run.audited.len(),
        per * submitters,
        (per * submitters) as f64 / secs
    );
}
