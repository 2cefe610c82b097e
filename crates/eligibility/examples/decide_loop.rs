//! Decides every persona's 270 (a clean request for the whole year, service type 30) a fixed
//! number of times and writes each 271: a steady target for callgrind and `perf`, whose
//! instruction counts do not depend on what else the machine is doing.
//!
//! `cargo run --release -p openhets-eligibility --example decide_loop -- [N]`
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use eligibility::{Context, Facts, Instant, RelationshipState, Settings};
use x12::{Checked, OutboundEnvelope};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let p = support::personas();
    let asks: Vec<Vec<u8>> = p.beneficiaries.iter().map(|b| support::Ask::for_beneficiary(b).bytes()).collect();
    let rules = x12::Rules::default();
    let inquiries: Vec<_> = asks
        .iter()
        .map(|bytes| match x12::check_270(bytes, &rules) {
            Checked::Accepted { transaction, .. } => transaction,
            _ => panic!("a persona's 270 is not accepted"),
        })
        .collect();
    let at = Instant::parse_rfc3339(support::REFERENCE).unwrap();
    let settings = Settings::default();
    let ctx = Context { at, release: support::releases().in_force(at), settings: &settings };
    let provider = p.providers.iter().find(|pr| pr.npi == "1125213722");
    let env = OutboundEnvelope {
        sender_id: "CMS",
        receiver_id: "WDEMO001",
        control_number: 1,
        ..support::inquiry_envelope()
    };
    let mut out = Vec::with_capacity(8192);
    let mut bytes = 0usize;
    let t = std::time::Instant::now();
    for i in 0..n {
        let (inq, b) = (&inquiries[i as usize % inquiries.len()], &p.beneficiaries[i as usize % inquiries.len()]);
        let facts = Facts {
            provider,
            relationship: RelationshipState::Active,
            beneficiary: Some(b),
            cost_sharing: &p.cost_sharing,
        };
        let decision = eligibility::decide(std::hint::black_box(inq), &facts, &ctx);
        out.clear();
        decision.response.write(&env, &mut out);
        bytes += out.len();
    }
    let per = t.elapsed().as_secs_f64() * 1e9 / n as f64;
    println!("{n} decisions and 271s ({} bytes on average): {per:.0} ns each", bytes / n.max(1) as usize);
}
