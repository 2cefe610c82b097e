//! HDT Batch (D16): a submitter's relationships in bulk, as a CSV file, answered by a result
//! file that repeats every row with its status and reason.
//!
//! The upload name follows the convention of the release in force at the upload instant
//! (`hdt_batch_name` in `config/releases/*.toml`; `{ID}_HDTB_{YYYYMMDD}_{NNN}.csv` since
//! R2020Q100, `{ID}_HDT_{YYYYMMDD}.csv` before) and must name the uploading submitter. The file
//! is UTF-8 with the header `action,npi,effective_date,end_date`. Each row is checked on its
//! own: one bad row never blocks the good rows, which are all applied in one store transaction.
//! During an HDT freeze (D12) the whole file is refused.
//!
//! Rules per row, in this order (the first failure is the reason):
//! 1. four fields; action `ADD`, `EDIT` or `DELETE` (any case);
//! 2. the NPI: ten digits, check digit;
//! 3. the NPI appears on no earlier row of the file (the earlier row decides, whatever it got);
//! 4. ADD and EDIT: effective date `YYYY-MM-DD`, end date empty or a date not before it;
//! 5. ADD and EDIT: the NPI's Medicare enrollment is active;
//! 6. ADD: no relationship with the NPI yet; EDIT and DELETE: one exists; DELETE: it is not
//!    suspended by compliance (D15).

use super::{DesktopError, DesktopService, Principal, dates, enrollment_problem, freeze_message, npi_format_problem};
use eligibility::Instant;
use std::collections::{HashMap, hash_map::Entry};
use store::{BatchResult, Relationship, RelationshipStatus};

/// The header a batch file starts with.
pub const HEADER: [&str; 4] = ["action", "npi", "effective_date", "end_date"];

/// The largest batch file accepted, in bytes (about 200,000 rows).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// How many of a submitter's latest results the pages and the API list.
pub const KEPT_IN_LISTS: u32 = 20;

/// Who uploaded what, and when.
struct Upload<'a> {
    username: &'a str,
    file_name: &'a str,
    at: Instant,
}

/// The answer to one upload.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BatchOutcome {
    /// `<same stem>_RESULTS.csv`.
    pub result_name: String,
    /// The result file: the header plus `status,reason`, then every row with its verdict.
    pub result_csv: String,
    pub accepted: u32,
    pub rejected: u32,
}

/// What one good row does.
enum Change {
    Put(Relationship),
    Delete(String),
}

/// Checks an upload name against the convention `pattern` for `submitter`; returns the stem
/// (the name without `.csv`) or the reason it is refused.
pub fn check_name(pattern: &str, name: &str, submitter: &str) -> Result<String, String> {
    let refuse = |why: &str| {
        Err(format!(
            "the file name `{name}` is refused: {why}; the convention in force is `{pattern}`, e.g. `{}`",
            pattern.replace("{ID}", submitter).replace("{YYYYMMDD}", "20260301").replace("{NNN}", "001")
        ))
    };
    let mut rest = name;
    let mut named = None;
    let mut p = pattern;
    while !p.is_empty() {
        if let Some(after) = p.strip_prefix("{ID}") {
            // The id runs up to the next literal of the pattern (ids have no `_`).
            let end = rest.find('_').unwrap_or(rest.len());
            named = Some(&rest[..end]);
            rest = &rest[end..];
            p = after;
        } else if let Some(after) = p.strip_prefix("{YYYYMMDD}") {
            let Some(digits) = rest.get(..8).filter(|d| d.bytes().all(|b| b.is_ascii_digit())) else {
                return refuse("the date must be 8 digits, YYYYMMDD");
            };
            if x12::Date::parse_ccyymmdd(digits.as_bytes()).is_none() {
                return refuse("the date is not a calendar date");
            }
            rest = &rest[8..];
            p = after;
        } else if let Some(after) = p.strip_prefix("{NNN}") {
            if !rest.get(..3).is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit())) {
                return refuse("the sequence number must be 3 digits");
            }
            rest = &rest[3..];
            p = after;
        } else {
            let lit_end = p.find('{').unwrap_or(p.len());
            let lit = &p[..lit_end];
            match rest.strip_prefix(lit) {
                Some(r) => rest = r,
                None => return refuse(&format!("expected `{lit}` where the name has `{}`", truncate(rest, 12))),
            }
            p = &p[lit_end..];
        }
    }
    if !rest.is_empty() {
        return refuse(&format!("unexpected `{}` at the end", truncate(rest, 12)));
    }
    match named {
        Some(id) if id == submitter => {}
        Some(id) => {
            return Err(format!(
                "the file name `{name}` names submitter `{id}`, but the upload is for submitter {submitter}"
            ));
        }
        None => {}
    }
    Ok(name.strip_suffix(".csv").unwrap_or(name).to_string())
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl DesktopService {
    /// Processes one HDT Batch file for submitter `id`: every good row applied (in one store
    /// transaction), every bad row reported, and the result file returned.
    pub fn upload_batch(
        &self,
        p: &Principal,
        id: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<BatchOutcome, DesktopError> {
        self.submitter_for(p, id)?;
        let now = self.now();
        let convention = self.batch_convention_at(now);
        let stem = check_name(&convention.pattern, file_name, id).map_err(DesktopError::Invalid)?;
        if let Some(w) = self.store.freeze_windows(now)?.into_iter().find(|w| w.starts <= now) {
            return Err(DesktopError::Conflict(format!("the batch file is refused: {}", freeze_message(&w))));
        }
        if bytes.len() > MAX_BYTES {
            return Err(DesktopError::Invalid(format!("the batch file is larger than {MAX_BYTES} bytes")));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| DesktopError::Invalid(format!("the batch file is not UTF-8 (byte {})", e.valid_up_to())))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let started = std::time::Instant::now();
        let upload = Upload { username: p.username(), file_name, at: now };
        let outcome = self.process(id, &stem, text, &upload)?;
        tracing::info!(
            user = %p.username(),
            submitter = id,
            accepted = outcome.accepted,
            rejected = outcome.rejected,
            millis = started.elapsed().as_millis() as u64,
            "HDT Batch processed"
        );
        Ok(outcome)
    }

    /// One submitter's latest batch results (newest first), without their files.
    pub fn batch_results(&self, p: &Principal, id: &str) -> Result<Vec<BatchResult>, DesktopError> {
        self.submitter_for(p, id)?;
        Ok(self.store.batch_results(id, KEPT_IN_LISTS)?)
    }

    /// One of a submitter's result files by name (the latest of that name).
    pub fn batch_result(&self, p: &Principal, id: &str, result_name: &str) -> Result<BatchResult, DesktopError> {
        self.submitter_for(p, id)?;
        self.store
            .batch_result(id, result_name)?
            .ok_or_else(|| DesktopError::NotFound(format!("{id} has no result file {result_name}")))
    }

    fn process(&self, id: &str, stem: &str, text: &str, upload: &Upload<'_>) -> Result<BatchOutcome, DesktopError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut records = reader.records();
        let header = match records.next() {
            Some(Ok(h)) => h,
            Some(Err(e)) => return Err(DesktopError::Invalid(format!("the header row cannot be read: {e}"))),
            None => return Err(DesktopError::Invalid("the batch file is empty".into())),
        };
        let names: Vec<String> = header.iter().map(str::to_ascii_lowercase).collect();
        if names != HEADER {
            return Err(DesktopError::Invalid(format!(
                "the header row must be `{}`; it is `{}`",
                HEADER.join(","),
                header.iter().collect::<Vec<_>>().join(",")
            )));
        }
        let existing: HashMap<String, Relationship> =
            self.store.relationships_of(id)?.into_iter().map(|r| (r.npi.clone(), r)).collect();
        // Enrollment per NPI, read once each.
        let mut enrollment: HashMap<String, Option<eligibility::Enrollment>> = HashMap::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        let mut rows: Vec<([String; 4], Result<Change, String>)> = Vec::new();
        for record in records {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    rows.push((Default::default(), Err(format!("line {line} cannot be read as CSV"))));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line());
            let fields: [String; 4] = std::array::from_fn(|i| record.get(i).unwrap_or("").to_string());
            let verdict = (|| {
                if record.len() != 4 {
                    return Err(format!("expected 4 fields ({}), found {}", HEADER.join(","), record.len()));
                }
                let [action, npi, effective, end] = &fields;
                let action = action.to_ascii_uppercase();
                if !matches!(action.as_str(), "ADD" | "EDIT" | "DELETE") {
                    return Err(format!("unknown action `{action}`: use ADD, EDIT or DELETE"));
                }
                if let Some(m) = npi_format_problem(npi) {
                    return Err(m);
                }
                match seen.entry(npi.clone()) {
                    Entry::Occupied(first) => {
                        return Err(format!(
                            "duplicate: NPI {npi} is on an earlier row of this file (line {})",
                            first.get()
                        ));
                    }
                    Entry::Vacant(v) => {
                        v.insert(line);
                    }
                }
                let current = existing.get(npi.as_str());
                if action == "DELETE" {
                    return match current {
                        None => Err(format!("no relationship with NPI {npi} to delete")),
                        Some(r) if r.status != RelationshipStatus::Active => Err(format!(
                            "the relationship with NPI {npi} is {}; it cannot be deleted until a CAP is accepted",
                            r.status.as_str()
                        )),
                        Some(_) => Ok(Change::Delete(npi.clone())),
                    };
                }
                let (effective, end) = dates(effective, Some(end))?;
                let medicare = match enrollment.get(npi.as_str()) {
                    Some(e) => *e,
                    None => {
                        let e = self
                            .store
                            .provider(npi)
                            .map_err(|_| "the provider registry could not be read".to_string())?
                            .map(|p| p.medicare);
                        enrollment.insert(npi.clone(), e);
                        e
                    }
                };
                if let Some(m) = enrollment_problem(npi, medicare) {
                    return Err(m);
                }
                match (action.as_str(), current) {
                    ("ADD", Some(_)) => Err(format!("a relationship with NPI {npi} exists already: use EDIT")),
                    ("EDIT", None) => Err(format!("no relationship with NPI {npi} to edit: use ADD")),
                    (_, current) => Ok(Change::Put(Relationship {
                        submitter: id.to_string(),
                        npi: npi.clone(),
                        // Editing dates keeps a compliance status as it is.
                        status: current.map_or(RelationshipStatus::Active, |r| r.status),
                        effective,
                        end,
                    })),
                }
            })();
            rows.push((fields, verdict));
        }
        let mut put = Vec::new();
        let mut delete = Vec::new();
        for (_, v) in &rows {
            match v {
                Ok(Change::Put(r)) => put.push(r.clone()),
                Ok(Change::Delete(npi)) => delete.push(npi.clone()),
                Err(_) => {}
            }
        }
        let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
        let (mut accepted, mut rejected) = (0, 0);
        let write = |out: &mut csv::Writer<Vec<u8>>, fields: &[&str]| {
            out.write_record(fields).map_err(|e| DesktopError::Invalid(format!("writing the result file: {e}")))
        };
        write(&mut out, &["action", "npi", "effective_date", "end_date", "status", "reason"])?;
        for (f, v) in &rows {
            let (status, reason) = match v {
                Ok(_) => {
                    accepted += 1;
                    ("ACCEPTED", "")
                }
                Err(why) => {
                    rejected += 1;
                    ("REJECTED", why.as_str())
                }
            };
            write(&mut out, &[&f[0], &f[1], &f[2], &f[3], status, reason])?;
        }
        let bytes = out.into_inner().map_err(|e| DesktopError::Invalid(format!("writing the result file: {e}")))?;
        let outcome = BatchOutcome {
            result_name: format!("{stem}_RESULTS.csv"),
            result_csv: String::from_utf8_lossy(&bytes).into_owned(),
            accepted,
            rejected,
        };
        // The good rows and the result file in one transaction: a kept result file always tells
        // what was applied, and it can be downloaded later, from any session or node.
        let kept = BatchResult {
            id: 0,
            submitter: id.to_string(),
            username: upload.username.to_string(),
            file_name: upload.file_name.to_string(),
            result_name: outcome.result_name.clone(),
            at: upload.at,
            accepted,
            rejected,
            result_csv: outcome.result_csv.clone(),
        };
        self.store.write_batch(id, &put, &delete, &kept)?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const NOW: &str = "{ID}_HDTB_{YYYYMMDD}_{NNN}.csv";

    #[test]
    fn names_follow_the_convention_and_the_submitter() {
        assert_eq!(
            check_name(NOW, "WDEMO001_HDTB_20261123_001.csv", "WDEMO001").unwrap(),
            "WDEMO001_HDTB_20261123_001"
        );
        let other = check_name(NOW, "WDEMO002_HDTB_20261123_001.csv", "WDEMO001").unwrap_err();
        assert!(other.contains("names submitter `WDEMO002`"), "{other}");
        for bad in [
            "WDEMO001_HDTB_20261123_01.csv",
            "WDEMO001_HDTB_20261323_001.csv",
            "WDEMO001_HDT_20261123.csv",
            "WDEMO001_HDTB_20261123_001.txt",
            "WDEMO001_HDTB_20261123_001.csv.exe",
            "",
        ] {
            let e = check_name(NOW, bad, "WDEMO001").unwrap_err();
            assert!(e.contains("WDEMO001_HDTB_20260301_001.csv"), "{e}");
        }
        let before = "{ID}_HDT_{YYYYMMDD}.csv";
        assert_eq!(check_name(before, "WDEMO001_HDT_20200301.csv", "WDEMO001").unwrap(), "WDEMO001_HDT_20200301");
        assert!(check_name(before, "WDEMO001_HDTB_20200301_001.csv", "WDEMO001").is_err());
    }
}
