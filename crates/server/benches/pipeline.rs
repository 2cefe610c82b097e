//! In-process load: 270 → 271 through `Responder::respond` (decode, look up, decide, write,
//! record) on a seeded store, from several threads. Prints throughput and latency percentiles.
//!
//! ```sh
//! hets seed --db sqlite:/tmp/hets-1m.db --demo --beneficiaries 1000000      # once
//! HETS_BENCH_DB=sqlite:/tmp/hets-1m.db HETS_BENCH_BENEFICIARIES=1000000 \
//!     cargo bench -p openhets-server --bench pipeline
//! ```
//! Settings (environment): `HETS_BENCH_DB` (required), `HETS_BENCH_BENEFICIARIES` (the seeded
//! count, default 1000000), `HETS_BENCH_SEED` (default 1), `HETS_BENCH_PROVIDERS` (1000),
//! `HETS_BENCH_SUBMITTERS` (20), `HETS_BENCH_THREADS` (2), `HETS_BENCH_SECONDS` (10).
//! Every request comes from the demo submitter WDEMO001 for its NPI 1125213722 about a random
//! synthetic beneficiary, so the seed must have been run with `--demo`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: setup failures end the run

// The same allocator as the `hets` binary, so the numbers are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use eligibility::{Instant, Personas, Releases, Settings};
use server::{AnswerKind, Inbound, Responder};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use store::synthetic::{Population, Rng};
use x12::{
    BenefitInquiry, Delimiters, Demographics, Inquiry270, InquiryDate, Name, OutboundEnvelope, Receiver, Subscriber,
    Trace,
};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn inquiry_bytes(b: &eligibility::Beneficiary) -> Vec<u8> {
    let birth = b.birth_date.map(|d| d.ccyymmdd()).unwrap_or_default();
    let inq = Inquiry270 {
        control_number: "0001",
        purpose: "13",
        reference: "BENCH",
        date: "20261116",
        time: "0930",
        transaction_type: "",
        source: Name { entity: "PR", entity_type: "2", last: "CMS", id_qualifier: "PI", id: "CMS", ..Name::default() },
        receiver: Receiver {
            name: Name {
                entity: "1P",
                entity_type: "2",
                last: "BAYSIDE FAMILY MEDICINE",
                id_qualifier: "XX",
                id: "1125213722",
                ..Name::default()
            },
            ..Receiver::default()
        },
        subscriber: Subscriber {
            child_code: "0",
            traces: vec![Trace { kind: "1", reference: "T1", originator: "9WDEMO0001", supplemental: "" }],
            name: Name {
                entity: "IL",
                entity_type: "1",
                last: &b.last_name,
                first: &b.first_name,
                id_qualifier: "MI",
                id: &b.mbi,
                ..Name::default()
            },
            demographics: Some(Demographics { format: "D8", birth_date: &birth, gender: "" }),
            dates: vec![InquiryDate { qualifier: "291", format: "RD8", value: "20260101-20261116" }],
            inquiries: vec![BenefitInquiry { service_types: vec!["30"], ..BenefitInquiry::default() }],
            ..Subscriber::default()
        },
    };
    let env = OutboundEnvelope {
        delimiters: Delimiters::default(),
        sender_qualifier: "ZZ",
        sender_id: "WDEMO001",
        receiver_qualifier: "ZZ",
        receiver_id: "CMS",
        date: x12::Date::new(2026, 11, 16).unwrap(),
        time: x12::Time::new(9, 30, 0, 0).unwrap(),
        control_number: 1,
        usage: "P",
    };
    let mut out = Vec::new();
    x12::write_270(&inq, &env, &mut out);
    out
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let Ok(db) = std::env::var("HETS_BENCH_DB") else {
        eprintln!("pipeline bench: set HETS_BENCH_DB to a seeded database (see the file's header); skipping");
        return;
    };
    let n: u64 = env("HETS_BENCH_BENEFICIARIES", 1_000_000);
    let threads: usize = env("HETS_BENCH_THREADS", 2);
    let seconds: u64 = env("HETS_BENCH_SECONDS", 10);
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
    let personas = Personas::from_toml(&text).unwrap();
    let population = Population::new(
        env("HETS_BENCH_SEED", 1),
        n,
        env("HETS_BENCH_PROVIDERS", 1000),
        env("HETS_BENCH_SUBMITTERS", 20),
        personas.meta.reference_date,
    )
    .reserving(&personas);

    let store = store::open(&db).unwrap();
    let counts = store.counts().unwrap();
    eprintln!("store {} ({}): {} beneficiaries", store.backend(), db, counts.beneficiaries);
    // Requests about random beneficiaries, built before the clock starts.
    let mut rng = Rng::new(7);
    let payloads: Arc<Vec<Vec<u8>>> =
        Arc::new((0..20_000).map(|_| inquiry_bytes(&population.beneficiary(rng.below(n)))).collect());

    // The lookup alone: one primary-key read, cold and warm mixes alike.
    let lookups = 20_000;
    let t = std::time::Instant::now();
    let mut found = 0;
    for _ in 0..lookups {
        let mbi = population.mbi(rng.below(n));
        found += usize::from(store.beneficiary(&mbi).unwrap().is_some());
    }
    let per_lookup = t.elapsed().as_secs_f64() * 1e6 / lookups as f64;
    assert_eq!(found, lookups, "the store does not hold the population this bench expects (seed, count)");
    println!("lookup: {per_lookup:.1} µs per beneficiary read ({lookups} random MBIs of {n})");

    let responder = Arc::new(Responder::new(store, Releases::builtin().unwrap(), Settings::default()).unwrap());
    let at = Instant::parse_rfc3339("2026-11-16T09:30:00Z").unwrap();
    // Warm up.
    for p in payloads.iter().take(2000) {
        responder.respond(&Inbound { payload: p, submitter: "WDEMO001", at });
    }
    responder.flush();
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = process_cpu_ticks();
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|k| {
            let (responder, payloads, stop) = (responder.clone(), payloads.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(1 << 20);
                let mut i = k * 7919;
                while !stop.load(Ordering::Relaxed) {
                    let p = &payloads[i % payloads.len()];
                    i += 1;
                    let t = std::time::Instant::now();
                    let a = responder.respond(&Inbound { payload: p, submitter: "WDEMO001", at });
                    latencies.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    assert_eq!(a.kind, AnswerKind::Response271);
                    assert!(a.record.aaa_codes.is_empty(), "AAA {:?}", a.record.aaa_codes);
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<u32> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    let elapsed = started.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    responder.flush();
    let flush = t.elapsed().as_secs_f64();
    // CPU time is steadier than throughput on a shared machine: it does not count the time
    // other processes take from us.
    let cpu_micros = process_cpu_ticks().zip(cpu_before).map(|(after, before)| (after - before) * 10_000);
    all.sort_unstable();
    println!(
        "pipeline: {} transactions in {elapsed:.1} s on {threads} threads = {:.0} tx/s; latency p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs; records flushed {flush:.2} s after",
        all.len(),
        all.len() as f64 / elapsed,
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 0.999),
        all.last().copied().unwrap_or(0),
    );
    if let Some(cpu) = cpu_micros {
        println!("cpu: {:.1} µs of process CPU time per transaction", cpu as f64 / all.len().max(1) as f64);
    }
}

/// User plus system CPU time of this process so far, in clock ticks (10 ms on Linux), from
/// `/proc/self/stat`; `None` where there is no such file.
fn process_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}
