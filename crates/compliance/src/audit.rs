//! Audit figures and verdicts: what one submitter did in one period, and whether it passes.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use store::TransactionRecord;

/// The audit policy. The defaults are decisions D13–D15.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// D13: valid-NPI transactions / all transactions must be at least this, in per mille
    /// (995 = 99.5%). Integers, so that exactly 99.5% passes without rounding doubt.
    pub valid_npi_min_per_mille: u64,
    /// D13: below this many transactions in the period, the NPI audit does not judge.
    pub npi_min_volume: u64,
    /// D13: length of an automatic suspension.
    pub suspension_hours: i64,
    /// D13: the suspension that terminates (the 3rd).
    pub suspensions_to_terminate: u16,
    /// D13: the termination that is permanent (the 3rd: "after 2 earlier ones").
    pub terminations_to_ban: u16,
    /// D14: the tolerated share of 271s carrying an AAA, in per mille (100 = 10%).
    pub aaa_max_per_mille: u64,
    /// D14: below this many 271s in the period, the AAA audit does not judge.
    pub aaa_min_volume: u64,
    /// D14: days to submit a CAP and get back under the rate.
    pub cap_days: i64,
    /// D15: the same NPI + MBI this many times in the window suspends the relationship.
    pub repeat_threshold: u64,
    pub repeat_window_hours: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            valid_npi_min_per_mille: 995,
            npi_min_volume: 100,
            suspension_hours: 24,
            suspensions_to_terminate: 3,
            terminations_to_ban: 3,
            aaa_max_per_mille: 100,
            aaa_min_volume: 100,
            cap_days: 14,
            repeat_threshold: 30,
            repeat_window_hours: 24,
        }
    }
}

/// One NPI + MBI pair asked about at least `repeat_threshold` times within the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepeatedPair {
    pub npi: String,
    /// Kept for the relationship decision; never logged or put in a metric.
    #[serde(skip)]
    pub mbi: String,
    /// The most inquiries about the pair inside any one window.
    pub count: u64,
}

/// What one submitter did in one audit period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub transactions: u64,
    /// Transactions answered with AAA 43, 50 or 51 (D3: invalid NPIs).
    pub invalid_npi: u64,
    /// 271s (with or without AAA).
    pub responses: u64,
    /// 271s carrying at least one AAA.
    pub aaa_responses: u64,
    pub aaa_by_code: BTreeMap<String, u64>,
    /// Inquiries that asked for service type A7 (psychiatric inpatient).
    pub a7: u64,
    /// Transactions per hour of the day (UTC).
    pub by_hour: Vec<u64>,
    pub repeated: Vec<RepeatedPair>,
}

impl Figures {
    /// Valid-NPI share, 0..1 (1 when there was nothing to judge).
    pub fn valid_npi_share(&self) -> f64 {
        if self.transactions == 0 {
            1.0
        } else {
            (self.transactions - self.invalid_npi) as f64 / self.transactions as f64
        }
    }

    /// Share of 271s carrying an AAA, 0..1.
    pub fn aaa_share(&self) -> f64 {
        if self.responses == 0 { 0.0 } else { self.aaa_responses as f64 / self.responses as f64 }
    }
}

/// Computes the figures of one submitter's records (all of one period, in any order).
pub fn figures(records: &[TransactionRecord], policy: &Policy) -> Figures {
    let mut tally = Tally::new(i64::MIN);
    for r in records {
        tally.add(r);
    }
    tally.finish(policy)
}

/// Figures built one record at a time, so an audit streams a day of records instead of holding
/// it. Records before `counts_from` (the tail of the previous day) only feed the repeated-inquiry
/// windows: a burst across midnight is still one burst, and only windows that end inside the
/// period are the period's.
pub struct Tally {
    counts_from: i64,
    figures: Figures,
    /// NPI → MBI → pair number, numbered in order of first sight (two levels, so a lookup
    /// borrows the record's strings instead of building a key).
    pairs: HashMap<String, HashMap<String, u32>>,
    pair_count: u32,
    /// (pair number, unix second) of every inquiry that named both.
    times: Vec<(u32, i64)>,
}

impl Tally {
    pub fn new(counts_from_unix_seconds: i64) -> Tally {
        Tally {
            counts_from: counts_from_unix_seconds,
            figures: Figures { by_hour: vec![0; 24], ..Figures::default() },
            pairs: HashMap::new(),
            pair_count: 0,
            times: Vec::new(),
        }
    }

    pub fn add(&mut self, r: &TransactionRecord) {
        let t = r.at.unix_seconds;
        if let (Some(npi), Some(mbi)) = (&r.npi, &r.mbi) {
            let by_mbi = match self.pairs.get_mut(npi.as_str()) {
                Some(m) => m,
                None => self.pairs.entry(npi.clone()).or_default(),
            };
            let id = match by_mbi.get(mbi.as_str()) {
                Some(id) => *id,
                None => {
                    let id = self.pair_count;
                    self.pair_count += 1;
                    by_mbi.insert(mbi.clone(), id);
                    id
                }
            };
            self.times.push((id, t));
        }
        if t < self.counts_from {
            return;
        }
        let f = &mut self.figures;
        f.transactions += 1;
        let hour = t.rem_euclid(86_400) / 3600;
        if let Some(slot) = f.by_hour.get_mut(hour as usize) {
            *slot += 1;
        }
        if r.aaa_codes.iter().any(|c| matches!(c.as_str(), "43" | "50" | "51")) {
            f.invalid_npi += 1;
        }
        if matches!(r.outcome, store::Outcome::Response271 | store::Outcome::Response271Aaa) {
            f.responses += 1;
            if !r.aaa_codes.is_empty() {
                f.aaa_responses += 1;
            }
            for code in &r.aaa_codes {
                match f.aaa_by_code.get_mut(code.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        f.aaa_by_code.insert(code.clone(), 1);
                    }
                }
            }
        }
        if r.service_types.iter().any(|s| s == "A7") {
            f.a7 += 1;
        }
    }

    pub fn finish(mut self, policy: &Policy) -> Figures {
        let window = policy.repeat_window_hours * 3600;
        let threshold = policy.repeat_threshold as usize;
        self.times.sort_unstable();
        // Each pair's times are one sorted run; the most inquiries inside any window of the
        // policy's length that ends in the period, by two pointers.
        let mut flagged: HashMap<u32, u64> = HashMap::new();
        for run in self.times.chunk_by(|a, b| a.0 == b.0) {
            if run.len() < threshold {
                continue;
            }
            let (mut best, mut start) = (0usize, 0usize);
            for end in 0..run.len() {
                while run[end].1 - run[start].1 >= window {
                    start += 1;
                }
                if run[end].1 >= self.counts_from {
                    best = best.max(end - start + 1);
                }
            }
            if best >= threshold {
                flagged.insert(run[0].0, best as u64);
            }
        }
        if !flagged.is_empty() {
            for (npi, by_mbi) in &self.pairs {
                for (mbi, id) in by_mbi {
                    if let Some(count) = flagged.get(id) {
                        self.figures.repeated.push(RepeatedPair { npi: npi.clone(), mbi: mbi.clone(), count: *count });
                    }
                }
            }
        }
        self.figures.repeated.sort_by(|a, b| (&a.npi, &a.mbi).cmp(&(&b.npi, &b.mbi)));
        self.figures
    }
}

/// D13's verdict on one period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum NpiVerdict {
    /// Too few transactions to judge.
    BelowMinimumVolume,
    Pass,
    Fail,
}

/// D14's verdict on one period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RateVerdict {
    BelowMinimumVolume,
    Within,
    Over,
}

impl Policy {
    pub fn npi_verdict(&self, f: &Figures) -> NpiVerdict {
        if f.transactions < self.npi_min_volume {
            return NpiVerdict::BelowMinimumVolume;
        }
        // valid / total >= min/1000  <=>  valid * 1000 >= min * total (exact in integers).
        let valid = f.transactions - f.invalid_npi;
        if valid * 1000 >= self.valid_npi_min_per_mille * f.transactions { NpiVerdict::Pass } else { NpiVerdict::Fail }
    }

    pub fn aaa_verdict(&self, f: &Figures) -> RateVerdict {
        if f.responses < self.aaa_min_volume {
            return RateVerdict::BelowMinimumVolume;
        }
        if f.aaa_responses * 1000 > self.aaa_max_per_mille * f.responses {
            RateVerdict::Over
        } else {
            RateVerdict::Within
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eligibility::Instant;
    use store::Outcome;

    fn rec(at: i64, npi: &str, mbi: &str, aaa: &[&str]) -> TransactionRecord {
        TransactionRecord {
            at: Instant::from_unix(at),
            submitter: "WDEMO001".into(),
            npi: Some(npi.into()),
            mbi: Some(mbi.into()),
            outcome: if aaa.is_empty() { Outcome::Response271 } else { Outcome::Response271Aaa },
            aaa_codes: aaa.iter().map(|s| s.to_string()).collect(),
            service_types: vec!["30".into()],
            duration_micros: 100,
        }
    }

    fn day_with(total: u64, invalid: u64) -> Vec<TransactionRecord> {
        (0..total)
            .map(|i| {
                rec(
                    1_700_000_000 + i as i64 * 60,
                    "1125213722",
                    &format!("M{i}"),
                    if i < invalid { &["43"] } else { &[] },
                )
            })
            .collect()
    }

    #[test]
    fn exactly_99_5_percent_passes_and_99_4_fails() {
        let p = Policy::default();
        assert_eq!(p.npi_verdict(&figures(&day_with(1000, 5), &p)), NpiVerdict::Pass);
        assert_eq!(p.npi_verdict(&figures(&day_with(1000, 6), &p)), NpiVerdict::Fail);
        assert_eq!(p.npi_verdict(&figures(&day_with(99, 99), &p)), NpiVerdict::BelowMinimumVolume);
        assert_eq!(p.npi_verdict(&figures(&day_with(200, 1), &p)), NpiVerdict::Pass);
        assert_eq!(p.npi_verdict(&figures(&day_with(200, 2), &p)), NpiVerdict::Fail);
    }

    #[test]
    fn aaa_rate_counts_271s_with_any_aaa() {
        let p = Policy::default();
        let mut recs = day_with(1000, 0);
        for r in recs.iter_mut().take(100) {
            r.aaa_codes = vec!["72".into(), "73".into()];
            r.outcome = Outcome::Response271Aaa;
        }
        let f = figures(&recs, &p);
        assert_eq!(f.aaa_responses, 100);
        assert_eq!(f.aaa_by_code.get("73"), Some(&100));
        assert_eq!(p.aaa_verdict(&f), RateVerdict::Within);
        recs[100].aaa_codes = vec!["75".into()];
        assert_eq!(p.aaa_verdict(&figures(&recs, &p)), RateVerdict::Over);
    }

    #[test]
    fn thirty_repeats_within_24_hours_are_flagged() {
        let p = Policy::default();
        let base = 1_700_000_000;
        // 30 inquiries spread over 23 hours: flagged.
        let recs: Vec<_> = (0..30).map(|i| rec(base + i * 2760, "1125213722", "2DG9NX3WK42", &[])).collect();
        let f = figures(&recs, &p);
        assert_eq!(f.repeated.len(), 1);
        assert_eq!(f.repeated[0].count, 30);
        // 30 spread over 29 hours: at most 25 in any 24-hour window.
        let recs: Vec<_> = (0..30).map(|i| rec(base + i * 3600, "1125213722", "2DG9NX3WK42", &[])).collect();
        assert!(figures(&recs, &p).repeated.is_empty());
        // 29 within an hour: under the threshold.
        let recs: Vec<_> = (0..29).map(|i| rec(base + i, "1125213722", "2DG9NX3WK42", &[])).collect();
        assert!(figures(&recs, &p).repeated.is_empty());
        // A burst across the start of the period counts; one wholly before it does not.
        let mut tally = Tally::new(base + 20);
        for r in (0..30).map(|i| rec(base + i, "1125213722", "2DG9NX3WK42", &[])) {
            tally.add(&r);
        }
        let f = tally.finish(&p);
        assert_eq!((f.transactions, f.repeated.len()), (10, 1));
        let mut tally = Tally::new(base + 100);
        for r in (0..30).map(|i| rec(base + i, "1125213722", "2DG9NX3WK42", &[])) {
            tally.add(&r);
        }
        assert!(tally.finish(&p).repeated.is_empty());
    }

    #[test]
    fn hours_and_a7() {
        let p = Policy::default();
        let mut r = rec(3 * 3600 + 5, "1125213722", "X", &[]);
        r.service_types = vec!["30".into(), "A7".into()];
        let f = figures(&[r], &p);
        assert_eq!(f.a7, 1);
        assert_eq!(f.by_hour[3], 1);
    }
}
