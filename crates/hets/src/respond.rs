//! `hets respond` and `hets explain`: the request path on files, and a 271 for people.

use anyhow::{Context as _, Result};
use clap::Args;
use eligibility::{Instant, Releases, Settings};
use server::{AnswerKind, Inbound, Responder};
use std::io::{Read, Write};
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

fn read(file: &str) -> Result<Vec<u8>> {
    if file == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v).context("reading standard input")?;
        Ok(v)
    } else {
        std::fs::read(file).with_context(|| format!("reading {file}"))
    }
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
    let payload = read(&args.file)?;
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
    let bytes = read(&args.file)?;
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
