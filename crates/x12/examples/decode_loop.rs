//! Decodes a 270 a fixed number of times: a steady target for `perf stat` and `perf record`
//! (instruction counts do not depend on what else the machine is doing).
//!
//! `cargo run --release -p openhets-x12 --example decode_loop -- [FILE] [N]`

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args.next().unwrap_or_else(|| "tests/data/x12/valid/cms-sample.x12".to_string());
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let Ok(bytes) = std::fs::read(&file) else {
        eprintln!("decode_loop: cannot read {file}");
        std::process::exit(2);
    };
    let rules = x12::Rules::default();
    let mut accepted = 0u64;
    let t = std::time::Instant::now();
    for _ in 0..n {
        accepted += u64::from(x12::check_270(std::hint::black_box(&bytes), &rules).is_accepted());
    }
    let per = t.elapsed().as_secs_f64() * 1e9 / n as f64;
    println!("{n} decodes ({accepted} accepted): {per:.0} ns each");
}
