//! Writes a 271 a fixed number of times from its typed model (read once from FILE, as the bench
//! does): a steady target for callgrind and `perf stat`, whose instruction counts do not depend on
//! what else the machine is doing.
//!
//! `cargo run --release -p openhets-x12 --example write_loop -- [FILE] [N]`

use x12::{Checked, Date, OutboundEnvelope, Time};

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args.next().unwrap_or_else(|| "tests/data/x12/valid/271-original-medicare.x12".to_string());
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let Ok(bytes) = std::fs::read(&file) else {
        eprintln!("write_loop: cannot read {file}");
        std::process::exit(2);
    };
    let Checked::Accepted { transaction: response, interchange, .. } = x12::check_271(&bytes) else {
        eprintln!("write_loop: {file} is not an accepted 271");
        std::process::exit(2);
    };
    // The bench's envelope: a fixed date, time and control number.
    let (Some(date), Some(time)) = (Date::new(2026, 11, 16), Time::new(9, 30, 0, 0)) else {
        std::process::exit(2);
    };
    let env = OutboundEnvelope::reply_to(&interchange, date, time, 1);
    let mut out = Vec::with_capacity(8192);
    let mut total = 0u64;
    let t = std::time::Instant::now();
    for _ in 0..n {
        out.clear();
        std::hint::black_box(&response).write(&env, &mut out);
        total += out.len() as u64;
    }
    let per = t.elapsed().as_secs_f64() * 1e9 / n as f64;
    println!("{n} writes ({} bytes each): {per:.0} ns each", total / n.max(1));
}
