//! Reports from the transaction record: what each submitter sent (volume, valid-NPI share, AAA
//! share and codes, status) and how available the system was (response times per month against
//! CORE's 20 s, scheduled downtime per week against CORE's 86%).
//!
//! Reports carry submitter ids and names, counts and shares only: never an MBI, a beneficiary
//! name or a date of birth. Periods are `from..to` (`to` excluded) in UTC, like
//! [`Store::scan_transactions`].

use crate::audit::{Policy, Tally};
use eligibility::{Instant, SubmitterStatus};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use store::{Store, StoreError, Submitter};
use x12::Date;

/// CORE real-time response time: at least 90% of responses within 20 s.
pub const CORE_RESPONSE_TARGET_PER_MILLE: u64 = 900;
/// CORE system availability: at least 86% of each calendar week.
pub const CORE_AVAILABILITY_TARGET_PERCENT: i64 = 86;

const WEEK_SECONDS: i64 = 7 * 86_400;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the report period is empty: it must end after it starts")]
    EmptyPeriod,
    #[error("reading the transaction record: {0}")]
    Store(#[from] StoreError),
    #[error("writing CSV: {0}")]
    Csv(String),
}

/// One submitter's line of the submitter report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SubmitterRow {
    pub id: String,
    pub name: String,
    /// `active`, `suspended`, `terminated` or `permanently_terminated`, as of the report.
    pub status: &'static str,
    /// Transactions in the period (every 271, 999 and TA1).
    pub volume: u64,
    /// Transactions not answered with AAA 43, 50 or 51 / all transactions; `None` without
    /// transactions (nothing to judge).
    pub valid_npi_share: Option<f64>,
    /// 271s carrying an AAA / all 271s; `None` without 271s.
    pub aaa_share: Option<f64>,
    /// 271s (with or without AAA): the denominator of the AAA share.
    pub responses: u64,
    pub invalid_npi: u64,
    pub aaa_responses: u64,
    /// How many times each AAA03 code was answered.
    pub aaa_by_code: BTreeMap<String, u64>,
    /// Inquiries asking for service type A7 (psychiatric inpatient).
    pub a7: u64,
}

/// The submitter report: every submitter, also those that sent nothing, by id.
///
/// `as_of` is the instant the status is read at: a timed suspension that has ended by then reads
/// `active` (the store keeps `suspended` until the next transition).
pub fn submitters_report(
    store: &dyn Store,
    from: Instant,
    to: Instant,
    as_of: Instant,
    policy: &Policy,
) -> Result<Vec<SubmitterRow>, ReportError> {
    if to <= from {
        return Err(ReportError::EmptyPeriod);
    }
    let mut rows = Vec::new();
    for submitter in store.submitters()? {
        // The period is scanned from its start, so every record counts (none is only context for
        // repeated-inquiry windows).
        let mut tally = Tally::new(i64::MIN);
        store.scan_transactions(&submitter.id, from, to, &mut |r| tally.add(r))?;
        let f = tally.finish(policy);
        rows.push(SubmitterRow {
            status: status_as_of(&submitter, as_of),
            id: submitter.id,
            name: submitter.name,
            volume: f.transactions,
            valid_npi_share: (f.transactions > 0).then(|| f.valid_npi_share()),
            aaa_share: (f.responses > 0).then(|| f.aaa_share()),
            responses: f.responses,
            invalid_npi: f.invalid_npi,
            aaa_responses: f.aaa_responses,
            aaa_by_code: f.aaa_by_code,
            a7: f.a7,
        });
    }
    Ok(rows)
}

fn status_as_of(s: &Submitter, as_of: Instant) -> &'static str {
    match s.status {
        SubmitterStatus::Active => "active",
        SubmitterStatus::Suspended if s.suspended_until.is_some_and(|until| until <= as_of) => "active",
        SubmitterStatus::Suspended => "suspended",
        SubmitterStatus::Terminated => "terminated",
        SubmitterStatus::PermanentlyTerminated => "permanently_terminated",
    }
}

/// Response times of one calendar month (the first and last months only over the days of the
/// period).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonthRow {
    /// `YYYY-MM`.
    pub month: String,
    /// Every answer: 271, 999 and TA1.
    pub responses: u64,
    pub within_3s: u64,
    pub within_20s: u64,
    /// `None` without responses.
    pub share_within_3s: Option<f64>,
    pub share_within_20s: Option<f64>,
    /// CORE: at least 90% within 20 s (true without responses: nothing was late).
    pub meets_core_20s: bool,
}

/// Scheduled downtime of one ISO week (Monday 00:00 UTC to the next Monday).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeekRow {
    /// `YYYY-Www`, the ISO 8601 week.
    pub week: String,
    /// Its Monday.
    pub starts: Date,
    /// Hours of maintenance windows inside the week (overlapping windows counted once).
    pub downtime_hours: f64,
    /// 1 − downtime / 168 h.
    pub availability: f64,
    pub meets_core_86: bool,
}

/// The availability report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Availability {
    /// First day of the period.
    pub from: Date,
    /// Last day of the period (included).
    pub to: Date,
    pub months: Vec<MonthRow>,
    /// Every week that has a day in the period, whole.
    pub weeks: Vec<WeekRow>,
}

#[derive(Default)]
struct MonthCount {
    responses: u64,
    within_3s: u64,
    within_20s: u64,
}

/// The availability report of `from..to`: response times from every submitter's records, and
/// scheduled downtime from the maintenance windows.
pub fn availability_report(store: &dyn Store, from: Instant, to: Instant) -> Result<Availability, ReportError> {
    if to <= from {
        return Err(ReportError::EmptyPeriod);
    }
    let first_day = from.date();
    let last_day = Instant::from_unix(to.unix_seconds - 1).date();

    // Every month of the period gets a row, also one without traffic.
    let mut months: BTreeMap<(u16, u8), MonthCount> = BTreeMap::new();
    let mut month = Date { day: 1, ..first_day };
    while month <= last_day {
        months.insert((month.year, month.month), MonthCount::default());
        month = month.add_months(1);
    }
    // The store streams one submitter at a time; there is no scan of all records.
    for submitter in store.submitters()? {
        store.scan_transactions(&submitter.id, from, to, &mut |r| {
            let day = r.at.date();
            if let Some(m) = months.get_mut(&(day.year, day.month)) {
                m.responses += 1;
                if r.duration_micros <= 3_000_000 {
                    m.within_3s += 1;
                }
                if r.duration_micros <= 20_000_000 {
                    m.within_20s += 1;
                }
            }
        })?;
    }
    let months = months
        .into_iter()
        .map(|((year, month), c)| MonthRow {
            month: format!("{year:04}-{month:02}"),
            responses: c.responses,
            within_3s: c.within_3s,
            within_20s: c.within_20s,
            share_within_3s: share(c.within_3s, c.responses),
            share_within_20s: share(c.within_20s, c.responses),
            meets_core_20s: c.within_20s * 1000 >= CORE_RESPONSE_TARGET_PER_MILLE * c.responses,
        })
        .collect();

    let first_monday = monday_of(first_day);
    let weeks_start = first_monday.days_since_epoch() * 86_400;
    let weeks_end = (monday_of(last_day).days_since_epoch() + 7) * 86_400;
    let mut windows: Vec<(i64, i64)> = store
        .maintenance_windows(Instant::from_unix(weeks_start))?
        .iter()
        .filter(|w| w.starts.unix_seconds < weeks_end)
        .map(|w| (w.starts.unix_seconds, w.ends.unix_seconds))
        .collect();
    windows.sort_unstable();
    let mut weeks = Vec::new();
    let mut start = weeks_start;
    while start < weeks_end {
        let end = start + WEEK_SECONDS;
        let down = downtime_seconds(&windows, start, end);
        let monday = Date::from_days_since_epoch(start.div_euclid(86_400));
        weeks.push(WeekRow {
            week: iso_week(monday),
            starts: monday,
            downtime_hours: down as f64 / 3600.0,
            availability: 1.0 - down as f64 / WEEK_SECONDS as f64,
            // Exact in integers: up / week >= 86 / 100.
            meets_core_86: (WEEK_SECONDS - down) * 100 >= CORE_AVAILABILITY_TARGET_PERCENT * WEEK_SECONDS,
        });
        start = end;
    }
    Ok(Availability { from: first_day, to: last_day, months, weeks })
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Seconds of `start..end` inside at least one window; `windows` sorted by start.
fn downtime_seconds(windows: &[(i64, i64)], start: i64, end: i64) -> i64 {
    let mut total = 0;
    // End of what has been counted so far, so overlapping windows count once.
    let mut covered = start;
    for &(s, e) in windows {
        let (s, e) = (s.max(covered), e.min(end));
        if s < e {
            total += e - s;
            covered = e;
        }
    }
    total
}

fn monday_of(day: Date) -> Date {
    let days = day.days_since_epoch();
    // 1970-01-01 was a Thursday: three days after a Monday.
    Date::from_days_since_epoch(days - (days + 3).rem_euclid(7))
}

/// `YYYY-Www` of the week starting on `monday`: the ISO year is the year of its Thursday.
fn iso_week(monday: Date) -> String {
    let thursday = monday.add_days(3);
    let jan1 = Date { year: thursday.year, month: 1, day: 1 };
    let week = (thursday.days_since_epoch() - jan1.days_since_epoch()) / 7 + 1;
    format!("{:04}-W{week:02}", thursday.year)
}

fn percent(share: Option<f64>) -> String {
    match share {
        Some(s) => format!("{:.2}%", s * 100.0),
        None => "-".into(),
    }
}

fn codes_text(codes: &BTreeMap<String, u64>) -> String {
    codes.iter().map(|(code, n)| format!("{code}:{n}")).collect::<Vec<_>>().join(" ")
}

/// Renders rows as aligned columns under a header; numbers are right-aligned.
fn table(header: &[&str], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            if i > 0 {
                text.push_str("  ");
            }
            if right.get(i).copied().unwrap_or(false) {
                let _ = write!(text, "{cell:>w$}");
            } else {
                let _ = write!(text, "{cell:<w$}");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut header.iter().copied());
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

/// The submitter report as aligned columns.
pub fn submitters_table(rows: &[SubmitterRow]) -> String {
    let header = ["SUBMITTER", "NAME", "STATUS", "VOLUME", "VALID NPI", "271s", "AAA SHARE", "A7", "AAA CODES"];
    let right = [false, false, false, true, true, true, true, true, false];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.name.clone(),
                r.status.to_string(),
                r.volume.to_string(),
                percent(r.valid_npi_share),
                r.responses.to_string(),
                percent(r.aaa_share),
                r.a7.to_string(),
                codes_text(&r.aaa_by_code),
            ]
        })
        .collect();
    table(&header, &cells, &right)
}

/// The submitter report as CSV: one `aaa_CODE` column per code any submitter was answered with.
pub fn submitters_csv(rows: &[SubmitterRow]) -> Result<String, ReportError> {
    let codes: BTreeSet<&str> = rows.iter().flat_map(|r| r.aaa_by_code.keys().map(String::as_str)).collect();
    let mut header: Vec<String> = [
        "submitter",
        "name",
        "status",
        "volume",
        "valid_npi_share",
        "invalid_npi",
        "responses",
        "aaa_responses",
        "aaa_share",
        "a7",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(codes.iter().map(|c| format!("aaa_{c}")));
    let mut records = vec![header];
    for r in rows {
        let mut rec = vec![
            r.id.clone(),
            r.name.clone(),
            r.status.to_string(),
            r.volume.to_string(),
            csv_share(r.valid_npi_share),
            r.invalid_npi.to_string(),
            r.responses.to_string(),
            r.aaa_responses.to_string(),
            csv_share(r.aaa_share),
            r.a7.to_string(),
        ];
        rec.extend(codes.iter().map(|c| r.aaa_by_code.get(*c).copied().unwrap_or(0).to_string()));
        records.push(rec);
    }
    write_csv(&records)
}

/// The availability report as two tables: months, then weeks.
pub fn availability_table(a: &Availability) -> String {
    let month_cells: Vec<Vec<String>> = a
        .months
        .iter()
        .map(|m| {
            vec![
                m.month.clone(),
                m.responses.to_string(),
                percent(m.share_within_3s),
                percent(m.share_within_20s),
                // Without responses there is nothing to judge.
                if m.responses == 0 { "-".into() } else { yes_no(m.meets_core_20s) },
            ]
        })
        .collect();
    let week_cells: Vec<Vec<String>> = a
        .weeks
        .iter()
        .map(|w| {
            vec![
                w.week.clone(),
                w.starts.to_string(),
                format!("{:.2}", w.downtime_hours),
                percent(Some(w.availability)),
                yes_no(w.meets_core_86),
            ]
        })
        .collect();
    let mut out = format!("Response times, {} to {} (CORE: 90% within 20 s)\n", a.from, a.to);
    out.push_str(&table(
        &["MONTH", "RESPONSES", "WITHIN 3 S", "WITHIN 20 S", "CORE 90%"],
        &month_cells,
        &[false, true, true, true, false],
    ));
    out.push_str("\nScheduled downtime per week (CORE: available 86% of 168 h)\n");
    out.push_str(&table(
        &["WEEK", "MONDAY", "DOWNTIME H", "AVAILABILITY", "CORE 86%"],
        &week_cells,
        &[false, false, true, true, false],
    ));
    out
}

/// The availability report as CSV: one row per month then one per week, told apart by `kind`.
pub fn availability_csv(a: &Availability) -> Result<String, ReportError> {
    let mut records: Vec<Vec<String>> = vec![
        [
            "kind",
            "period",
            "responses",
            "share_within_3s",
            "share_within_20s",
            "downtime_hours",
            "availability",
            "meets_core",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    ];
    for m in &a.months {
        records.push(vec![
            "month".into(),
            m.month.clone(),
            m.responses.to_string(),
            csv_share(m.share_within_3s),
            csv_share(m.share_within_20s),
            String::new(),
            String::new(),
            m.meets_core_20s.to_string(),
        ]);
    }
    for w in &a.weeks {
        records.push(vec![
            "week".into(),
            w.week.clone(),
            String::new(),
            String::new(),
            String::new(),
            format!("{:.2}", w.downtime_hours),
            csv_share(Some(w.availability)),
            w.meets_core_86.to_string(),
        ]);
    }
    write_csv(&records)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "NO" }.into()
}

/// Shares in CSV are fractions (0.994), for spreadsheets to format; empty when undefined.
fn csv_share(share: Option<f64>) -> String {
    share.map(|s| format!("{s:.6}")).unwrap_or_default()
}

fn write_csv(records: &[Vec<String>]) -> Result<String, ReportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for rec in records {
        w.write_record(rec).map_err(|e| ReportError::Csv(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| ReportError::Csv(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ReportError::Csv(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use eligibility::Personas;
    use store::{MaintenanceWindow, Outcome, TransactionRecord};

    fn at(s: &str) -> Instant {
        Instant::parse_rfc3339(s).unwrap()
    }

    fn demo_store(dir: &tempfile::TempDir) -> std::sync::Arc<dyn Store> {
        let store = store::open(&format!("sqlite:{}", dir.path().join("r.db").display())).unwrap();
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
        store::load_personas(store.as_ref(), &Personas::from_toml(&text).unwrap()).unwrap();
        store
    }

    fn rec(submitter: &str, at: Instant, aaa: &[&str], duration_micros: u64) -> TransactionRecord {
        TransactionRecord {
            at,
            submitter: submitter.into(),
            npi: Some("1125213722".into()),
            mbi: Some("1EG4TE5MK73".into()),
            outcome: if aaa.is_empty() { Outcome::Response271 } else { Outcome::Response271Aaa },
            aaa_codes: aaa.iter().map(|s| s.to_string()).collect(),
            service_types: vec!["30".into()],
            duration_micros,
        }
    }

    #[test]
    fn submitter_report_counts_every_submitter() {
        let dir = tempfile::tempdir().unwrap();
        let store = demo_store(&dir);
        let base = at("2026-11-02T00:00:00Z").unix_seconds;
        let mut records: Vec<_> = (0..1000)
            .map(|i| rec("WDEMO001", Instant::from_unix(base + i * 60), if i < 6 { &["43"] } else { &[] }, 1000))
            .collect();
        records[10].aaa_codes = vec!["72".into(), "73".into()];
        records[10].outcome = Outcome::Response271Aaa;
        records[11].service_types.push("A7".into());
        records[12].outcome = Outcome::Ack999;
        // Outside the period: not counted.
        records.push(rec("WDEMO001", at("2026-12-01T00:00:00Z"), &["43"], 1000));
        records.push(rec("WDEMO002", at("2026-11-03T10:00:00Z"), &[], 1000));
        store.record_transactions(&records).unwrap();

        let rows = submitters_report(
            store.as_ref(),
            at("2026-11-01T00:00:00Z"),
            at("2026-12-01T00:00:00Z"),
            at("2026-11-23T12:00:00Z"),
            &Policy::default(),
        )
        .unwrap();
        let ids: Vec<_> = rows.iter().map(|r| (r.id.as_str(), r.status)).collect();
        assert_eq!(
            ids,
            [("WDEMO001", "active"), ("WDEMO002", "active"), ("WDEMO003", "active"), ("WDEMO004", "terminated")],
            "WDEMO003's suspension ended on 2026-11-17"
        );
        let r = &rows[0];
        assert_eq!((r.volume, r.invalid_npi, r.responses, r.aaa_responses, r.a7), (1000, 6, 999, 7, 1));
        assert_eq!(r.aaa_by_code, BTreeMap::from([("43".into(), 6), ("72".into(), 1), ("73".into(), 1)]));
        assert_eq!(percent(r.valid_npi_share), "99.40%");
        assert_eq!(percent(r.aaa_share), "0.70%");
        assert_eq!((rows[1].volume, rows[1].aaa_share), (1, Some(0.0)));
        assert_eq!((rows[2].volume, rows[2].valid_npi_share, rows[2].aaa_share), (0, None, None));

        let table = submitters_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with("SUBMITTER  NAME"), "{table}");
        assert!(lines[1].contains(" 99.40% ") && lines[1].ends_with("43:6 72:1 73:1"), "{table}");
        // Columns line up: every VOLUME cell ends where the header does.
        let end = lines[0].find("VOLUME").unwrap() + "VOLUME".len();
        assert!(lines.iter().all(|l| l.as_bytes()[end] == b' '), "{table}");

        let csv = submitters_csv(&rows).unwrap();
        let mut csv_lines = csv.lines();
        assert_eq!(
            csv_lines.next(),
            Some(
                "submitter,name,status,volume,valid_npi_share,invalid_npi,responses,aaa_responses,aaa_share,a7,\
                 aaa_43,aaa_72,aaa_73"
            )
        );
        assert_eq!(csv_lines.next(), Some("WDEMO001,DEMO CLEARINGHOUSE,active,1000,0.994000,6,999,7,0.007007,1,6,1,1"));
        assert_eq!(csv_lines.nth(1), Some("WDEMO003,QUICKCHECK BILLING LLC,active,0,,0,0,0,,0,0,0,0"));

        let json = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(json["valid_npi_share"], 0.994);
        assert_eq!(json["aaa_by_code"]["43"], 6);
        assert!(!serde_json::to_string(&rows).unwrap().contains("1EG4TE5MK73"), "no MBI in a report");

        // Before the suspension ends, it reads suspended.
        let early = submitters_report(
            store.as_ref(),
            at("2026-11-01T00:00:00Z"),
            at("2026-12-01T00:00:00Z"),
            at("2026-11-17T11:59:59Z"),
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(early[2].status, "suspended");
    }

    #[test]
    fn names_with_commas_are_quoted_in_csv() {
        let row = SubmitterRow {
            id: "W1".into(),
            name: "SMITH, JONES \"AND\" CO".into(),
            status: "active",
            volume: 0,
            valid_npi_share: None,
            aaa_share: None,
            responses: 0,
            invalid_npi: 0,
            aaa_responses: 0,
            aaa_by_code: BTreeMap::new(),
            a7: 0,
        };
        let csv = submitters_csv(&[row]).unwrap();
        assert_eq!(csv.lines().nth(1), Some("W1,\"SMITH, JONES \"\"AND\"\" CO\",active,0,,0,0,0,,0"));
    }

    #[test]
    fn availability_shares_and_downtime() {
        let dir = tempfile::tempdir().unwrap();
        let store = demo_store(&dir);
        // November: 60 at 2 s, 30 at 5 s, 10 at 25 s, over two submitters. December: 1 at 3 s
        // exactly (within both).
        let base = at("2026-11-10T08:00:00Z").unix_seconds;
        let mut records = Vec::new();
        for i in 0..100i64 {
            let secs = match i {
                0..60 => 2,
                60..90 => 5,
                _ => 25,
            };
            let who = if i % 2 == 0 { "WDEMO001" } else { "WDEMO002" };
            records.push(rec(who, Instant::from_unix(base + i), &[], secs * 1_000_000));
        }
        records.push(rec("WDEMO001", at("2026-12-01T00:00:00Z"), &[], 3_000_000));
        store.record_transactions(&records).unwrap();
        // 30 h inside the week of Monday 2026-11-16; a window overlapping it counts once; a
        // window across a week boundary is split between the weeks.
        for (from, to) in [
            ("2026-11-17T00:00:00Z", "2026-11-18T06:00:00Z"),
            ("2026-11-17T02:00:00Z", "2026-11-17T04:00:00Z"),
            ("2026-11-29T22:00:00Z", "2026-11-30T02:00:00Z"),
        ] {
            store
                .add_maintenance(&MaintenanceWindow { id: 0, starts: at(from), ends: at(to), reason: "upgrade".into() })
                .unwrap();
        }

        let a = availability_report(store.as_ref(), at("2026-11-01T00:00:00Z"), at("2026-12-02T00:00:00Z")).unwrap();
        assert_eq!((a.from, a.to), (Date { year: 2026, month: 11, day: 1 }, Date { year: 2026, month: 12, day: 1 }));
        assert_eq!(a.months.len(), 2);
        let nov = &a.months[0];
        assert_eq!((nov.month.as_str(), nov.responses, nov.within_3s, nov.within_20s), ("2026-11", 100, 60, 90));
        assert_eq!((nov.share_within_3s, nov.share_within_20s, nov.meets_core_20s), (Some(0.6), Some(0.9), true));
        let dec = &a.months[1];
        assert_eq!((dec.responses, dec.within_3s, dec.within_20s), (1, 1, 1));

        // 2026-11-01 is a Sunday: its week starts Monday 2026-10-26 (ISO 2026-W44); the last
        // day, Tuesday 2026-12-01, is in 2026-W49.
        let weeks: Vec<(&str, String)> = a.weeks.iter().map(|w| (w.week.as_str(), w.starts.to_string())).collect();
        assert_eq!(
            weeks,
            [
                ("2026-W44", "2026-10-26".to_string()),
                ("2026-W45", "2026-11-02".into()),
                ("2026-W46", "2026-11-09".into()),
                ("2026-W47", "2026-11-16".into()),
                ("2026-W48", "2026-11-23".into()),
                ("2026-W49", "2026-11-30".into()),
            ]
        );
        let w47 = &a.weeks[3];
        assert_eq!((w47.downtime_hours, w47.meets_core_86), (30.0, false));
        assert!((w47.availability - (1.0 - 30.0 / 168.0)).abs() < 1e-12);
        assert_eq!((a.weeks[4].downtime_hours, a.weeks[4].meets_core_86), (2.0, true));
        assert_eq!((a.weeks[5].downtime_hours, a.weeks[5].meets_core_86), (2.0, true));
        assert_eq!((a.weeks[0].downtime_hours, a.weeks[0].availability), (0.0, 1.0));

        let table = availability_table(&a);
        assert!(table.contains("2026-11        100      60.00%       90.00%  yes"), "{table}");
        assert!(table.contains("2026-W47  2026-11-16       30.00        82.14%  NO"), "{table}");
        let csv = availability_csv(&a).unwrap();
        assert!(csv.contains("\nmonth,2026-11,100,0.600000,0.900000,,,true\n"), "{csv}");
        assert!(csv.contains("\nweek,2026-W47,,,,30.00,0.821429,false\n"), "{csv}");
    }

    #[test]
    fn exactly_24_hours_down_meets_86_percent() {
        // 144 / 168 = 85.71%: 24 h down fails; 23.52 h (= 14% of 168 h) is the most that passes.
        let week = (0, WEEK_SECONDS);
        let passes = |down: i64| (WEEK_SECONDS - down) * 100 >= CORE_AVAILABILITY_TARGET_PERCENT * WEEK_SECONDS;
        assert_eq!(downtime_seconds(&[(week.0 - 10, 84_672)], week.0, week.1), 84_672);
        assert!(passes(84_672));
        assert!(!passes(84_673));
        assert!(!passes(24 * 3600));
    }

    #[test]
    fn iso_weeks_at_year_ends() {
        assert_eq!(iso_week(monday_of(Date { year: 2027, month: 1, day: 1 })), "2026-W53");
        assert_eq!(iso_week(monday_of(Date { year: 2024, month: 12, day: 31 })), "2025-W01");
        assert_eq!(monday_of(Date { year: 2026, month: 11, day: 23 }), Date { year: 2026, month: 11, day: 23 });
    }

    #[test]
    fn an_empty_period_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = demo_store(&dir);
        let t = at("2026-11-01T00:00:00Z");
        assert!(matches!(availability_report(store.as_ref(), t, t), Err(ReportError::EmptyPeriod)));
        assert!(matches!(
            submitters_report(store.as_ref(), t, t, t, &Policy::default()),
            Err(ReportError::EmptyPeriod)
        ));
    }
}
