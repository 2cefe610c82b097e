//! `hets`: the openhets command line.
#![forbid(unsafe_code)]

mod clock;
mod compliance_cmd;
mod config;
mod report;
mod respond;
mod seed;
mod send;
mod serve;
mod x12cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

// mimalloc's per-thread heaps: the request path allocates and frees many small values (the
// 271's segments, decoded records) from several threads, and glibc's malloc spent about a fifth
// of the in-process pipeline's CPU time on them (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// openhets: a Medicare-style HIPAA Eligibility Transaction System (X12 270/271).
#[derive(Parser)]
#[command(name = "hets", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check, acknowledge, list and decode X12 interchanges.
    #[command(subcommand)]
    X12(x12cmd::X12Command),
    /// Answer one inbound interchange the way the server would (271, 999 or TA1).
    Respond(respond::RespondArgs),
    /// Print a 271 as a readable eligibility summary.
    Explain(respond::ExplainArgs),
    /// The demo: load the demo dataset if needed and answer the CMS sample 270.
    Demo(respond::DemoArgs),
    /// Load the demo personas and a synthetic population into a database.
    Seed(seed::SeedArgs),
    /// Load beneficiaries, providers, submitters, relationships and cost sharing from CSV files.
    Import(Box<seed::ImportArgs>),
    /// Send a 270 to a CORE server (SOAP or MIME) and print the 271; or drive load with --load.
    Send(Box<send::SendArgs>),
    /// Serve the CORE SOAP and MIME real-time endpoints (`--demo`: seed a demo database first).
    Serve(serve::ServeArgs),
    /// Write the default configuration (`hets config init`).
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Administration: maintenance windows.
    #[command(subcommand)]
    Admin(serve::AdminCommand),
    /// Reports from the transaction record: submitters, availability.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Security audits (D13–D15): run, tick, list.
    #[command(subcommand)]
    Audit(compliance_cmd::AuditCommand),
    /// Corrective action plans: submit, decide, list.
    #[command(subcommand)]
    Cap(compliance_cmd::CapCommand),
    /// A submitter's standing and history; suspend, reinstate or terminate by hand.
    #[command(subcommand)]
    Submitter(compliance_cmd::SubmitterCommand),
    /// The email outbox: list, deliver.
    #[command(subcommand)]
    Outbox(compliance_cmd::OutboxCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    if !matches!(cli.command, Command::Serve(_)) {
        init_cli_logs();
    }
    let result = match cli.command {
        Command::X12(cmd) => x12cmd::run(cmd),
        Command::Respond(args) => respond::respond(&args),
        Command::Explain(args) => respond::explain(&args),
        Command::Demo(args) => respond::demo(&args),
        Command::Seed(args) => seed::seed(&args),
        Command::Import(args) => seed::import(&args),
        Command::Serve(args) => serve::serve(&args),
        Command::Config(cmd) => config::run(&cmd),
        Command::Admin(cmd) => serve::admin(&cmd),
        Command::Report(cmd) => report::run(&cmd),
        Command::Audit(cmd) => compliance_cmd::audit(&cmd),
        Command::Cap(cmd) => compliance_cmd::cap(&cmd),
        Command::Submitter(cmd) => compliance_cmd::submitter(&cmd),
        Command::Outbox(cmd) => compliance_cmd::outbox(&cmd),
        Command::Send(args) => send::send(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hets: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Warnings and errors of the one-shot commands, as plain lines on stderr (`HETS_LOG` filters;
/// `hets serve` logs JSON instead). Never PHI: the libraries log codes and ids only.
fn init_cli_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("HETS_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .try_init();
}
