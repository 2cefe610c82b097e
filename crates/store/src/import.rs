//! `hets import`: the store's shapes from CSV files, so an operator can bring real data.
//!
//! One file per kind of record, UTF-8 with a header row; columns are named, so their order is
//! free (`docs/import.md` lists them). A beneficiary is one row of `beneficiaries.csv` plus its
//! rows in the nested files (`entitlements.csv`, `msp.csv`, …), keyed by MBI, and is written
//! whole, replacing any stored beneficiary with that MBI.
//!
//! A bad row is refused with its file and line, and never blocks the good rows of the same file.
//! A beneficiary any of whose rows is refused is refused whole (with a message saying why): a
//! beneficiary written without, say, its MSP record would get wrong answers, which is worse than
//! no answer. Messages name the column and the problem, never the value: values are PHI.

use crate::{Relationship, RelationshipStatus, Store, StoreError, codec};
use eligibility::ids::{is_valid_mbi, is_valid_npi};
use eligibility::{
    Address, Beneficiary, BenefitPeriod, CostSharing, EsrdRecord, HomeHealthPeriod, HospiceElection, Instant,
    MaEnrollment, MspRecord, PartDEnrollment, Period, Provider, QmbPeriod, Service, SubmitterSeed, YearUsage,
};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::str::FromStr;
use x12::Date;

/// The kinds of CSV file `hets import` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Beneficiaries,
    Entitlements,
    Usage,
    Services,
    MedicareAdvantage,
    PartD,
    Hospice,
    HomeHealth,
    Msp,
    Esrd,
    Qmb,
    BenefitPeriods,
    Providers,
    Submitters,
    Relationships,
    CostSharing,
}

const ADDRESS: [(&str, bool); 5] =
    [("address_line1", false), ("address_line2", false), ("city", false), ("state", false), ("zip", false)];

impl Kind {
    pub const ALL: [Kind; 16] = [
        Kind::Beneficiaries,
        Kind::Entitlements,
        Kind::Usage,
        Kind::Services,
        Kind::MedicareAdvantage,
        Kind::PartD,
        Kind::Hospice,
        Kind::HomeHealth,
        Kind::Msp,
        Kind::Esrd,
        Kind::Qmb,
        Kind::BenefitPeriods,
        Kind::Providers,
        Kind::Submitters,
        Kind::Relationships,
        Kind::CostSharing,
    ];

    /// The file's conventional name (what `--dir` looks for), without `.csv`; also the command
    /// line flag, with `-` for `_`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Beneficiaries => "beneficiaries",
            Kind::Entitlements => "entitlements",
            Kind::Usage => "usage",
            Kind::Services => "services",
            Kind::MedicareAdvantage => "medicare_advantage",
            Kind::PartD => "part_d",
            Kind::Hospice => "hospice",
            Kind::HomeHealth => "home_health",
            Kind::Msp => "msp",
            Kind::Esrd => "esrd",
            Kind::Qmb => "qmb",
            Kind::BenefitPeriods => "benefit_periods",
            Kind::Providers => "providers",
            Kind::Submitters => "submitters",
            Kind::Relationships => "relationships",
            Kind::CostSharing => "cost_sharing",
        }
    }

    /// True for the files whose rows belong to a beneficiary of `beneficiaries.csv`.
    pub fn is_nested(self) -> bool {
        !matches!(
            self,
            Kind::Beneficiaries | Kind::Providers | Kind::Submitters | Kind::Relationships | Kind::CostSharing
        )
    }

    /// The columns, each with whether it is required (a required column must be in the header
    /// and non-empty on every row).
    pub fn columns(self) -> Vec<(&'static str, bool)> {
        let mut c: Vec<(&'static str, bool)> = match self {
            Kind::Beneficiaries => vec![
                ("mbi", true),
                ("last_name", true),
                ("first_name", true),
                ("middle_initial", false),
                ("name_suffix", false),
                ("birth_date", true),
                ("gender", true),
                ("date_of_death", false),
                ("lifetime_reserve_days_used", false),
            ],
            Kind::Entitlements => vec![("mbi", true), ("part", true), ("from", true), ("to", false)],
            Kind::Usage => vec![
                ("mbi", true),
                ("year", true),
                ("part_b_deductible_met", false),
                ("pt_slp_used", false),
                ("ot_used", false),
                ("smoking_cessation_used", false),
                ("blood_pints_used", false),
                ("pulmonary_rehab_used", false),
                ("cardiac_rehab_used", false),
            ],
            Kind::Services => vec![("mbi", true), ("hcpcs", true), ("date", true), ("npi", true)],
            Kind::MedicareAdvantage => vec![
                ("mbi", true),
                ("contract", true),
                ("pbp", true),
                ("plan_type", true),
                ("bill_option", true),
                ("from", true),
                ("to", false),
                ("plan_name", true),
                ("phone", false),
                ("website", false),
            ],
            Kind::PartD => vec![
                ("mbi", true),
                ("contract", true),
                ("pbp", true),
                ("from", true),
                ("to", false),
                ("plan_name", true),
                ("phone", false),
                ("website", false),
            ],
            Kind::Hospice => vec![
                ("mbi", true),
                ("from", true),
                ("to", false),
                ("npi", true),
                ("revocation_code", true),
                ("benefit_period", true),
            ],
            Kind::HomeHealth => vec![
                ("mbi", true),
                ("from", true),
                ("to", true),
                ("npi", true),
                ("first_billed", true),
                ("last_billed", true),
            ],
            Kind::Msp => {
                vec![("mbi", true), ("type", true), ("from", true), ("to", false), ("payer", true), ("policy", true)]
            }
            Kind::Esrd => vec![
                ("mbi", true),
                ("dialysis_method", true),
                ("from", true),
                ("transplant_discharge", false),
                ("npi", true),
            ],
            Kind::Qmb => vec![("mbi", true), ("from", true), ("to", false), ("state", true)],
            Kind::BenefitPeriods => vec![
                ("mbi", true),
                ("first_billed", true),
                ("last_billed", true),
                ("hospital_days_used", false),
                ("snf_days_used", false),
                ("part_a_deductible_met", false),
            ],
            Kind::Providers => vec![
                ("npi", true),
                ("name", true),
                ("first_name", false),
                ("entity", true),
                ("medicare", true),
                ("enrolled_on", false),
                ("ended_on", false),
            ],
            Kind::Submitters => vec![
                ("id", true),
                ("name", true),
                ("email", true),
                ("status", true),
                ("suspended_until", false),
                ("suspensions", false),
                ("password", true),
            ],
            Kind::Relationships => vec![
                ("submitter_id", true),
                ("npi", true),
                ("status", false),
                ("effective_date", true),
                ("end_date", false),
            ],
            Kind::CostSharing => vec![
                ("year", true),
                ("part_a_deductible", true),
                ("part_a_coinsurance_day_61_90", true),
                ("part_a_lifetime_reserve_day", true),
                ("snf_coinsurance_day_21_100", true),
                ("part_b_deductible", true),
                ("part_b_coinsurance_rate", true),
                ("blood_deductible_pints", true),
                ("smoking_cessation_sessions", true),
                ("pulmonary_rehab_sessions", true),
            ],
        };
        if matches!(self, Kind::Beneficiaries | Kind::MedicareAdvantage | Kind::PartD | Kind::Msp) {
            c.extend(ADDRESS);
        }
        c
    }
}

/// One CSV file to import.
pub struct Input {
    pub kind: Kind,
    /// How messages name the file (its path).
    pub name: String,
    pub reader: Box<dyn Read>,
}

/// A refused row (line 0: the whole file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Rows written, per kind of file (nested rows count when their beneficiary was written).
    pub loaded: Vec<(Kind, u64)>,
    pub refused: Vec<Refusal>,
}

/// Rows per write: large enough to amortise a commit, small enough to keep memory flat.
const BATCH: usize = 10_000;

/// Reads every input, then writes what was accepted. `Err` only when the store fails; bad input
/// is in the report.
pub fn import(store: &dyn Store, inputs: Vec<Input>) -> Result<Report, StoreError> {
    let parsed = parse(inputs);
    let mut loaded = Vec::new();
    store.put_cost_sharing(&parsed.cost_sharing)?;
    for chunk in parsed.providers.chunks(BATCH) {
        store.put_providers(chunk)?;
    }
    for chunk in parsed.submitters.chunks(BATCH) {
        store.put_submitters(chunk)?;
    }
    for chunk in parsed.relationships.chunks(BATCH) {
        store.put_relationships(chunk)?;
    }
    for chunk in parsed.beneficiaries.chunks(BATCH) {
        store.put_beneficiaries(chunk)?;
    }
    for (kind, n) in parsed.seen {
        let n = match kind {
            Kind::Beneficiaries => parsed.beneficiaries.len() as u64,
            Kind::Providers => parsed.providers.len() as u64,
            Kind::Submitters => parsed.submitters.len() as u64,
            Kind::Relationships => parsed.relationships.len() as u64,
            Kind::CostSharing => parsed.cost_sharing.len() as u64,
            _ => parsed.nested_loaded.get(&kind).copied().unwrap_or(n),
        };
        loaded.push((kind, n));
    }
    Ok(Report { loaded, refused: parsed.refused })
}

/// What the files hold, checked, before anything is written.
#[derive(Default)]
pub struct Parsed {
    pub beneficiaries: Vec<Beneficiary>,
    pub providers: Vec<Provider>,
    pub submitters: Vec<SubmitterSeed>,
    pub relationships: Vec<Relationship>,
    pub cost_sharing: Vec<CostSharing>,
    pub refused: Vec<Refusal>,
    /// The kinds that were given, in order.
    seen: Vec<(Kind, u64)>,
    nested_loaded: HashMap<Kind, u64>,
}

/// A beneficiary being assembled: where its row was, and which of its rows were refused.
struct Pending {
    b: Beneficiary,
    file: String,
    line: u64,
    bad_rows: Vec<String>,
    nested: Vec<Kind>,
}

/// Parses and checks every input (beneficiaries first, whatever the order given).
pub fn parse(mut inputs: Vec<Input>) -> Parsed {
    inputs.sort_by_key(|i| i.kind);
    let mut out = Parsed::default();
    let mut pending: Vec<Pending> = Vec::new();
    let mut by_mbi: HashMap<String, usize> = HashMap::new();
    let mut refused_mbis: HashSet<String> = HashSet::new();
    let mut keys: HashMap<(Kind, String), u64> = HashMap::new();

    for input in inputs {
        let kind = input.kind;
        let file = input.name.clone();
        let mut rows = 0u64;
        let refuse = |out: &mut Parsed, line: u64, reason: String| {
            out.refused.push(Refusal { file: file.clone(), line, reason });
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(input.reader);
        let columns = match header(kind, &mut reader) {
            Ok(c) => c,
            Err(reason) => {
                refuse(&mut out, 1, reason);
                out.seen.push((kind, 0));
                continue;
            }
        };
        let width = columns.len();
        let mut record = csv::StringRecord::new();
        loop {
            let line = reader.position().line();
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(line, |p| p.line());
                    refuse(&mut out, line, format!("unreadable row: {}", csv_problem(&e)));
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        break;
                    }
                    continue;
                }
            }
            let line = record.position().map_or(line, |p| p.line());
            if record.iter().all(str::is_empty) {
                continue;
            }
            rows += 1;
            if record.len() != width {
                let reason = format!("{} fields where the header has {width}", record.len());
                refuse(&mut out, line, reason.clone());
                taint_by_row(&mut pending, &by_mbi, kind, &columns, &record, &file, line);
                continue;
            }
            let row = Row { record: &record, columns: &columns };
            // Keys must be unique within a file (nested rows are many per MBI).
            let key = match kind {
                Kind::Beneficiaries => row.opt("mbi").map(str::to_string),
                Kind::Providers => row.opt("npi").map(str::to_string),
                Kind::Submitters => row.opt("id").map(str::to_string),
                Kind::Relationships => {
                    Some(format!("{}|{}", row.opt("submitter_id").unwrap_or(""), row.opt("npi").unwrap_or("")))
                }
                Kind::CostSharing => row.opt("year").map(str::to_string),
                _ => None,
            };
            if let Some(k) = key {
                if let Some(first) = keys.get(&(kind, k.clone())) {
                    refuse(&mut out, line, format!("duplicate of line {first}"));
                    continue;
                }
                keys.insert((kind, k), line);
            }
            let result = match kind {
                Kind::Beneficiaries => beneficiary(&row).map(|b| {
                    by_mbi.insert(b.mbi.clone(), pending.len());
                    pending.push(Pending { b, file: file.clone(), line, bad_rows: Vec::new(), nested: Vec::new() });
                }),
                Kind::Providers => provider(&row).map(|p| out.providers.push(p)),
                Kind::Submitters => submitter(&row).map(|s| out.submitters.push(s)),
                Kind::Relationships => relationship(&row).map(|r| out.relationships.push(r)),
                Kind::CostSharing => cost_sharing(&row).map(|c| out.cost_sharing.push(c)),
                _ => nested(kind, &row, &mut pending, &by_mbi, &refused_mbis, &file, line),
            };
            if let Err(reason) = result {
                if kind == Kind::Beneficiaries
                    && let Some(m) = row.opt("mbi")
                {
                    refused_mbis.insert(m.to_string());
                }
                refuse(&mut out, line, reason);
            }
        }
        out.seen.push((kind, rows));
    }

    for p in pending {
        if p.bad_rows.is_empty() {
            for k in p.nested {
                *out.nested_loaded.entry(k).or_default() += 1;
            }
            out.beneficiaries.push(p.b);
        } else {
            out.refused.push(Refusal {
                file: p.file,
                line: p.line,
                reason: format!("beneficiary refused whole because of its refused rows at {}", p.bad_rows.join(", ")),
            });
        }
    }
    for (kind, _) in &out.seen {
        if kind.is_nested() {
            out.nested_loaded.entry(*kind).or_default();
        }
    }
    out
}

/// The csv crate's message without the record it may quote.
fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_string(),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => format!("{len} fields, expected {expected_len}"),
        _ => "malformed CSV".to_string(),
    }
}

/// Maps column names to positions, or says why the header is refused (the whole file is, then).
fn header<R: Read>(kind: Kind, reader: &mut csv::Reader<R>) -> Result<HashMap<&'static str, usize>, String> {
    let spec = kind.columns();
    let names = reader.headers().map_err(|e| format!("unreadable header: {}", csv_problem(&e)))?.clone();
    let mut columns = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let Some(&(known, _)) = spec.iter().find(|(c, _)| c.eq_ignore_ascii_case(name)) else {
            return Err(format!(
                "unknown column `{name}` in the header; {} files have: {}",
                kind.name(),
                spec.iter().map(|c| c.0).collect::<Vec<_>>().join(",")
            ));
        };
        if columns.insert(known, i).is_some() {
            return Err(format!("column `{known}` appears twice in the header"));
        }
    }
    let missing: Vec<&str> = spec.iter().filter(|(c, req)| *req && !columns.contains_key(c)).map(|c| c.0).collect();
    if !missing.is_empty() {
        return Err(format!("the header lacks required column(s): {}", missing.join(",")));
    }
    Ok(columns)
}

/// A refused row that names an MBI taints its beneficiary.
fn taint_by_row(
    pending: &mut [Pending],
    by_mbi: &HashMap<String, usize>,
    kind: Kind,
    columns: &HashMap<&'static str, usize>,
    record: &csv::StringRecord,
    file: &str,
    line: u64,
) {
    if !kind.is_nested() {
        return;
    }
    let mbi = columns.get("mbi").and_then(|&i| record.get(i)).unwrap_or("");
    if let Some(&i) = by_mbi.get(mbi) {
        pending[i].bad_rows.push(format!("{file}:{line}"));
    }
}

struct Row<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<&'static str, usize>,
}

impl Row<'_> {
    /// The trimmed value, `None` when the column is absent or the cell empty.
    fn opt(&self, col: &str) -> Option<&str> {
        self.columns.get(col).and_then(|&i| self.record.get(i)).filter(|v| !v.is_empty())
    }

    fn req(&self, col: &str) -> Result<&str, String> {
        self.opt(col).ok_or_else(|| format!("{col} is required"))
    }

    fn string(&self, col: &str) -> Result<String, String> {
        self.req(col).map(str::to_string)
    }

    fn opt_string(&self, col: &str) -> Option<String> {
        self.opt(col).map(str::to_string)
    }

    fn date(&self, col: &str) -> Result<Date, String> {
        Date::parse_iso(self.req(col)?).ok_or_else(|| format!("{col} is not a YYYY-MM-DD date"))
    }

    fn opt_date(&self, col: &str) -> Result<Option<Date>, String> {
        self.opt(col).map(|v| Date::parse_iso(v).ok_or_else(|| format!("{col} is not a YYYY-MM-DD date"))).transpose()
    }

    fn num<T: FromStr>(&self, col: &str) -> Result<T, String> {
        self.req(col)?.parse().map_err(|_| format!("{col} is not a number in range"))
    }

    /// A number that defaults to zero when absent or empty.
    fn num_or_zero<T: FromStr + Default>(&self, col: &str) -> Result<T, String> {
        match self.opt(col) {
            Some(v) => v.parse().map_err(|_| format!("{col} is not a number in range")),
            None => Ok(T::default()),
        }
    }

    fn amount(&self, col: &str) -> Result<f64, String> {
        let v: f64 = self.num_or_zero(col)?;
        if v.is_finite() && v >= 0.0 { Ok(v) } else { Err(format!("{col} must be zero or more")) }
    }

    fn required_amount(&self, col: &str) -> Result<f64, String> {
        self.req(col)?;
        self.amount(col)
    }

    fn mbi(&self) -> Result<String, String> {
        let m = self.req("mbi")?;
        if is_valid_mbi(m.as_bytes()) { Ok(m.to_string()) } else { Err("mbi is not in MBI format".to_string()) }
    }

    fn npi(&self, col: &str) -> Result<String, String> {
        let n = self.req(col)?;
        if is_valid_npi(n.as_bytes()) {
            Ok(n.to_string())
        } else {
            Err(format!("{col} is not a valid NPI (10 digits with the Luhn check digit)"))
        }
    }

    /// `from` and an optional `to` that is not before it.
    fn span(&self, from: &str, to: &str) -> Result<(Date, Option<Date>), String> {
        let f = self.date(from)?;
        let t = self.opt_date(to)?;
        if t.is_some_and(|t| t < f) {
            return Err(format!("{to} is before {from}"));
        }
        Ok((f, t))
    }

    /// The address columns: all of line 1, city, state and zip, or none.
    fn address(&self) -> Result<Option<Address>, String> {
        let any = ADDRESS.iter().any(|(c, _)| self.opt(c).is_some());
        if !any {
            return Ok(None);
        }
        let state = self.string("state").map_err(|_| "an address needs address_line1, city, state and zip".to_string());
        Ok(Some(Address {
            line1: self.string("address_line1").map_err(|_| "an address needs address_line1, city, state and zip")?,
            line2: self.opt_string("address_line2"),
            city: self.string("city").map_err(|_| "an address needs address_line1, city, state and zip")?,
            state: state?,
            zip: self.string("zip").map_err(|_| "an address needs address_line1, city, state and zip")?,
        }))
    }
}

fn one_of(col: &str, v: &str, allowed: &[&str]) -> Result<String, String> {
    if allowed.contains(&v) { Ok(v.to_string()) } else { Err(format!("{col} must be one of {}", allowed.join(", "))) }
}

fn beneficiary(row: &Row<'_>) -> Result<Beneficiary, String> {
    let birth = row.date("birth_date")?;
    let death = row.opt_date("date_of_death")?;
    if death.is_some_and(|d| d < birth) {
        return Err("date_of_death is before birth_date".to_string());
    }
    Ok(Beneficiary {
        key: String::new(),
        mbi: row.mbi()?,
        last_name: row.string("last_name")?,
        first_name: row.string("first_name")?,
        middle_initial: row.opt_string("middle_initial"),
        name_suffix: row.opt_string("name_suffix"),
        birth_date: Some(birth),
        gender: one_of("gender", row.req("gender")?, &["F", "M", "U"])?,
        date_of_death: death,
        address: row.address()?,
        lifetime_reserve_days_used: row.num_or_zero("lifetime_reserve_days_used")?,
        ..Beneficiary::default()
    })
}

/// A nested row: checked, then attached to its beneficiary.
fn nested(
    kind: Kind,
    row: &Row<'_>,
    pending: &mut [Pending],
    by_mbi: &HashMap<String, usize>,
    refused_mbis: &HashSet<String>,
    file: &str,
    line: u64,
) -> Result<(), String> {
    let mbi = row.mbi()?;
    let Some(&i) = by_mbi.get(&mbi) else {
        return Err(if refused_mbis.contains(&mbi) {
            "its beneficiary's row was refused".to_string()
        } else {
            "no beneficiary with this mbi in the beneficiaries file".to_string()
        });
    };
    let p = &mut pending[i];
    let result = attach(kind, row, &mut p.b);
    match &result {
        Ok(()) => p.nested.push(kind),
        Err(_) => p.bad_rows.push(format!("{file}:{line}")),
    }
    result
}

fn attach(kind: Kind, row: &Row<'_>, b: &mut Beneficiary) -> Result<(), String> {
    match kind {
        Kind::Entitlements => {
            let (from, to) = row.span("from", "to")?;
            match row.req("part")? {
                "A" | "a" => b.part_a.push(Period { from, to }),
                "B" | "b" => b.part_b.push(Period { from, to }),
                _ => return Err("part must be A or B".to_string()),
            }
        }
        Kind::Usage => {
            let year: u16 = row.num("year")?;
            if b.usage.iter().any(|u| u.year == year) {
                return Err("a second usage row for the same year".to_string());
            }
            b.usage.push(YearUsage {
                year,
                part_b_deductible_met: row.amount("part_b_deductible_met")?,
                pt_slp_used: row.amount("pt_slp_used")?,
                ot_used: row.amount("ot_used")?,
                smoking_cessation_used: row.num_or_zero("smoking_cessation_used")?,
                blood_pints_used: row.num_or_zero("blood_pints_used")?,
                pulmonary_rehab_used: row.num_or_zero("pulmonary_rehab_used")?,
                cardiac_rehab_used: row.num_or_zero("cardiac_rehab_used")?,
            });
        }
        Kind::Services => {
            let hcpcs = row.req("hcpcs")?;
            if hcpcs.len() != 5 || !hcpcs.bytes().all(|c| c.is_ascii_alphanumeric()) {
                return Err("hcpcs must be 5 letters or digits".to_string());
            }
            b.services.push(Service {
                hcpcs: hcpcs.to_ascii_uppercase(),
                date: row.date("date")?,
                npi: row.npi("npi")?,
            });
        }
        Kind::MedicareAdvantage => {
            let (from, to) = row.span("from", "to")?;
            b.medicare_advantage.push(MaEnrollment {
                contract: row.string("contract")?,
                pbp: row.string("pbp")?,
                plan_type: one_of("plan_type", row.req("plan_type")?, &["HM", "HN", "IN", "PR", "PS"])?,
                bill_option: one_of("bill_option", row.req("bill_option")?, &["A", "B", "C", "1", "2"])?,
                from,
                to,
                plan_name: row.string("plan_name")?,
                address: row.address()?,
                phone: row.opt_string("phone"),
                website: row.opt_string("website"),
            });
        }
        Kind::PartD => {
            let (from, to) = row.span("from", "to")?;
            b.part_d.push(PartDEnrollment {
                contract: row.string("contract")?,
                pbp: row.string("pbp")?,
                from,
                to,
                plan_name: row.string("plan_name")?,
                address: row.address()?,
                phone: row.opt_string("phone"),
                website: row.opt_string("website"),
            });
        }
        Kind::Hospice => {
            let (from, to) = row.span("from", "to")?;
            b.hospice.push(HospiceElection {
                from,
                to,
                npi: row.npi("npi")?,
                revocation_code: one_of("revocation_code", row.req("revocation_code")?, &["0", "1", "2", "3"])?,
                benefit_period: row.num("benefit_period")?,
            });
        }
        Kind::HomeHealth => {
            let (from, to) = row.span("from", "to")?;
            let (first_billed, last_billed) = row.span("first_billed", "last_billed")?;
            b.home_health.push(HomeHealthPeriod {
                from,
                to: to.unwrap_or(from),
                npi: row.npi("npi")?,
                first_billed,
                last_billed: last_billed.unwrap_or(first_billed),
            });
        }
        Kind::Msp => {
            let (from, to) = row.span("from", "to")?;
            b.msp.push(MspRecord {
                msp_type: row.string("type")?,
                from,
                to,
                payer: row.string("payer")?,
                policy: row.string("policy")?,
                address: row.address()?,
            });
        }
        Kind::Esrd => {
            let (from, transplant_discharge) = row.span("from", "transplant_discharge")?;
            b.esrd.push(EsrdRecord {
                dialysis_method: one_of("dialysis_method", row.req("dialysis_method")?, &["14", "15", "16"])?,
                from,
                transplant_discharge,
                npi: row.npi("npi")?,
            });
        }
        Kind::Qmb => {
            let (from, to) = row.span("from", "to")?;
            b.qmb.push(QmbPeriod { from, to, state: row.string("state")? });
        }
        Kind::BenefitPeriods => {
            let (first_billed, last_billed) = row.span("first_billed", "last_billed")?;
            b.benefit_periods.push(BenefitPeriod {
                first_billed,
                last_billed: last_billed.unwrap_or(first_billed),
                hospital_days_used: row.num_or_zero("hospital_days_used")?,
                snf_days_used: row.num_or_zero("snf_days_used")?,
                part_a_deductible_met: row.amount("part_a_deductible_met")?,
            });
        }
        Kind::Beneficiaries | Kind::Providers | Kind::Submitters | Kind::Relationships | Kind::CostSharing => {
            return Err("not a beneficiary's record".to_string());
        }
    }
    Ok(())
}

fn provider(row: &Row<'_>) -> Result<Provider, String> {
    let entity = row.req("entity")?;
    let medicare = row.req("medicare")?;
    let (enrolled_on, ended_on) = (row.opt_date("enrolled_on")?, row.opt_date("ended_on")?);
    if let (Some(from), Some(to)) = (enrolled_on, ended_on)
        && to < from
    {
        return Err("ended_on is before enrolled_on".to_string());
    }
    Ok(Provider {
        npi: row.npi("npi")?,
        name: row.string("name")?,
        first_name: row.opt_string("first_name"),
        entity: codec::parse_entity(entity).ok_or("entity must be person or organization")?,
        medicare: codec::parse_enrollment(medicare)
            .ok_or("medicare must be active, terminated, revoked or not_enrolled")?,
        enrolled_on,
        ended_on,
    })
}

fn submitter(row: &Row<'_>) -> Result<SubmitterSeed, String> {
    let status = row.req("status")?;
    let until = row.opt("suspended_until");
    if let Some(t) = until {
        Instant::parse_rfc3339(t).map_err(|_| "suspended_until is not an RFC 3339 instant".to_string())?;
    }
    Ok(SubmitterSeed {
        id: row.string("id")?,
        name: row.string("name")?,
        email: row.string("email")?,
        status: codec::parse_submitter_status(status)
            .ok_or("status must be active, suspended, terminated or permanently_terminated")?,
        suspended_until: until.map(str::to_string),
        suspensions: row.num_or_zero("suspensions")?,
        password: row.string("password")?,
        npis: Vec::new(),
    })
}

fn relationship(row: &Row<'_>) -> Result<Relationship, String> {
    let (effective, end) = row.span("effective_date", "end_date")?;
    Ok(Relationship {
        submitter: row.string("submitter_id")?,
        npi: row.npi("npi")?,
        status: match row.opt("status") {
            None => RelationshipStatus::Active,
            Some(s) => RelationshipStatus::parse(s).ok_or("status must be active or suspended")?,
        },
        effective,
        end,
    })
}

fn cost_sharing(row: &Row<'_>) -> Result<CostSharing, String> {
    Ok(CostSharing {
        year: row.num("year")?,
        part_a_deductible: row.required_amount("part_a_deductible")?,
        part_a_coinsurance_day_61_90: row.required_amount("part_a_coinsurance_day_61_90")?,
        part_a_lifetime_reserve_day: row.required_amount("part_a_lifetime_reserve_day")?,
        snf_coinsurance_day_21_100: row.required_amount("snf_coinsurance_day_21_100")?,
        part_b_deductible: row.required_amount("part_b_deductible")?,
        part_b_coinsurance_rate: row.required_amount("part_b_coinsurance_rate")?,
        blood_deductible_pints: row.num("blood_deductible_pints")?,
        smoking_cessation_sessions: row.num("smoking_cessation_sessions")?,
        pulmonary_rehab_sessions: row.num("pulmonary_rehab_sessions")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(kind: Kind, text: &str) -> Input {
        Input { kind, name: format!("{}.csv", kind.name()), reader: Box::new(std::io::Cursor::new(text.to_string())) }
    }

    #[test]
    fn good_rows_load_and_bad_rows_are_refused_with_their_line() {
        let parsed = parse(vec![
            input(
                Kind::Entitlements,
                "mbi,part,from,to\n2DG9NX3WK42,A,2016-03-01,\n2DG9NX3WK42,B,2016-03-01,\n4VQ3C55WU99,C,2019-09-01,\n",
            ),
            input(
                Kind::Beneficiaries,
                "mbi,last_name,first_name,birth_date,gender,address_line1,city,state,zip\n\
                 2DG9NX3WK42,HARTWELL,MARGARET,1951-03-14,F,412 ELM ST,TOWSON,MD,21204\n\
                 4VQ3C55WU99,OKAFOR,DANIEL,1954-09-02,M,,,,\n\
                 BADMBI,X,Y,1950-01-01,M,,,,\n\
                 2DG9NX3WK42,DUP,DUP,1950-01-01,F,,,,\n",
            ),
            input(Kind::Msp, "mbi,type,from,payer,policy\n1EG4TE5MK73,12,2023-03-01,ACME,G1\n"),
        ]);
        assert_eq!(parsed.beneficiaries.len(), 1);
        let b = &parsed.beneficiaries[0];
        assert_eq!(b.mbi, "2DG9NX3WK42");
        assert_eq!(b.part_a.len(), 1);
        assert_eq!(b.part_b.len(), 1);
        assert_eq!(b.address.as_ref().map(|a| a.zip.as_str()), Some("21204"));
        let refused: Vec<(String, u64)> = parsed.refused.iter().map(|r| (r.file.clone(), r.line)).collect();
        assert!(refused.contains(&("beneficiaries.csv".into(), 4)), "{:?}", parsed.refused);
        assert!(refused.contains(&("beneficiaries.csv".into(), 5)), "{:?}", parsed.refused);
        assert!(refused.contains(&("entitlements.csv".into(), 4)), "{:?}", parsed.refused);
        // The MBI of OKAFOR had a bad row: refused whole, at its own line, saying why.
        let whole = parsed.refused.iter().find(|r| r.file == "beneficiaries.csv" && r.line == 3).unwrap();
        assert!(whole.reason.contains("entitlements.csv:4"), "{}", whole.reason);
        assert!(refused.contains(&("msp.csv".into(), 2)));
        // Reasons never quote values.
        for r in &parsed.refused {
            assert!(!r.reason.contains("BADMBI") && !r.reason.contains("OKAFOR"), "{}", r.reason);
        }
    }

    #[test]
    fn headers_are_checked() {
        let parsed =
            parse(vec![input(Kind::Providers, "npi,nmae,entity,medicare\n1125213722,X,organization,active\n")]);
        assert_eq!(parsed.providers.len(), 0);
        assert_eq!(parsed.refused.len(), 1);
        assert!(parsed.refused[0].reason.contains("unknown column `nmae`"));
        let parsed = parse(vec![input(Kind::Providers, "npi,entity,medicare\n1125213722,organization,active\n")]);
        assert!(parsed.refused[0].reason.contains("lacks required column(s): name"));
    }

    #[test]
    fn every_kind_parses() {
        let parsed = parse(vec![
            input(
                Kind::Beneficiaries,
                "mbi,last_name,first_name,middle_initial,name_suffix,birth_date,gender,date_of_death,lifetime_reserve_days_used\n\
                 2DG9NX3WK42,HARTWELL,MARGARET,E,,1951-03-14,F,,15\n",
            ),
            input(Kind::Usage, "mbi,year,part_b_deductible_met,smoking_cessation_used\n2DG9NX3WK42,2026,200.00,2\n"),
            input(Kind::Services, "mbi,hcpcs,date,npi\n2DG9NX3WK42,G0438,2017-04-20,1125213722\n"),
            input(
                Kind::MedicareAdvantage,
                "mbi,contract,pbp,plan_type,bill_option,from,to,plan_name,phone,website,address_line1,city,state,zip\n\
                 2DG9NX3WK42,H4321,012,HN,C,2024-01-01,,BLUE HARBOR,8005550101,www.x.example,PO BOX 1,BALTIMORE,MD,21203\n",
            ),
            input(Kind::PartD, "mbi,contract,pbp,from,plan_name\n2DG9NX3WK42,S5810,003,2025-01-01,SUMMIT RX\n"),
            input(
                Kind::Hospice,
                "mbi,from,npi,revocation_code,benefit_period\n2DG9NX3WK42,2026-09-15,1766542546,0,1\n",
            ),
            input(
                Kind::HomeHealth,
                "mbi,from,to,npi,first_billed,last_billed\n2DG9NX3WK42,2026-10-01,2026-10-30,2117840019,2026-10-01,2026-10-30\n",
            ),
            input(Kind::Esrd, "mbi,dialysis_method,from,npi\n2DG9NX3WK42,15,2021-03-15,2273316937\n"),
            input(Kind::Qmb, "mbi,from,state\n2DG9NX3WK42,2024-01-01,MD\n"),
            input(
                Kind::BenefitPeriods,
                "mbi,first_billed,last_billed,hospital_days_used\n2DG9NX3WK42,2026-08-01,2026-09-14,20\n",
            ),
            input(
                Kind::Providers,
                "npi,name,first_name,entity,medicare,enrolled_on,ended_on\n1660947684,CHEN,ALICE,person,active,2018-07-15,\n",
            ),
            input(
                Kind::Submitters,
                "id,name,email,status,suspended_until,suspensions,password\nWX1,X,x@x.example,suspended,2026-11-17T12:00:00Z,1,pw\n",
            ),
            input(Kind::Relationships, "submitter_id,npi,effective_date\nWX1,1660947684,2020-01-01\n"),
            input(
                Kind::CostSharing,
                "year,part_a_deductible,part_a_coinsurance_day_61_90,part_a_lifetime_reserve_day,snf_coinsurance_day_21_100,part_b_deductible,part_b_coinsurance_rate,blood_deductible_pints,smoking_cessation_sessions,pulmonary_rehab_sessions\n\
                 2026,1736,434,868,217,283,0.2,3,8,72\n",
            ),
        ]);
        assert!(parsed.refused.is_empty(), "{:?}", parsed.refused);
        let b = &parsed.beneficiaries[0];
        assert_eq!(b.lifetime_reserve_days_used, 15);
        assert_eq!(b.usage[0].smoking_cessation_used, 2);
        assert_eq!(b.medicare_advantage[0].address.as_ref().map(|a| a.city.as_str()), Some("BALTIMORE"));
        assert_eq!(
            (b.services.len(), b.part_d.len(), b.hospice.len(), b.home_health.len(), b.esrd.len(), b.qmb.len()),
            (1, 1, 1, 1, 1, 1)
        );
        assert_eq!(b.benefit_periods[0].hospital_days_used, 20);
        assert_eq!(parsed.providers[0].first_name.as_deref(), Some("ALICE"));
        assert_eq!(parsed.submitters[0].suspensions, 1);
        assert_eq!(parsed.relationships[0].status, RelationshipStatus::Active);
        assert_eq!(parsed.cost_sharing[0].part_b_deductible, 283.0);
    }
}
