//! `hets respond` and `hets explain`: the request path on files, and a 271 for people.

use anyhow::{Context as _, Result};
use clap::Args;
use eligibility::{Instant, Releases, Settings};
use server::{AnswerKind, Inbound, Responder};
use std::io::Write;
use std::process::ExitCode;

#[derive(Args)]
pub struct RespondArgs {
    /// The database: sqlite:PATH or a postgres:// URL.
    #[arg(long, default_value = store::DEFAULT_URL)]
    db: String,
    /// The submitter the interchange comes from (as if authenticated).
    #[arg(long)]
    submitter: String,
    /// The transaction instant, RFC 3339 (default: now).
    #[arg(long)]
    at: Option<String>,
    /// The inbound interchange (`-` or nothing for standard input).
    #[arg(default_value = "-")]
    file: String,
}

#[derive(Args)]
pub struct ExplainArgs {
    /// The 271 to explain (`-` or nothing for standard input).
    #[arg(default_value = "-")]
    file: String,
}

/// The transaction instant: `--at`, or the wall clock.
pub fn instant(at: Option<&str>) -> Result<Instant> {
    match at {
        Some(s) => Ok(Instant::parse_rfc3339(s)?),
        None => {
            let (date, time) = crate::clock::now();
            Ok(Instant::at(date, time))
        }
    }
}

/// Runs one interchange through the path the server uses and prints the answer. Exit 0 for a
/// 271 (with or without AAA), 1 when the interchange was refused (TA1 or 999).
pub fn respond(args: &RespondArgs) -> Result<ExitCode> {
    let at = instant(args.at.as_deref())?;
    let payload = crate::x12cmd::read(&args.file)?;
    let store = store::open(&args.db).with_context(|| format!("opening the database {}", redact(&args.db)))?;
    let responder = Responder::new(store, Releases::builtin()?, Settings::default())?;
    let answer = responder.respond(&Inbound { payload: &payload, submitter: &args.submitter, at });
    responder.flush();
    let mut out = std::io::stdout().lock();
    out.write_all(&answer.payload)?;
    writeln!(out)?;
    Ok(match answer.kind {
        AnswerKind::Response271 => ExitCode::SUCCESS,
        AnswerKind::Ta1 | AnswerKind::Ack999 => ExitCode::from(1),
    })
}

/// Prints a 271 as a readable eligibility summary.
pub fn explain(args: &ExplainArgs) -> Result<ExitCode> {
    let bytes = crate::x12cmd::read(&args.file)?;
    match x12::check_271(&bytes) {
        x12::Checked::Accepted { transaction, .. } => {
            print!("{}", eligibility::explain(&transaction));
            Ok(ExitCode::SUCCESS)
        }
        x12::Checked::Interchange { ta1, .. } => {
            eprintln!("hets explain: not a readable interchange (TA1 {}: {})", ta1.code.code(), ta1.detail);
            Ok(ExitCode::from(1))
        }
        x12::Checked::Rejected { ack, .. } => {
            let first = ack.sets.iter().flat_map(|s| &s.segments).next().map(|e| e.detail.clone()).unwrap_or_default();
            eprintln!("hets explain: not a 271 this system can read (999 {}) {first}", ack.code.code());
            Ok(ExitCode::from(1))
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[derive(Args)]
pub struct DemoArgs {
    /// The database: sqlite:PATH or a postgres:// URL. The demo dataset is loaded into it when
    /// it holds no beneficiary yet.
    #[arg(long, default_value = store::DEFAULT_URL)]
    db: String,
    /// The demo dataset.
    #[arg(long, default_value = "data/personas.toml")]
    personas: String,
    /// The 270 to answer.
    #[arg(default_value = "tests/data/x12/valid/cms-sample.x12")]
    file: String,
}

/// The main job on the embedded default: a database with the demo dataset, the CMS sample 270
/// answered through the request path, the 271 and what it says.
pub fn demo(args: &DemoArgs) -> Result<ExitCode> {
    let store = store::open(&args.db).with_context(|| format!("opening the database {}", redact(&args.db)))?;
    if store.counts()?.beneficiaries == 0 {
        let text = std::fs::read_to_string(&args.personas).with_context(|| format!("reading {}", args.personas))?;
        let personas = eligibility::Personas::from_toml(&text)?;
        store::load_personas(store.as_ref(), &personas)?;
        eprintln!(
            "hets demo: loaded the demo dataset ({} beneficiaries) into {}",
            personas.beneficiaries.len(),
            redact(&args.db)
        );
    }
    let payload = crate::x12cmd::read(&args.file)?;
    // The demo dataset's reference day, so the answer matches the documentation.
    let at = Instant::parse_rfc3339("2026-11-16T09:30:00Z")?;
    let submitter = x12_sender(&payload).unwrap_or_else(|| "WDEMO001".to_string());
    let responder = Responder::new(store, Releases::builtin()?, Settings::default())?;
    let answer = responder.respond(&Inbound { payload: &payload, submitter: &submitter, at });
    responder.flush();
    let mut out = std::io::stdout().lock();
    out.write_all(&answer.payload)?;
    writeln!(out, "\n")?;
    if let x12::Checked::Accepted { transaction, .. } = x12::check_271(&answer.payload) {
        write!(out, "{}", eligibility::explain(&transaction))?;
    }
    Ok(match answer.kind {
        AnswerKind::Response271 => ExitCode::SUCCESS,
        AnswerKind::Ta1 | AnswerKind::Ack999 => ExitCode::from(1),
    })
}

/// ISA06 of an interchange, trimmed: the demo answers whoever the sample says it is from.
fn x12_sender(payload: &[u8]) -> Option<String> {
    let isa = payload.get(..106)?;
    let sep = *isa.get(3)?;
    let field = isa.split(|&b| b == sep).nth(6)?;
    Some(String::from_utf8_lossy(field).trim().to_string()).filter(|s| !s.is_empty())
}
