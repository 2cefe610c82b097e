//! `cargo bench -p openhets-x12`: the request path's X12 work, per transaction.
//!
//! * `decode_270`: tokenise + envelope + validate + decode the CMS sample 270 (15 segments in
//!   the set), as the server does for every request.
//! * `write_271`: write the original-Medicare 271 (67 segments in the set) from its typed model.
//! * `floor_memchr_split`: split the same 270 into segments with a bare `memchr`: the cost of just
//!   touching the bytes, the floor any parser sits on.
//!
//! Throughput is reported per transaction (elements/s = transactions/s) and in bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // bench code: the fixtures are ours

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use x12::{Checked, Date, OutboundEnvelope, Rules, Time};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/x12/valid").join(name);
    std::fs::read(path).expect("bench fixture")
}

fn decode_270(c: &mut Criterion) {
    let bytes = fixture("cms-sample.x12");
    let rules = Rules { receiver_id: Some("CMS"), sender_id: Some("WDEMO001") };
    assert!(x12::check_270(&bytes, &rules).is_accepted());
    let mut g = c.benchmark_group("270");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_270", |b| b.iter(|| x12::check_270(black_box(&bytes), &rules).is_accepted()));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode_270_bytes", |b| b.iter(|| x12::check_270(black_box(&bytes), &rules).is_accepted()));
    g.bench_function("floor_memchr_split", |b| {
        b.iter(|| {
            let input = black_box(&bytes[..]);
            let mut n = 0usize;
            let mut start = 0;
            for end in memchr::memchr_iter(b'~', input) {
                n += usize::from(end > start);
                start = end + 1;
            }
            n
        })
    });
    g.finish();
}

fn write_271(c: &mut Criterion) {
    let bytes = fixture("271-original-medicare.x12");
    let Checked::Accepted { transaction: response, interchange, .. } = x12::check_271(&bytes) else {
        panic!("the 271 fixture is not accepted")
    };
    let date = Date::new(2026, 11, 16).unwrap();
    let time = Time::new(9, 30, 0, 0).unwrap();
    let env = OutboundEnvelope::reply_to(&interchange, date, time, 1);
    let mut out = Vec::with_capacity(8192);
    response.write(&env, &mut out);
    let len = out.len();
    let mut g = c.benchmark_group("271");
    g.throughput(Throughput::Elements(1));
    g.bench_function("write_271", |b| {
        b.iter(|| {
            out.clear();
            black_box(&response).write(&env, &mut out);
            out.len()
        })
    });
    g.throughput(Throughput::Bytes(len as u64));
    g.bench_function("write_271_bytes", |b| {
        b.iter(|| {
            out.clear();
            black_box(&response).write(&env, &mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, decode_270, write_271);
criterion_main!(benches);
