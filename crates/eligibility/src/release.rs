//! Releases (decision D7): the content rules a 271 follows, each in force from an instant.
//!
//! Releases are configuration files (`config/releases/*.toml`), versioned with the code and
//! compiled in; an operator may hand in others. The release in force at the transaction instant
//! decides the answer, so replaying a 270 at a past instant reproduces the past answer.

use crate::Instant;
use serde::Deserialize;

/// How pneumococcal vaccines (90670, 90732) are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PpvMode {
    /// By next eligible date, like the other preventive codes.
    NextEligible,
    /// Not at all.
    Suspended,
    /// By the most recent paid services, each with its date and NPI.
    PriorUsage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrequencyRule {
    Lifetime,
}

/// One preventive service of the catalog.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreventiveService {
    pub hcpcs: String,
    pub service: String,
    /// Once per lifetime.
    #[serde(default)]
    pub rule: Option<FrequencyRule>,
    /// Or: the next eligible date is the first day of the month this many months after the
    /// month of the last paid service.
    #[serde(default)]
    pub months: Option<u16>,
    /// Whether the Part B deductible applies.
    #[serde(default)]
    pub deductible: bool,
    /// Coinsurance rate (0.2 = 20%).
    #[serde(default)]
    pub coinsurance: f64,
    /// A pneumococcal vaccine: answered per the release's `ppv` mode.
    #[serde(default)]
    pub ppv: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub id: String,
    pub effective: Instant,
    pub summary: String,
    pub ppv: PpvMode,
    pub prior_usage_limit: usize,
    pub preventive: Vec<PreventiveService>,
    /// The HDT Batch upload file name convention from this release on (D16), with the
    /// placeholders `{ID}` (the submitter id), `{YYYYMMDD}` (the upload date) and `{NNN}` (a
    /// three-digit sequence number); absent, the previous release's convention stays in force.
    #[serde(default)]
    pub hdt_batch_name: Option<String>,
}

/// The HDT Batch naming convention before any release names one (before R2020Q100, which
/// changed it, a submitter sent at most one file a day).
pub const HDT_BATCH_NAME_BEFORE_R2020Q100: &str = "{ID}_HDT_{YYYYMMDD}.csv";

impl Release {
    pub fn preventive(&self, hcpcs: &str) -> Option<&PreventiveService> {
        self.preventive.iter().find(|p| p.hcpcs == hcpcs)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("release file {file}: {source}")]
    Parse { file: String, source: toml::de::Error },
    #[error(
        "release file {file}: a preventive service needs exactly one of rule = \"lifetime\" or months = N ({hcpcs})"
    )]
    Rule { file: String, hcpcs: String },
    #[error("two releases share the id {0}")]
    DuplicateId(String),
    #[error("no release files")]
    Empty,
}

/// All known releases, ordered by effective instant.
#[derive(Clone, Debug)]
pub struct Releases(Vec<Release>);

/// The releases shipped in `config/releases/`.
const BUILTIN: &[(&str, &str)] = &[
    ("R2019Q400.toml", include_str!("../../../config/releases/R2019Q400.toml")),
    ("R2020Q100.toml", include_str!("../../../config/releases/R2020Q100.toml")),
    ("R2020Q200.toml", include_str!("../../../config/releases/R2020Q200.toml")),
];

impl Releases {
    /// Parses release files given as (file name, text).
    pub fn parse(files: &[(&str, &str)]) -> Result<Releases, ReleaseError> {
        let mut out = Vec::with_capacity(files.len());
        for (file, text) in files {
            let r: Release =
                toml::from_str(text).map_err(|source| ReleaseError::Parse { file: file.to_string(), source })?;
            if let Some(p) = r.preventive.iter().find(|p| p.rule.is_some() == p.months.is_some()) {
                return Err(ReleaseError::Rule { file: file.to_string(), hcpcs: p.hcpcs.clone() });
            }
            if out.iter().any(|o: &Release| o.id == r.id) {
                return Err(ReleaseError::DuplicateId(r.id));
            }
            out.push(r);
        }
        if out.is_empty() {
            return Err(ReleaseError::Empty);
        }
        out.sort_by_key(|r| r.effective);
        Ok(Releases(out))
    }

    /// The releases compiled in from `config/releases/`.
    pub fn builtin() -> Result<Releases, ReleaseError> {
        Releases::parse(BUILTIN)
    }

    /// The release in force at `at`: the latest whose effective instant is not after it (the
    /// earliest one for instants before every release).
    pub fn in_force(&self, at: Instant) -> &Release {
        let i = self.0.partition_point(|r| r.effective <= at);
        &self.0[i.saturating_sub(1)]
    }

    pub fn all(&self) -> &[Release] {
        &self.0
    }

    /// The HDT Batch file name convention in force at `at` and the release that set it (`None`
    /// when no release up to `at` names one: [`HDT_BATCH_NAME_BEFORE_R2020Q100`]).
    pub fn hdt_batch_name(&self, at: Instant) -> (&str, Option<&Release>) {
        let i = self.0.partition_point(|r| r.effective <= at);
        self.0[..i]
            .iter()
            .rev()
            .find_map(|r| r.hdt_batch_name.as_deref().map(|n| (n, Some(r))))
            .unwrap_or((HDT_BATCH_NAME_BEFORE_R2020Q100, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hdt_batch_name_changed_with_r2020q100_and_is_inherited() {
        let r = Releases::builtin().unwrap();
        let at = |s: &str| Instant::parse_rfc3339(s).unwrap();
        let (name, set_by) = r.hdt_batch_name(at("2020-03-14T19:59:59Z"));
        assert_eq!((name, set_by.map(|r| r.id.as_str())), (HDT_BATCH_NAME_BEFORE_R2020Q100, None));
        let (name, set_by) = r.hdt_batch_name(at("2026-11-16T09:30:00Z"));
        assert_eq!((name, set_by.map(|r| r.id.as_str())), ("{ID}_HDTB_{YYYYMMDD}_{NNN}.csv", Some("R2020Q100")));
    }

    #[test]
    fn the_shipped_releases_parse_and_switch_at_their_instants() {
        let r = Releases::builtin().unwrap();
        let at = |s: &str| Instant::parse_rfc3339(s).unwrap();
        assert_eq!(r.in_force(at("2020-03-01T12:00:00Z")).id, "R2019Q400");
        assert_eq!(r.in_force(at("2020-03-14T19:59:59Z")).id, "R2019Q400");
        assert_eq!(r.in_force(at("2020-03-14T20:00:00Z")).id, "R2020Q100");
        assert_eq!(r.in_force(at("2020-03-20T12:00:00Z")).ppv, PpvMode::Suspended);
        assert_eq!(r.in_force(at("2020-05-01T12:00:00Z")).ppv, PpvMode::PriorUsage);
        assert_eq!(r.in_force(at("2026-11-16T09:30:00Z")).id, "R2020Q200");
        assert_eq!(r.in_force(at("2001-01-01T00:00:00Z")).id, "R2019Q400");
        let g0439 = r.in_force(at("2026-11-16T09:30:00Z")).preventive("G0439").unwrap();
        assert_eq!(g0439.months, Some(12));
    }

    #[test]
    fn a_service_needs_one_rule() {
        let bad = "id='X'\neffective='2020-01-01T00:00:00Z'\nsummary=''\nppv='suspended'\nprior_usage_limit=10\n[[preventive]]\nhcpcs='G0438'\nservice='x'\n";
        assert!(matches!(Releases::parse(&[("x.toml", bad)]), Err(ReleaseError::Rule { .. })));
    }
}
