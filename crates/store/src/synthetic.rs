//! A synthetic Medicare population: beneficiaries, providers, submitters and relationships that
//! look like the real mix, generated deterministically from a seed.
//!
//! Everything is a function of `(seed, counts, index)`: beneficiary `i` is the same whatever
//! order or thread generates it, so a load can be split across threads and a run repeated
//! exactly. MBIs are spread over the whole MBI space and come out in ascending order with the
//! index, which makes a bulk load append to the B-tree instead of splitting pages at random.
//! Mixes (shares of Medicare Advantage, Part D, MSP, hospice, …) are rough, published orders
//! of magnitude: about half the population in Medicare Advantage, most with drug coverage.

use crate::{Relationship, RelationshipStatus};
use eligibility::{
    Address, Beneficiary, BenefitPeriod, Enrollment, EntityKind, EsrdRecord, HomeHealthPeriod, HospiceElection,
    MaEnrollment, MspRecord, PartDEnrollment, Period, Personas, Provider, QmbPeriod, Service, SubmitterSeed,
    SubmitterStatus, YearUsage,
};
use std::collections::HashSet;
use std::ops::Range;
use x12::Date;

/// splitmix64: tiny, fast, and good enough for test data (it passes BigCrush as a generator of
/// 64-bit outputs). Not for anything secret.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// An independent stream for item `index` of kind `stream`.
    fn for_item(seed: u64, stream: u64, index: u64) -> Rng {
        let mut r = Rng(seed ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0; the modulo bias is irrelevant at these sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { lo + self.below((hi - lo + 1) as u64) as i64 }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const MBI_DIGIT1: &[u8] = b"123456789";
const MBI_LETTER: &[u8] = b"ACDEFGHJKMNPQRTUVWXY";
const MBI_ALNUM: &[u8] = b"0123456789ACDEFGHJKMNPQRTUVWXY";
const MBI_DIGIT: &[u8] = b"0123456789";
/// The alphabet of each MBI position, each in ASCII order so that numeric order of the encoded
/// value is the string order of the MBI.
const MBI_POSITIONS: [&[u8]; 11] = [
    MBI_DIGIT1, MBI_LETTER, MBI_ALNUM, MBI_DIGIT, MBI_LETTER, MBI_ALNUM, MBI_DIGIT, MBI_LETTER, MBI_LETTER, MBI_DIGIT,
    MBI_DIGIT,
];

/// How many distinct MBIs exist (about 1.3 × 10¹³).
pub fn mbi_space() -> u64 {
    MBI_POSITIONS.iter().map(|a| a.len() as u64).product()
}

/// The `v`-th MBI in ascending order (`v < mbi_space()`).
pub fn mbi_from_index(mut v: u64) -> String {
    let mut out = [0u8; 11];
    for (slot, alphabet) in out.iter_mut().zip(MBI_POSITIONS).rev() {
        let n = alphabet.len() as u64;
        *slot = alphabet[(v % n) as usize];
        v /= n;
    }
    out.iter().map(|&b| b as char).collect()
}

/// An NPI from its first nine digits.
fn npi_from_prefix(prefix: u64) -> String {
    let mut nine = [0u8; 9];
    let digits = format!("{prefix:09}");
    nine.copy_from_slice(&digits.as_bytes()[..9]);
    let check = eligibility::ids::npi_check_digit(&nine);
    format!("{digits}{}", check as char)
}

/// NPIs start with 1 or 2: their nine-digit prefixes are 100000000..=299999999.
const NPI_PREFIX_FIRST: u64 = 100_000_000;
const NPI_PREFIX_SPACE: u64 = 200_000_000;

/// Spreads `count` keys evenly over `space` values, each at a seeded offset inside its own
/// stride: unique, ascending with the index, and different for every seed.
fn spread(seed: u64, stream: u64, index: u64, count: u64, space: u64, taken: impl Fn(u64) -> bool) -> u64 {
    let stride = (space / count.max(1)).max(1);
    let base = index * stride;
    let mut offset = Rng::for_item(seed, stream, index).below(stride);
    // A clash with a reserved key (a persona's) moves to the next value of the same stride.
    for _ in 0..stride {
        if !taken(base + offset) {
            break;
        }
        offset = (offset + 1) % stride;
    }
    base + offset
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Population {
    pub seed: u64,
    pub beneficiaries: u64,
    pub providers: u32,
    pub submitters: u32,
    /// "Today" for the generated histories: nothing happens after it except future
    /// entitlements of people about to turn 65.
    pub reference_date: Date,
    reserved_mbis: HashSet<String>,
    reserved_npis: HashSet<String>,
}

const STREAM_MBI: u64 = 1;
const STREAM_BENEFICIARY: u64 = 2;
const STREAM_NPI: u64 = 3;
const STREAM_PROVIDER: u64 = 4;
const STREAM_SUBMITTER: u64 = 5;

impl Population {
    pub fn new(seed: u64, beneficiaries: u64, providers: u32, submitters: u32, reference_date: Date) -> Population {
        Population {
            seed,
            beneficiaries,
            providers,
            submitters,
            reference_date,
            reserved_mbis: HashSet::new(),
            reserved_npis: HashSet::new(),
        }
    }

    /// Keeps the personas' MBIs and NPIs out of the synthetic ones, so both load side by side.
    pub fn reserving(mut self, personas: &Personas) -> Population {
        self.reserved_mbis.extend(personas.beneficiaries.iter().map(|b| b.mbi.clone()));
        self.reserved_npis.extend(personas.providers.iter().map(|p| p.npi.clone()));
        self.reserved_npis.extend(personas.submitters.iter().flat_map(|s| s.npis.iter().cloned()));
        self
    }

    /// The MBI of beneficiary `i` (ascending with `i`).
    pub fn mbi(&self, i: u64) -> String {
        let v = spread(self.seed, STREAM_MBI, i, self.beneficiaries, mbi_space(), |v| {
            self.reserved_mbis.contains(&mbi_from_index(v))
        });
        mbi_from_index(v)
    }

    /// The NPI of provider `j`.
    pub fn npi(&self, j: u32) -> String {
        let v = spread(self.seed, STREAM_NPI, u64::from(j), u64::from(self.providers), NPI_PREFIX_SPACE, |v| {
            self.reserved_npis.contains(&npi_from_prefix(NPI_PREFIX_FIRST + v))
        });
        npi_from_prefix(NPI_PREFIX_FIRST + v)
    }

    /// A provider NPI for a service, hospice or dialysis record: a synthetic provider, or a
    /// fixed valid one when the population has none.
    fn some_npi(&self, r: &mut Rng) -> String {
        if self.providers == 0 { "1234567893".to_string() } else { self.npi(r.below(u64::from(self.providers)) as u32) }
    }

    pub fn providers(&self) -> Vec<Provider> {
        (0..self.providers).map(|j| self.provider(j)).collect()
    }

    pub fn provider(&self, j: u32) -> Provider {
        let r = &mut Rng::for_item(self.seed, STREAM_PROVIDER, u64::from(j));
        let today = self.reference_date;
        let person = r.chance(0.6);
        let (name, first_name) = if person {
            let firsts = if r.chance(0.5) { FIRST_F } else { FIRST_M };
            (r.pick(LAST_NAMES).to_string(), Some(r.pick(firsts).to_string()))
        } else {
            (format!("{} {} {}", r.pick(ORG_PLACES), r.pick(ORG_WORDS), r.pick(ORG_KINDS)), None)
        };
        let enrolled = day_between(r, Date { year: 1996, month: 1, day: 1 }, today.add_days(-365));
        let roll = r.below(100);
        let (medicare, enrolled_on, ended_on) = match roll {
            0..88 => (Enrollment::Active, Some(enrolled), None),
            // Some ended in the past, some end in the near future.
            88..92 => (Enrollment::Terminated, Some(enrolled), Some(day_between(r, enrolled, today.add_days(90)))),
            92..95 => (Enrollment::Revoked, Some(enrolled), Some(day_between(r, enrolled, today))),
            _ => (Enrollment::NotEnrolled, None, None),
        };
        Provider {
            npi: self.npi(j),
            name,
            first_name,
            entity: if person { EntityKind::Person } else { EntityKind::Organization },
            medicare,
            enrolled_on,
            ended_on,
        }
    }

    /// Synthetic submitter ids: `WS000001`, `WS000002`, …
    pub fn submitter_id(k: u32) -> String {
        format!("WS{:06}", k + 1)
    }

    /// The demo password of a synthetic submitter: its id in lower case, then `-pass`.
    pub fn submitter_password(id: &str) -> String {
        format!("{}-pass", id.to_ascii_lowercase())
    }

    /// The submitters; their NPIs are in [`Population::relationships`], not in the seeds.
    pub fn submitters(&self) -> Vec<SubmitterSeed> {
        (0..self.submitters)
            .map(|k| {
                let r = &mut Rng::for_item(self.seed, STREAM_SUBMITTER, u64::from(k));
                let id = Population::submitter_id(k);
                let (status, suspended_until, suspensions) = match r.below(100) {
                    0..90 => (SubmitterStatus::Active, None, r.below(2) as u16),
                    90..94 => (
                        SubmitterStatus::Suspended,
                        Some(format!("{}T12:00:00Z", self.reference_date.add_days(1))),
                        1 + r.below(2) as u16,
                    ),
                    94..98 => (SubmitterStatus::Terminated, None, 3),
                    _ => (SubmitterStatus::PermanentlyTerminated, None, 3),
                };
                SubmitterSeed {
                    name: format!("{} {} {}", r.pick(ORG_PLACES), r.pick(ORG_WORDS), r.pick(SUBMITTER_KINDS)),
                    email: format!("edi@{}.example", id.to_ascii_lowercase()),
                    password: Population::submitter_password(&id),
                    id,
                    status,
                    suspended_until,
                    suspensions,
                    npis: Vec::new(),
                }
            })
            .collect()
    }

    /// Each submitter's Submitter/NPI relationships: a few NPIs for a practice's own billing
    /// office, dozens for a clearinghouse; a few suspended or ended.
    pub fn relationships(&self) -> Vec<Relationship> {
        let mut out = Vec::new();
        if self.providers == 0 {
            return out;
        }
        for k in 0..self.submitters {
            let r = &mut Rng::for_item(self.seed, STREAM_SUBMITTER ^ 0xFF, u64::from(k));
            let wanted = if r.chance(0.3) { r.between(10, 60) } else { r.between(1, 5) } as u32;
            let wanted = wanted.min(self.providers);
            let mut chosen = HashSet::new();
            while (chosen.len() as u32) < wanted {
                chosen.insert(r.below(u64::from(self.providers)) as u32);
            }
            let mut chosen: Vec<u32> = chosen.into_iter().collect();
            chosen.sort_unstable();
            for j in chosen {
                let effective = day_between(r, Date { year: 2010, month: 1, day: 1 }, self.reference_date);
                let end = r.chance(0.05).then(|| day_between(r, effective, self.reference_date));
                out.push(Relationship {
                    submitter: Population::submitter_id(k),
                    npi: self.npi(j),
                    status: if r.chance(0.03) { RelationshipStatus::Suspended } else { RelationshipStatus::Active },
                    effective,
                    end,
                });
            }
        }
        out
    }

    /// Beneficiaries `range` (in ascending MBI order).
    pub fn beneficiaries(&self, range: Range<u64>) -> impl Iterator<Item = Beneficiary> + '_ {
        range.map(|i| self.beneficiary(i))
    }

    /// Beneficiary `i`.
    pub fn beneficiary(&self, i: u64) -> Beneficiary {
        let r = &mut Rng::for_item(self.seed, STREAM_BENEFICIARY, i);
        let today = self.reference_date;
        let female = r.chance(0.55);
        let under_65 = r.chance(0.08);
        let age = if under_65 {
            r.between(25, 64)
        } else {
            // The older the fewer: the smaller of two uniform draws.
            65 + r.between(0, 35).min(r.between(0, 35))
        };
        let birth = Date {
            year: (i64::from(today.year) - age) as u16,
            month: 1 + r.below(12) as u8,
            day: 1 + r.below(28) as u8,
        };
        // Entitlement starts the month of the 65th birthday, or after two years of disability.
        let start = if under_65 {
            let adult = Date { year: birth.year + 20, ..birth };
            first_of_month(day_between(r, adult.max(today.add_days(-365 * 15)), today.add_days(-30)))
        } else {
            Date { year: birth.year + 65, month: birth.month, day: 1 }
        };
        let esrd = r.chance(if under_65 { 0.2 } else { 0.005 });
        let dead = r.chance(0.04) && start < today.add_days(-60);
        let death = dead.then(|| day_between(r, start.max(today.add_days(-365 * 3)), today.add_days(-1)));
        let end = death;
        // The last day anything can happen: the day of death, or today.
        let last_day = end.unwrap_or(today);

        let (city, state, zip) = *r.pick(PLACES);
        let address = Address {
            line1: format!("{} {}", r.between(1, 9999), r.pick(STREETS)),
            line2: r.chance(0.1).then(|| format!("APT {}", r.between(1, 400))),
            city: city.to_string(),
            state: state.to_string(),
            zip: format!("{zip}{:02}", r.below(100)),
        };
        let mut b = Beneficiary {
            key: String::new(),
            mbi: self.mbi(i),
            last_name: r.pick(LAST_NAMES).to_string(),
            first_name: r.pick(if female { FIRST_F } else { FIRST_M }).to_string(),
            middle_initial: r.chance(0.4).then(|| (b'A' + r.below(26) as u8).to_string()),
            name_suffix: (!female && r.chance(0.03)).then(|| r.pick(&["JR", "SR", "III"]).to_string()),
            birth_date: Some(birth),
            gender: if female { "F" } else { "M" }.to_string(),
            date_of_death: death,
            address: Some(address),
            ..Beneficiary::default()
        };

        b.part_a.push(Period { from: start, to: end });
        let part_b = r.below(100);
        match part_b {
            // Never took Part B.
            0..4 => {}
            // Part B ended (non-payment or dropped).
            4..6 if start < last_day.add_days(-400) => b
                .part_b
                .push(Period { from: start, to: Some(day_between(r, start.add_days(200), last_day.add_days(-60))) }),
            // Part B taken later (still working, covered by an employer plan).
            6..10 => {
                let from = first_of_month(start.add_days(r.between(365, 3 * 365)));
                if from <= last_day {
                    b.part_b.push(Period { from, to: end });
                }
            }
            _ => b.part_b.push(Period { from: start, to: end }),
        }
        // Part B on the last day: alive and covered today, or covered until death.
        let has_b = b.part_b.iter().any(|p| p.contains(last_day));
        let ab_start = b.part_b.first().map_or(start, |p| p.from.max(start));

        // About half in Medicare Advantage, most of them in an MA-PD plan.
        if has_b && start <= today && r.chance(0.52) {
            let plan = r.pick(MA_PLANS);
            let from = jan_first(r, ab_start, last_day, 6);
            if r.chance(0.1) && from.year > ab_start.year + 1 {
                let old = r.pick(MA_PLANS);
                let old_from = Date { year: from.year - 2, month: 1, day: 1 }.max(ab_start);
                b.medicare_advantage.push(ma(r, old, old_from, Some(from.add_days(-1))));
            }
            b.medicare_advantage.push(ma(r, plan, from, end));
            if r.chance(0.88) {
                let current = b.medicare_advantage.last().map(|m| (m.contract.clone(), m.pbp.clone()));
                if let Some((contract, pbp)) = current {
                    b.part_d.push(PartDEnrollment {
                        contract,
                        pbp,
                        from,
                        to: end,
                        plan_name: plan.name.to_string(),
                        address: Some(plan_address(plan)),
                        phone: Some(plan.phone.to_string()),
                        website: None,
                    });
                }
            }
        } else if start <= today && r.chance(0.6) {
            let plan = r.pick(PDP_PLANS);
            b.part_d.push(PartDEnrollment {
                contract: plan.contract.to_string(),
                pbp: format!("{:03}", 1 + r.below(30)),
                from: jan_first(r, start, last_day, 8),
                to: end,
                plan_name: plan.name.to_string(),
                address: Some(plan_address(plan)),
                phone: Some(plan.phone.to_string()),
                website: r.chance(0.5).then(|| plan.website.to_string()),
            });
        }

        if r.chance(0.07) && start <= today {
            let (msp_type, payer) = match r.below(10) {
                0..6 => ("12", r.pick(EMPLOYER_PLANS)),
                6..8 => ("43", r.pick(EMPLOYER_PLANS)),
                8 => ("14", r.pick(AUTO_INSURERS)),
                _ => ("47", r.pick(AUTO_INSURERS)),
            };
            let from = day_between(r, start, last_day);
            b.msp.push(MspRecord {
                msp_type: msp_type.to_string(),
                from,
                to: r.chance(0.3).then(|| day_between(r, from, last_day)),
                payer: payer.to_string(),
                policy: format!("GRP{}", r.between(100_000, 999_999)),
                address: Some(Address {
                    line1: format!("PO BOX {}", r.between(100, 99_999)),
                    line2: None,
                    city: city.to_string(),
                    state: state.to_string(),
                    zip: format!("{zip}{:02}", r.below(100)),
                }),
            });
        }

        if esrd {
            let from = day_between(r, start.add_days(-365), start);
            let transplant = r.chance(0.1).then(|| day_between(r, from, last_day));
            b.esrd.push(EsrdRecord {
                dialysis_method: r.pick(&["14", "15", "16"]).to_string(),
                from,
                transplant_discharge: transplant,
                npi: self.some_npi(r),
            });
            if r.chance(0.3) {
                // The 30-month ESRD coordination period, when an employer plan paid first.
                b.msp.push(MspRecord {
                    msp_type: "13".to_string(),
                    from: start,
                    to: Some(start.add_months(30).add_days(-1)),
                    payer: r.pick(EMPLOYER_PLANS).to_string(),
                    policy: format!("ESRD{}", r.between(10_000, 99_999)),
                    address: None,
                });
            }
        }

        let old = age >= 80;
        if start <= today && r.chance(if old { 0.03 } else { 0.01 }) {
            let from = last_day.add_days(-r.between(1, 180)).max(start);
            let revoked = r.chance(0.2);
            b.hospice.push(HospiceElection {
                from,
                to: if revoked { Some(day_between(r, from, last_day)) } else { end },
                npi: self.some_npi(r),
                revocation_code: if revoked { r.pick(&["1", "2", "3"]).to_string() } else { "0".to_string() },
                benefit_period: 1 + r.below(3) as u16,
            });
        }

        if death.is_none() && start <= today && r.chance(0.03) {
            let npi = self.some_npi(r);
            let mut from = today.add_days(-r.between(0, 80)).max(start);
            for _ in 0..r.between(1, 2) {
                if from > today {
                    break;
                }
                let to = from.add_days(29);
                b.home_health.push(HomeHealthPeriod {
                    from,
                    to,
                    npi: npi.clone(),
                    first_billed: from,
                    last_billed: to.min(today),
                });
                b.services.push(Service { hcpcs: "G0180".to_string(), date: from, npi: npi.clone() });
                from = to.add_days(1);
            }
        }

        if start <= today && r.chance(0.12) {
            let from = jan_first(r, start, last_day, 5);
            b.qmb.push(QmbPeriod { from, to: end, state: state.to_string() });
        }

        // Preventive services since Part B began: the history behind next-eligible dates.
        if !b.part_b.is_empty() {
            let first_day = ab_start.max(today.add_days(-365 * 10));
            if first_day < last_day {
                for _ in 0..r.between(0, 8) {
                    let hcpcs = r.pick(PREVENTIVE);
                    b.services.push(Service {
                        hcpcs: hcpcs.to_string(),
                        date: day_between(r, first_day, last_day),
                        npi: self.some_npi(r),
                    });
                }
            }
        }
        b.services.sort_by_key(|x| x.date);

        if death.is_none() && start <= today && r.chance(0.7) {
            let full = r.chance(0.45);
            b.usage.push(YearUsage {
                year: today.year,
                part_b_deductible_met: if full { 283.0 } else { r.between(0, 28_299) as f64 / 100.0 },
                pt_slp_used: if r.chance(0.15) { r.between(100, 250_000) as f64 / 100.0 } else { 0.0 },
                ot_used: if r.chance(0.08) { r.between(100, 150_000) as f64 / 100.0 } else { 0.0 },
                smoking_cessation_used: if r.chance(0.04) { r.between(1, 8) as u16 } else { 0 },
                blood_pints_used: if r.chance(0.02) { r.between(1, 4) as u16 } else { 0 },
                pulmonary_rehab_used: if r.chance(0.01) { r.between(1, 36) as u16 } else { 0 },
                cardiac_rehab_used: if r.chance(0.01) { r.between(1, 36) as u16 } else { 0 },
            });
        }

        if death.is_none() && start <= today && r.chance(0.08) {
            let first = day_between(r, Date { year: today.year, month: 1, day: 1 }.max(start), today);
            let last = day_between(r, first, today.min(first.add_days(120)));
            b.benefit_periods.push(BenefitPeriod {
                first_billed: first,
                last_billed: last,
                hospital_days_used: r.between(1, 60) as u16,
                snf_days_used: if r.chance(0.4) { r.between(1, 100) as u16 } else { 0 },
                part_a_deductible_met: 1736.0,
            });
            if r.chance(0.3) {
                b.lifetime_reserve_days_used = r.between(1, 60) as u16;
            }
        }
        b
    }
}

fn first_of_month(d: Date) -> Date {
    Date { day: 1, ..d }
}

/// A uniformly drawn day in `lo..=hi` (`lo` when the range is empty).
fn day_between(r: &mut Rng, lo: Date, hi: Date) -> Date {
    Date::from_days_since_epoch(r.between(lo.days_since_epoch(), hi.days_since_epoch()))
}

/// A January 1st of one of the last `years` years, not before `not_before` (plans and programs
/// start with the calendar year; entitlement may start mid-year).
fn jan_first(r: &mut Rng, not_before: Date, today: Date, years: i64) -> Date {
    let year = (i64::from(today.year) - r.between(0, years - 1)) as u16;
    let d = Date { year, month: 1, day: 1 };
    if d < not_before { first_of_month(not_before) } else { d }
}

struct Plan {
    contract: &'static str,
    name: &'static str,
    plan_type: &'static str,
    street: &'static str,
    city: &'static str,
    state: &'static str,
    zip: &'static str,
    phone: &'static str,
    website: &'static str,
}

fn plan_address(p: &Plan) -> Address {
    Address {
        line1: p.street.to_string(),
        line2: None,
        city: p.city.to_string(),
        state: p.state.to_string(),
        zip: p.zip.to_string(),
    }
}

fn ma(r: &mut Rng, plan: &Plan, from: Date, to: Option<Date>) -> MaEnrollment {
    MaEnrollment {
        contract: plan.contract.to_string(),
        pbp: format!("{:03}", 1 + r.below(40)),
        plan_type: plan.plan_type.to_string(),
        bill_option: r.pick(&["C", "C", "C", "A", "B", "1", "2"]).to_string(),
        from,
        to,
        plan_name: plan.name.to_string(),
        address: Some(plan_address(plan)),
        phone: Some(plan.phone.to_string()),
        website: r.chance(0.7).then(|| plan.website.to_string()),
    }
}

macro_rules! plan {
    ($contract:expr, $name:expr, $ty:expr, $street:expr, $city:expr, $state:expr, $zip:expr, $phone:expr, $web:expr) => {
        Plan {
            contract: $contract,
            name: $name,
            plan_type: $ty,
            street: $street,
            city: $city,
            state: $state,
            zip: $zip,
            phone: $phone,
            website: $web,
        }
    };
}

const MA_PLANS: &[Plan] = &[
    plan!(
        "H1001",
        "EVERGREEN ADVANTAGE HMO",
        "HM",
        "PO BOX 1001",
        "SEATTLE",
        "WA",
        "98101",
        "8005550111",
        "www.evergreen.example"
    ),
    plan!(
        "H1002",
        "LIBERTY SENIOR CARE",
        "HN",
        "PO BOX 2200",
        "BOSTON",
        "MA",
        "02108",
        "8005550112",
        "www.libertysenior.example"
    ),
    plan!(
        "H2103",
        "SUNBELT MEDICARE PLUS",
        "HM",
        "400 PALM AVE",
        "TAMPA",
        "FL",
        "33602",
        "8005550113",
        "www.sunbelt.example"
    ),
    plan!(
        "H2204",
        "PRAIRIE HEALTH ADVANTAGE",
        "PR",
        "12 MAIN ST",
        "OMAHA",
        "NE",
        "68102",
        "8005550114",
        "www.prairie.example"
    ),
    plan!(
        "H3305",
        "CANYON CARE PPO",
        "PR",
        "PO BOX 3300",
        "PHOENIX",
        "AZ",
        "85004",
        "8005550115",
        "www.canyoncare.example"
    ),
    plan!(
        "H3406",
        "LAKESHORE MEDICARE HMO",
        "HM",
        "88 WACKER DR",
        "CHICAGO",
        "IL",
        "60601",
        "8005550116",
        "www.lakeshore.example"
    ),
    plan!(
        "H4507",
        "BLUE RIDGE ADVANTAGE",
        "HN",
        "PO BOX 4500",
        "RICHMOND",
        "VA",
        "23219",
        "8005550117",
        "www.blueridge.example"
    ),
    plan!(
        "H4608",
        "GOLDEN STATE SENIOR PLAN",
        "PS",
        "1 MARKET ST",
        "SAN FRANCISCO",
        "CA",
        "94105",
        "8005550118",
        "www.goldenstate.example"
    ),
    plan!(
        "H5709",
        "LONE STAR MEDICARE",
        "HM",
        "PO BOX 5700",
        "AUSTIN",
        "TX",
        "78701",
        "8005550119",
        "www.lonestar.example"
    ),
    plan!(
        "H5810",
        "KEYSTONE SENIOR HEALTH",
        "IN",
        "200 LIBERTY AVE",
        "PITTSBURGH",
        "PA",
        "15222",
        "8005550120",
        "www.keystone.example"
    ),
    plan!(
        "R6911",
        "HEARTLAND REGIONAL PPO",
        "PR",
        "PO BOX 6900",
        "KANSAS CITY",
        "MO",
        "64105",
        "8005550121",
        "www.heartland.example"
    ),
    plan!(
        "H7012",
        "EMPIRE ADVANTAGE PLUS",
        "HN",
        "PO BOX 7000",
        "ALBANY",
        "NY",
        "12207",
        "8005550122",
        "www.empireplus.example"
    ),
];

const PDP_PLANS: &[Plan] = &[
    plan!(
        "S5601",
        "NATIONAL RX SAVER",
        "",
        "PO BOX 5601",
        "DALLAS",
        "TX",
        "75201",
        "8005550131",
        "www.rxsaver.example"
    ),
    plan!(
        "S5702",
        "CORNERSTONE DRUG PLAN",
        "",
        "PO BOX 5702",
        "COLUMBUS",
        "OH",
        "43215",
        "8005550132",
        "www.cornerstonerx.example"
    ),
    plan!(
        "S5803",
        "WELLSPRING PDP",
        "",
        "300 SPRING ST",
        "ATLANTA",
        "GA",
        "30303",
        "8005550133",
        "www.wellspring.example"
    ),
    plan!(
        "S5904",
        "MERIDIAN SENIOR RX",
        "",
        "PO BOX 5904",
        "DENVER",
        "CO",
        "80202",
        "8005550134",
        "www.meridianrx.example"
    ),
    plan!(
        "S6005",
        "HARBOR RX BASIC",
        "",
        "PO BOX 6005",
        "BALTIMORE",
        "MD",
        "21202",
        "8005550135",
        "www.harborrx.example"
    ),
    plan!(
        "S6106",
        "PINNACLE PRESCRIPTION PLAN",
        "",
        "PO BOX 6106",
        "NASHVILLE",
        "TN",
        "37219",
        "8005550136",
        "www.pinnaclerx.example"
    ),
];

/// The preventive catalog's codes (D6), the history the engine answers next-eligible dates from.
const PREVENTIVE: &[&str] =
    &["G0438", "G0439", "G0439", "80061", "82270", "G0105", "G0121", "77067", "G0117", "G0442", "90670", "90732"];

const EMPLOYER_PLANS: &[&str] = &[
    "ACME MANUFACTURING HEALTH PLAN",
    "STATE TEACHERS BENEFIT TRUST",
    "METRO TRANSIT EMPLOYEES PLAN",
    "NORTHWIND LOGISTICS GROUP HEALTH",
    "RIVERSIDE COUNTY EMPLOYEE HEALTH",
    "UNITED MACHINISTS WELFARE FUND",
];

const AUTO_INSURERS: &[&str] = &["SAFEHARBOR AUTO INSURANCE", "GREATPLAINS CASUALTY", "KEYSTONE MUTUAL LIABILITY"];

const LAST_NAMES: &[&str] = &[
    "SMITH",
    "JOHNSON",
    "WILLIAMS",
    "BROWN",
    "JONES",
    "GARCIA",
    "MILLER",
    "DAVIS",
    "RODRIGUEZ",
    "MARTINEZ",
    "HERNANDEZ",
    "LOPEZ",
    "GONZALEZ",
    "WILSON",
    "ANDERSON",
    "THOMAS",
    "TAYLOR",
    "MOORE",
    "JACKSON",
    "MARTIN",
    "LEE",
    "PEREZ",
    "THOMPSON",
    "WHITE",
    "HARRIS",
    "SANCHEZ",
    "CLARK",
    "RAMIREZ",
    "LEWIS",
    "ROBINSON",
    "WALKER",
    "YOUNG",
    "ALLEN",
    "KING",
    "WRIGHT",
    "SCOTT",
    "TORRES",
    "NGUYEN",
    "HILL",
    "FLORES",
    "GREEN",
    "ADAMS",
    "NELSON",
    "BAKER",
    "HALL",
    "RIVERA",
    "CAMPBELL",
    "MITCHELL",
    "CARTER",
    "ROBERTS",
    "O'CONNOR",
    "MCDONALD",
    "DE LA CRUZ",
    "SMITH-JONES",
    "KOWALSKI",
    "NAKAMURA",
    "OKAFOR",
    "LINDQVIST",
    "PETROVIC",
    "DUBOIS",
];

const FIRST_F: &[&str] = &[
    "MARY",
    "PATRICIA",
    "LINDA",
    "BARBARA",
    "ELIZABETH",
    "JENNIFER",
    "MARIA",
    "SUSAN",
    "MARGARET",
    "DOROTHY",
    "LISA",
    "NANCY",
    "KAREN",
    "BETTY",
    "HELEN",
    "SANDRA",
    "DONNA",
    "CAROL",
    "RUTH",
    "SHARON",
    "MICHELLE",
    "LAURA",
    "SARAH",
    "KIMBERLY",
    "DEBORAH",
    "JESSICA",
    "SHIRLEY",
    "CYNTHIA",
    "ANGELA",
    "MELISSA",
    "ANNE-MARIE",
    "JO ANN",
];

const FIRST_M: &[&str] = &[
    "JAMES",
    "JOHN",
    "ROBERT",
    "MICHAEL",
    "WILLIAM",
    "DAVID",
    "RICHARD",
    "CHARLES",
    "JOSEPH",
    "THOMAS",
    "CHRISTOPHER",
    "DANIEL",
    "PAUL",
    "MARK",
    "DONALD",
    "GEORGE",
    "KENNETH",
    "STEVEN",
    "EDWARD",
    "BRIAN",
    "RONALD",
    "ANTHONY",
    "KEVIN",
    "JASON",
    "MATTHEW",
    "GARY",
    "TIMOTHY",
    "JOSE",
    "LARRY",
    "JEFFREY",
    "FRANK",
    "SCOTT",
];

const STREETS: &[&str] = &[
    "MAIN ST",
    "OAK AVE",
    "MAPLE DR",
    "CEDAR LN",
    "PINE ST",
    "ELM ST",
    "WASHINGTON AVE",
    "LAKE RD",
    "HILL ST",
    "PARK AVE",
    "RIVER RD",
    "CHURCH ST",
    "HIGH ST",
    "MILL RD",
    "SUNSET BLVD",
    "FOREST DR",
];

const PLACES: &[(&str, &str, &str)] = &[
    ("BALTIMORE", "MD", "212"),
    ("TOWSON", "MD", "212"),
    ("PHILADELPHIA", "PA", "191"),
    ("PITTSBURGH", "PA", "152"),
    ("RICHMOND", "VA", "232"),
    ("COLUMBUS", "OH", "432"),
    ("CLEVELAND", "OH", "441"),
    ("DETROIT", "MI", "482"),
    ("CHICAGO", "IL", "606"),
    ("MILWAUKEE", "WI", "532"),
    ("MINNEAPOLIS", "MN", "554"),
    ("ST LOUIS", "MO", "631"),
    ("ATLANTA", "GA", "303"),
    ("MIAMI", "FL", "331"),
    ("TAMPA", "FL", "336"),
    ("ORLANDO", "FL", "328"),
    ("DALLAS", "TX", "752"),
    ("HOUSTON", "TX", "770"),
    ("SAN ANTONIO", "TX", "782"),
    ("PHOENIX", "AZ", "850"),
    ("DENVER", "CO", "802"),
    ("SEATTLE", "WA", "981"),
    ("PORTLAND", "OR", "972"),
    ("LOS ANGELES", "CA", "900"),
    ("SAN DIEGO", "CA", "921"),
    ("BOSTON", "MA", "021"),
    ("NEW YORK", "NY", "100"),
    ("BUFFALO", "NY", "142"),
];

const ORG_PLACES: &[&str] = &[
    "BAYVIEW",
    "CEDAR",
    "NORTHGATE",
    "RIVERSIDE",
    "SUMMIT",
    "VALLEY",
    "LAKEVIEW",
    "HIGHLAND",
    "MERIDIAN",
    "PIONEER",
    "GRANITE",
    "COASTAL",
    "MIDTOWN",
    "WESTFIELD",
    "EASTSIDE",
    "PARKWAY",
];

const ORG_WORDS: &[&str] =
    &["FAMILY", "COMMUNITY", "REGIONAL", "GENERAL", "UNITED", "PREMIER", "CAPITAL", "HERITAGE", "ADVANCED", "CARE"];

const ORG_KINDS: &[&str] = &[
    "MEDICINE",
    "HOSPITAL",
    "CLINIC",
    "MEDICAL GROUP",
    "IMAGING",
    "HOME HEALTH",
    "HOSPICE",
    "DIALYSIS CENTER",
    "LABORATORY",
    "PHARMACY",
    "PHYSICAL THERAPY",
    "CARDIOLOGY",
];

const SUBMITTER_KINDS: &[&str] = &["CLEARINGHOUSE", "BILLING SERVICES", "EDI SERVICES", "REVENUE CYCLE LLC"];

#[cfg(test)]
mod tests {
    use super::*;
    use eligibility::ids::{is_valid_mbi, is_valid_npi};

    fn today() -> Date {
        Date { year: 2026, month: 11, day: 16 }
    }

    #[test]
    fn mbi_encoding_is_ordered_and_valid() {
        assert_eq!(mbi_from_index(0), "1A00A00AA00");
        assert_eq!(mbi_from_index(mbi_space() - 1), "9YY9YY9YY99");
        let mut last = String::new();
        for v in (0..mbi_space()).step_by((mbi_space() / 5000) as usize) {
            let m = mbi_from_index(v);
            assert!(is_valid_mbi(m.as_bytes()), "{m}");
            assert!(m > last, "{m} after {last}");
            last = m;
        }
    }

    #[test]
    fn deterministic_unique_valid_and_ascending() {
        let p = Population::new(7, 5000, 300, 20, today());
        let q = Population::new(7, 5000, 300, 20, today());
        let other = Population::new(8, 5000, 300, 20, today());
        assert_eq!(p.beneficiary(1234), q.beneficiary(1234));
        assert_ne!(p.mbi(1234), other.mbi(1234));
        let mbis: Vec<String> = (0..5000).map(|i| p.mbi(i)).collect();
        assert!(mbis.windows(2).all(|w| w[0] < w[1]), "ascending, hence unique");
        assert!(mbis.iter().all(|m| is_valid_mbi(m.as_bytes())));
        let npis: HashSet<String> = (0..300).map(|j| p.npi(j)).collect();
        assert_eq!(npis.len(), 300);
        assert!(npis.iter().all(|n| is_valid_npi(n.as_bytes())));
        for rel in p.relationships() {
            assert!(npis.contains(&rel.npi));
        }
        for b in p.beneficiaries(0..2000) {
            for s in &b.services {
                assert!(is_valid_npi(s.npi.as_bytes()));
                assert!(s.date <= today());
            }
        }
    }

    #[test]
    fn reserved_keys_are_kept_out() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
        let personas = Personas::from_toml(&text).unwrap();
        let p = Population::new(1, 100, 10, 1, today()).reserving(&personas);
        assert!(p.reserved_mbis.contains(&personas.beneficiaries[0].mbi));
        // Force a clash: reserve the MBI that index 5 would get, and the NPI of provider 3.
        let (natural_mbi, natural_npi) = (p.mbi(5), p.npi(3));
        let mut q = p.clone();
        q.reserved_mbis.insert(natural_mbi.clone());
        q.reserved_npis.insert(natural_npi.clone());
        let (mbi, npi) = (q.mbi(5), q.npi(3));
        assert_ne!(mbi, natural_mbi);
        assert_ne!(npi, natural_npi);
        assert!(is_valid_mbi(mbi.as_bytes()) && is_valid_npi(npi.as_bytes()));
        // Still inside its own stride, so still between its neighbours.
        assert!(q.mbi(4) < mbi && mbi < q.mbi(6));
    }

    #[test]
    fn the_mix_is_realistic() {
        let p = Population::new(42, 20_000, 500, 10, today());
        let all: Vec<Beneficiary> = p.beneficiaries(0..20_000).collect();
        let share = |f: &dyn Fn(&Beneficiary) -> bool| all.iter().filter(|b| f(b)).count() as f64 / all.len() as f64;
        let ma = share(&|b| b.medicare_advantage.iter().any(|m| m.to.is_none()));
        assert!((0.40..0.55).contains(&ma), "MA {ma}");
        assert!(share(&|b| !b.part_d.is_empty()) > 0.6);
        for (name, s) in [
            ("msp", share(&|b| !b.msp.is_empty())),
            ("hospice", share(&|b| !b.hospice.is_empty())),
            ("home health", share(&|b| !b.home_health.is_empty())),
            ("esrd", share(&|b| !b.esrd.is_empty())),
            ("dead", share(&|b| b.date_of_death.is_some())),
            ("qmb", share(&|b| !b.qmb.is_empty())),
            ("services", share(&|b| !b.services.is_empty())),
            ("benefit periods", share(&|b| !b.benefit_periods.is_empty())),
        ] {
            assert!(s > 0.005 && s < 0.95, "{name} {s}");
        }
        for b in &all {
            for period in b.part_a.iter().chain(&b.part_b) {
                assert!(period.to.is_none_or(|to| to >= period.from), "{period:?}");
            }
            if let Some(death) = b.date_of_death {
                assert!(b.part_a.iter().all(|p| p.to == Some(death)));
            }
        }
    }
}
