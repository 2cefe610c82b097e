//! Beneficiary lookups against a seeded database: throughput on every core and latency
//! percentiles, to check that a lookup costs the same at 1 million and at 10 million rows.
//!
//! `cargo run --release -p openhets-store --example lookup -- sqlite:/tmp/hets-1m.db 1000000 [SEED]`
//! (the count and seed those of `hets seed --beneficiaries N --seed S`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring tool: a panic is the report

use std::time::{Duration, Instant};
use store::synthetic::{Population, Rng};
use x12::Date;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).expect("usage: lookup URL COUNT [SEED]");
    let count: u64 = args.get(2).expect("usage: lookup URL COUNT [SEED]").parse().unwrap();
    let seed: u64 = args.get(3).map_or(1, |s| s.parse().unwrap());
    let store = store::open(url).unwrap();
    let population = Population::new(seed, count, 0, 0, Date { year: 2026, month: 11, day: 16 });
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let per_thread = 100_000;
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = &store;
                let population = &population;
                s.spawn(move || {
                    let mut rng = Rng::new(t as u64 + 99);
                    let mut out = Vec::with_capacity(per_thread);
                    for _ in 0..per_thread {
                        let mbi = population.mbi(rng.below(count));
                        let t0 = Instant::now();
                        let b = store.beneficiary(&mbi).unwrap();
                        out.push(t0.elapsed());
                        assert!(b.is_some(), "not seeded with this count and seed");
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{} lookups on {threads} threads in {:.2} s: {:.0}/s; p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
}
