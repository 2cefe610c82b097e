//! `hets seed` and `hets import`: data into the store.

use anyhow::{Context, Result, anyhow};
use clap::Args;
use eligibility::{Beneficiary, Personas};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Instant;
use store::Store;
use store::import::{Input, Kind};
use store::synthetic::Population;

/// The demo dataset as it was when hets was built, so `hets seed --demo` works from anywhere.
const PERSONAS: &str = include_str!("../../../data/personas.toml");

/// Beneficiaries per write: one transaction each. Large enough that commits cost nothing,
/// small enough that the generator and the writer overlap well.
const BATCH: u64 = 20_000;

#[derive(Args)]
pub struct SeedArgs {
    /// The database: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE.
    #[arg(long, default_value = store::DEFAULT_URL)]
    db: String,
    /// Load the demo personas, providers, submitters and cost sharing (data/personas.toml).
    #[arg(long)]
    demo: bool,
    /// Read the personas from this file instead of the copy built into hets.
    #[arg(long, value_name = "PATH", requires = "demo")]
    personas: Option<PathBuf>,
    /// Synthetic beneficiaries to generate.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    beneficiaries: u64,
    /// Synthetic providers to generate.
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    providers: u32,
    /// Synthetic submitters to generate (ids WS000001…, password `<id in lower case>-pass`).
    #[arg(long, value_name = "N", default_value_t = 20)]
    submitters: u32,
    /// Seed of the synthetic population: the same seed and counts give the same data.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
}

pub fn seed(args: &SeedArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let personas = match &args.personas {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            match Personas::from_toml(&text) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("hets: {}: {e}", path.display());
                    return Ok(ExitCode::from(1));
                }
            }
        }
        None => Personas::from_toml(PERSONAS).context("the built-in personas")?,
    };
    let store = store::open(&args.db).context("opening the database")?;
    store.set_bulk_load(true)?;

    if args.demo {
        store::load_personas(store.as_ref(), &personas).context("loading the personas")?;
    }
    // Synthetic keys never collide with the personas', loaded now or later.
    let population =
        Population::new(args.seed, args.beneficiaries, args.providers, args.submitters, personas.meta.reference_date)
            .reserving(&personas);
    for chunk in population.providers().chunks(BATCH as usize) {
        store.put_providers(chunk).context("writing providers")?;
    }
    store.put_submitters(&population.submitters()).context("writing submitters")?;
    for chunk in population.relationships().chunks(BATCH as usize) {
        store.put_relationships(chunk).context("writing relationships")?;
    }
    load_beneficiaries(store.as_ref(), &population)?;
    store.set_bulk_load(false)?;
    let elapsed = started.elapsed();

    let counts = store.counts()?;
    let size = store.size_bytes()?;
    let what = if args.demo { "the personas and " } else { "" };
    println!(
        "seeded {} with {what}{} synthetic beneficiaries in {:.1} s",
        describe_db(&args.db),
        args.beneficiaries,
        elapsed.as_secs_f64()
    );
    println!("beneficiaries: {}", counts.beneficiaries);
    println!("providers: {}", counts.providers);
    println!("submitters: {}", counts.submitters);
    println!("relationships: {}", counts.relationships);
    println!("cost sharing years: {}", counts.cost_sharing_years);
    println!("transactions: {}", counts.transactions);
    println!("database size: {} ({size} bytes)", human_bytes(size));
    Ok(ExitCode::SUCCESS)
}

/// Generates on one thread and writes on this one: the two overlap, one per core.
fn load_beneficiaries(store: &dyn Store, population: &Population) -> Result<()> {
    let total = population.beneficiaries;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} beneficiaries ({per_sec}, {eta} left)",
        )
        .map_err(|e| anyhow!("progress bar template: {e}"))?
        .progress_chars("=> "),
    );
    let (tx, rx) = mpsc::sync_channel::<Vec<Beneficiary>>(4);
    let written = std::thread::scope(|s| {
        s.spawn(move || {
            let mut start = 0;
            while start < total {
                let end = (start + BATCH).min(total);
                // A closed channel means the writer failed: stop generating.
                if tx.send(population.beneficiaries(start..end).collect()).is_err() {
                    break;
                }
                start = end;
            }
        });
        for batch in rx {
            store.put_beneficiaries(&batch).context("writing beneficiaries")?;
            bar.inc(batch.len() as u64);
        }
        anyhow::Ok(())
    });
    bar.finish_and_clear();
    written
}

/// The database as messages may show it: a PostgreSQL URL can hold a password.
fn describe_db(url: &str) -> String {
    if url.starts_with("sqlite:") {
        url.to_string()
    } else {
        let host = url.rsplit('@').next().unwrap_or(url);
        let host = host.split_once("://").map_or(host, |(_, rest)| rest);
        format!("postgres://{host}")
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}

/// One flag per kind of CSV file; see docs/import.md for the columns of each.
#[derive(Args)]
pub struct ImportArgs {
    /// The database: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE.
    #[arg(long, default_value = store::DEFAULT_URL)]
    db: String,
    /// A directory: every conventionally named file in it is read (beneficiaries.csv,
    /// entitlements.csv, providers.csv, …); a flag below overrides its file.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Beneficiaries, one row each (demographics and address).
    #[arg(long, value_name = "FILE")]
    beneficiaries: Option<PathBuf>,
    /// Part A and Part B entitlement periods, by MBI.
    #[arg(long, value_name = "FILE")]
    entitlements: Option<PathBuf>,
    /// Yearly usage (deductible met, therapy amounts, sessions, blood), by MBI.
    #[arg(long, value_name = "FILE")]
    usage: Option<PathBuf>,
    /// Paid services (HCPCS, date, NPI), by MBI.
    #[arg(long, value_name = "FILE")]
    services: Option<PathBuf>,
    /// Medicare Advantage enrollments, by MBI.
    #[arg(long, value_name = "FILE")]
    medicare_advantage: Option<PathBuf>,
    /// Part D enrollments, by MBI.
    #[arg(long, value_name = "FILE")]
    part_d: Option<PathBuf>,
    /// Hospice elections, by MBI.
    #[arg(long, value_name = "FILE")]
    hospice: Option<PathBuf>,
    /// Home health periods, by MBI.
    #[arg(long, value_name = "FILE")]
    home_health: Option<PathBuf>,
    /// Medicare Secondary Payer records, by MBI.
    #[arg(long, value_name = "FILE")]
    msp: Option<PathBuf>,
    /// ESRD records, by MBI.
    #[arg(long, value_name = "FILE")]
    esrd: Option<PathBuf>,
    /// QMB periods, by MBI.
    #[arg(long, value_name = "FILE")]
    qmb: Option<PathBuf>,
    /// Inpatient benefit periods, by MBI.
    #[arg(long, value_name = "FILE")]
    benefit_periods: Option<PathBuf>,
    /// The provider enrollment registry.
    #[arg(long, value_name = "FILE")]
    providers: Option<PathBuf>,
    /// Submitters (trading partners), with clear-text passwords that are stored hashed.
    #[arg(long, value_name = "FILE")]
    submitters: Option<PathBuf>,
    /// Submitter/NPI relationships.
    #[arg(long, value_name = "FILE")]
    relationships: Option<PathBuf>,
    /// Cost sharing per year.
    #[arg(long, value_name = "FILE")]
    cost_sharing: Option<PathBuf>,
}

impl ImportArgs {
    fn given(&self, kind: Kind) -> Option<&PathBuf> {
        match kind {
            Kind::Beneficiaries => self.beneficiaries.as_ref(),
            Kind::Entitlements => self.entitlements.as_ref(),
            Kind::Usage => self.usage.as_ref(),
            Kind::Services => self.services.as_ref(),
            Kind::MedicareAdvantage => self.medicare_advantage.as_ref(),
            Kind::PartD => self.part_d.as_ref(),
            Kind::Hospice => self.hospice.as_ref(),
            Kind::HomeHealth => self.home_health.as_ref(),
            Kind::Msp => self.msp.as_ref(),
            Kind::Esrd => self.esrd.as_ref(),
            Kind::Qmb => self.qmb.as_ref(),
            Kind::BenefitPeriods => self.benefit_periods.as_ref(),
            Kind::Providers => self.providers.as_ref(),
            Kind::Submitters => self.submitters.as_ref(),
            Kind::Relationships => self.relationships.as_ref(),
            Kind::CostSharing => self.cost_sharing.as_ref(),
        }
    }

    /// The file of each kind: its flag, else the conventional name in `--dir` if it exists.
    fn files(&self) -> Vec<(Kind, PathBuf)> {
        Kind::ALL
            .into_iter()
            .filter_map(|kind| match self.given(kind) {
                Some(p) => Some((kind, p.clone())),
                None => self
                    .dir
                    .as_ref()
                    .map(|d| d.join(format!("{}.csv", kind.name())))
                    .filter(|p| p.is_file())
                    .map(|p| (kind, p)),
            })
            .collect()
    }
}

pub fn import(args: &ImportArgs) -> Result<ExitCode> {
    let files = args.files();
    if files.is_empty() {
        eprintln!("hets import: no CSV file given (use --dir DIR or --beneficiaries FILE, --providers FILE, …)");
        return Ok(ExitCode::from(2));
    }
    // Every file must open before anything is written: a beneficiary loaded without the file
    // that holds its MSP records would get wrong answers.
    let mut inputs = Vec::new();
    for (kind, path) in &files {
        match std::fs::File::open(path) {
            Ok(f) => inputs.push(Input {
                kind: *kind,
                name: path.display().to_string(),
                reader: Box::new(std::io::BufReader::with_capacity(1 << 16, f)),
            }),
            Err(e) => {
                eprintln!("hets import: {}: {e}; nothing was loaded", path.display());
                return Ok(ExitCode::from(1));
            }
        }
    }
    let started = Instant::now();
    let store = store::open(&args.db).context("opening the database")?;
    store.set_bulk_load(true)?;
    let report = store::import::import(store.as_ref(), inputs).context("writing the imported rows")?;
    store.set_bulk_load(false)?;

    for r in &report.refused {
        if r.line == 0 {
            eprintln!("{}: {}", r.file, r.reason);
        } else {
            eprintln!("{}:{}: {}", r.file, r.line, r.reason);
        }
    }
    println!("imported into {} in {:.1} s", describe_db(&args.db), started.elapsed().as_secs_f64());
    for (kind, n) in &report.loaded {
        println!("loaded {}: {n}", kind.name());
    }
    println!("refused rows: {}", report.refused.len());
    Ok(if report.refused.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_passwords_stay_out_of_messages() {
        assert_eq!(describe_db("postgres://u:secret@db.example:5432/hets"), "postgres://db.example:5432/hets");
        assert_eq!(describe_db("postgres://127.0.0.1/test"), "postgres://127.0.0.1/test");
        assert_eq!(describe_db("sqlite:./x.db"), "sqlite:./x.db");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }

    #[test]
    fn the_built_in_personas_parse() {
        assert!(Personas::from_toml(PERSONAS).is_ok());
    }
}
