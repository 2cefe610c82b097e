//! `hets report`: the submitter and availability reports from the transaction record.
//!
//! Periods are whole UTC days: `--from` 00:00Z through the end of `--to`. Reports carry
//! submitter ids and names, counts and shares only, never PHI.

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use compliance::Policy;
use compliance::report;
use eligibility::Instant;
use std::process::ExitCode;
use x12::{Date, Time};

/// Days in the default period when `--from` is not given.
const DEFAULT_DAYS: i64 = 30;

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Per submitter: status, volume, valid-NPI share, AAA share and codes, A7 inquiries.
    Submitters(ReportArgs),
    /// Share of responses within 3 s and 20 s per month (CORE: 90% within 20 s), and scheduled
    /// downtime per ISO week against CORE's 86% availability.
    Availability(ReportArgs),
}

#[derive(Args)]
pub struct ReportArgs {
    /// The database: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE.
    #[arg(long, default_value = store::DEFAULT_URL)]
    db: String,
    /// First day of the period, YYYY-MM-DD, a UTC day [default: 30 days before --to].
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    from: Option<Date>,
    /// Last day of the period (included), YYYY-MM-DD, a UTC day [default: today, UTC].
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    to: Option<Date>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns, shares as percentages.
    Table,
    /// A header row, shares as fractions.
    Csv,
    /// Pretty-printed JSON, shares as fractions.
    Json,
}

fn parse_day(s: &str) -> Result<Date, String> {
    Date::parse_iso(s).ok_or_else(|| format!("`{s}` is not a date: use YYYY-MM-DD"))
}

/// The period as instants: `from` 00:00Z up to the day after `to` (excluded), and now.
fn period(args: &ReportArgs) -> Result<(Instant, Instant, Instant)> {
    let (today, time) = crate::clock::now();
    let now = Instant::at(today, time);
    let to = args.to.unwrap_or(today);
    let from = args.from.unwrap_or_else(|| to.add_days(-DEFAULT_DAYS));
    if to < from {
        anyhow::bail!("--to ({to}) is before --from ({from})");
    }
    let midnight = Time::default();
    Ok((Instant::at(from, midnight), Instant::at(to.add_days(1), midnight), now))
}

pub fn run(cmd: &ReportCommand) -> Result<ExitCode> {
    let (ReportCommand::Submitters(args) | ReportCommand::Availability(args)) = cmd;
    let (from, to, now) = period(args)?;
    let store = store::open(&args.db).context("opening the database")?;
    let text = match cmd {
        ReportCommand::Submitters(_) => {
            let rows = report::submitters_report(store.as_ref(), from, to, now, &Policy::default())?;
            match args.format {
                Format::Table => report::submitters_table(&rows),
                Format::Csv => report::submitters_csv(&rows)?,
                Format::Json => json(&rows)?,
            }
        }
        ReportCommand::Availability(_) => {
            let a = report::availability_report(store.as_ref(), from, to)?;
            match args.format {
                Format::Table => report::availability_table(&a),
                Format::Csv => report::availability_csv(&a)?,
                Format::Json => json(&a)?,
            }
        }
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn json(value: &impl serde::Serialize) -> Result<String> {
    let mut text = serde_json::to_string_pretty(value).context("writing JSON")?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn args(from: Option<&str>, to: Option<&str>) -> ReportArgs {
        ReportArgs {
            db: String::new(),
            from: from.map(|s| parse_day(s).unwrap()),
            to: to.map(|s| parse_day(s).unwrap()),
            format: Format::Table,
        }
    }

    #[test]
    fn periods_are_whole_utc_days() {
        let (from, to, _) = period(&args(Some("2026-11-01"), Some("2026-11-30"))).unwrap();
        assert_eq!(from.to_string(), "2026-11-01T00:00:00Z");
        assert_eq!(to.to_string(), "2026-12-01T00:00:00Z", "--to is included: the period ends the day after");
        let (from, to, _) = period(&args(None, Some("2026-11-30"))).unwrap();
        assert_eq!(
            (from.to_string().as_str(), to.to_string().as_str()),
            ("2026-10-31T00:00:00Z", "2026-12-01T00:00:00Z")
        );
        assert!(period(&args(Some("2026-11-02"), Some("2026-11-01"))).is_err());
        assert!(period(&args(Some("2026-11-01"), Some("2026-11-01"))).is_ok(), "one day");
        assert!(parse_day("2026-02-30").is_err());
        assert!(parse_day("20261101").is_err());
    }
}
