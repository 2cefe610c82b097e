//! What the system knows: beneficiaries and their Medicare records, the provider enrollment
//! registry, submitters and their NPIs, and the yearly cost-sharing figures.
//!
//! The field names are those of `data/personas.toml`, so the demo dataset deserialises into these
//! types as it is. Every type also round-trips through the store's binary encoding: fields are
//! never skipped when serialising (`#[serde(default)]` only makes TOML input lenient).

use serde::{Deserialize, Serialize};
use x12::Date;

/// A date range: `from` inclusive, `to` inclusive and open when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub from: Date,
    #[serde(default)]
    pub to: Option<Date>,
}

impl Period {
    pub fn contains(&self, day: Date) -> bool {
        self.from <= day && self.to.is_none_or(|to| day <= to)
    }

    /// True when the period shares at least one day with `from..=to`.
    pub fn overlaps(&self, from: Date, to: Date) -> bool {
        self.from <= to && self.to.is_none_or(|end| end >= from)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub zip: String,
}

/// What the claims system has counted for one calendar year.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearUsage {
    pub year: u16,
    #[serde(default)]
    pub part_b_deductible_met: f64,
    #[serde(default)]
    pub pt_slp_used: f64,
    #[serde(default)]
    pub ot_used: f64,
    #[serde(default)]
    pub smoking_cessation_used: u16,
    #[serde(default)]
    pub blood_pints_used: u16,
    #[serde(default)]
    pub pulmonary_rehab_used: u16,
    #[serde(default)]
    pub cardiac_rehab_used: u16,
}

/// One paid service: the history behind preventive next-eligible dates and prior usage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub hcpcs: String,
    pub date: Date,
    /// Rendering (Part B) or institutional (Part A) NPI.
    pub npi: String,
}

/// A Medicare Advantage (Part C) enrollment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaEnrollment {
    pub contract: String,
    pub pbp: String,
    /// EB04 insurance type: `HM`, `HN`, `IN`, `PR`, `PS`.
    pub plan_type: String,
    /// MCO bill option code (`A`, `B`, `C`, `1`, `2`).
    pub bill_option: String,
    pub from: Date,
    #[serde(default)]
    pub to: Option<Date>,
    pub plan_name: String,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
}

/// A Part D (prescription drug plan) enrollment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartDEnrollment {
    pub contract: String,
    pub pbp: String,
    pub from: Date,
    #[serde(default)]
    pub to: Option<Date>,
    pub plan_name: String,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HospiceElection {
    pub from: Date,
    #[serde(default)]
    pub to: Option<Date>,
    pub npi: String,
    /// `0` not revoked, `1`–`3` the ways an election is revoked.
    pub revocation_code: String,
    pub benefit_period: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeHealthPeriod {
    pub from: Date,
    pub to: Date,
    pub npi: String,
    /// Earliest and latest billing action (DOEBA / DOLBA).
    pub first_billed: Date,
    pub last_billed: Date,
}

/// A Medicare Secondary Payer record: another payer is primary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MspRecord {
    /// EB04 MSP type (`12` working aged, `13` ESRD coordination period, ...).
    #[serde(rename = "type")]
    pub msp_type: String,
    pub from: Date,
    #[serde(default)]
    pub to: Option<Date>,
    pub payer: String,
    pub policy: String,
    #[serde(default)]
    pub address: Option<Address>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EsrdRecord {
    /// EB03 method category: `14`, `15` or `16`.
    pub dialysis_method: String,
    pub from: Date,
    #[serde(default)]
    pub transplant_discharge: Option<Date>,
    pub npi: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QmbPeriod {
    pub from: Date,
    #[serde(default)]
    pub to: Option<Date>,
    pub state: String,
}

/// An inpatient benefit period (spell of illness).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenefitPeriod {
    pub first_billed: Date,
    pub last_billed: Date,
    #[serde(default)]
    pub hospital_days_used: u16,
    #[serde(default)]
    pub snf_days_used: u16,
    #[serde(default)]
    pub part_a_deductible_met: f64,
}

/// A Medicare beneficiary and everything the 271 can say about him or her.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Beneficiary {
    /// The persona key in the demo dataset; empty for other records.
    #[serde(default)]
    pub key: String,
    pub mbi: String,
    pub last_name: String,
    pub first_name: String,
    #[serde(default)]
    pub middle_initial: Option<String>,
    #[serde(default)]
    pub name_suffix: Option<String>,
    pub birth_date: Option<Date>,
    /// `F`, `M` or `U`.
    pub gender: String,
    #[serde(default)]
    pub date_of_death: Option<Date>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub part_a: Vec<Period>,
    #[serde(default)]
    pub part_b: Vec<Period>,
    #[serde(default)]
    pub usage: Vec<YearUsage>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub medicare_advantage: Vec<MaEnrollment>,
    #[serde(default)]
    pub part_d: Vec<PartDEnrollment>,
    #[serde(default)]
    pub hospice: Vec<HospiceElection>,
    #[serde(default)]
    pub home_health: Vec<HomeHealthPeriod>,
    #[serde(default)]
    pub msp: Vec<MspRecord>,
    #[serde(default)]
    pub esrd: Vec<EsrdRecord>,
    #[serde(default)]
    pub qmb: Vec<QmbPeriod>,
    #[serde(default)]
    pub lifetime_reserve_days_used: u16,
    #[serde(default)]
    pub benefit_periods: Vec<BenefitPeriod>,
}

/// Medicare enrollment of a provider: the registry the NPI checks run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enrollment {
    Active,
    Terminated,
    Revoked,
    NotEnrolled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Person,
    Organization,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub npi: String,
    /// Organisation name, or the person's last name.
    pub name: String,
    #[serde(default)]
    pub first_name: Option<String>,
    pub entity: EntityKind,
    pub medicare: Enrollment,
    #[serde(default)]
    pub enrolled_on: Option<Date>,
    #[serde(default)]
    pub ended_on: Option<Date>,
}

impl Provider {
    /// Whether Medicare enrollment lets this NPI inquire on `day`.
    pub fn standing_on(&self, day: Date) -> ProviderStanding {
        match self.medicare {
            Enrollment::NotEnrolled => ProviderStanding::NotEnrolled,
            _ if self.enrolled_on.is_some_and(|from| day < from) => ProviderStanding::NotEnrolled,
            Enrollment::Active => ProviderStanding::Enrolled,
            Enrollment::Terminated | Enrollment::Revoked => match self.ended_on {
                Some(end) if day < end => ProviderStanding::Enrolled,
                _ => ProviderStanding::Ended,
            },
        }
    }
}

/// A provider's standing on one day, as the 2100B checks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderStanding {
    Enrolled,
    /// Terminated or revoked on or before the day (AAA 50).
    Ended,
    /// Never enrolled, or not yet (AAA 51).
    NotEnrolled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitterStatus {
    Active,
    Suspended,
    Terminated,
    PermanentlyTerminated,
}

/// A trading partner as the demo dataset describes it (the password is the demo's clear text;
/// the store keeps only its hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitterSeed {
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: SubmitterStatus,
    #[serde(default)]
    pub suspended_until: Option<String>,
    #[serde(default)]
    pub suspensions: u16,
    pub password: String,
    #[serde(default)]
    pub npis: Vec<String>,
}

/// Medicare cost sharing for one calendar year.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostSharing {
    pub year: u16,
    pub part_a_deductible: f64,
    pub part_a_coinsurance_day_61_90: f64,
    pub part_a_lifetime_reserve_day: f64,
    pub snf_coinsurance_day_21_100: f64,
    pub part_b_deductible: f64,
    pub part_b_coinsurance_rate: f64,
    pub blood_deductible_pints: u16,
    pub smoking_cessation_sessions: u16,
    pub pulmonary_rehab_sessions: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetMeta {
    pub format: u32,
    pub reference_date: Date,
}

/// The demo dataset (`data/personas.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personas {
    pub meta: DatasetMeta,
    #[serde(default)]
    pub cost_sharing: Vec<CostSharing>,
    #[serde(default, rename = "provider")]
    pub providers: Vec<Provider>,
    #[serde(default, rename = "submitter")]
    pub submitters: Vec<SubmitterSeed>,
    #[serde(default, rename = "beneficiary")]
    pub beneficiaries: Vec<Beneficiary>,
}

#[derive(Debug, thiserror::Error)]
#[error("the personas file is not valid: {0}")]
pub struct PersonasError(#[from] toml::de::Error);

impl Personas {
    pub fn from_toml(text: &str) -> Result<Personas, PersonasError> {
        Ok(toml::from_str(text)?)
    }

    pub fn beneficiary(&self, key: &str) -> Option<&Beneficiary> {
        self.beneficiaries.iter().find(|b| b.key == key)
    }
}
