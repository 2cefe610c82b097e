//! How values become columns, shared by both backends so that both store the same bytes and
//! the same text.

use crate::{Outcome, RelationshipStatus, StoreError};
use eligibility::{Beneficiary, Enrollment, EntityKind, Instant, SubmitterStatus};
use x12::Date;

/// The first byte of every beneficiary blob. A later change of `eligibility::Beneficiary` that
/// breaks the encoding bumps it and teaches `decode_beneficiary` the old one, so stored rows stay
/// readable without a rewrite of millions of rows.
const BLOB_FORMAT: u8 = 1;

/// `BLOB_FORMAT` then postcard: compact (dates are day numbers, integers varints) and fast both
/// ways.
pub fn encode_beneficiary(b: &Beneficiary, out: &mut Vec<u8>) -> Result<(), StoreError> {
    out.clear();
    out.push(BLOB_FORMAT);
    let body = postcard::to_extend(b, std::mem::take(out)).map_err(|e| StoreError::corrupt("beneficiary", e))?;
    *out = body;
    Ok(())
}

pub fn decode_beneficiary(blob: &[u8]) -> Result<Beneficiary, StoreError> {
    match blob.split_first() {
        Some((&BLOB_FORMAT, body)) => postcard::from_bytes(body).map_err(|e| StoreError::corrupt("beneficiary", e)),
        Some((v, _)) => Err(StoreError::corrupt("beneficiary", format!("unknown blob format {v}"))),
        None => Err(StoreError::corrupt("beneficiary", "empty blob")),
    }
}

/// Instants are kept as milliseconds since the epoch (exact for the hundredths an `Instant`
/// carries), an integer both databases index and compare natively.
pub fn instant_to_millis(at: Instant) -> i64 {
    at.unix_seconds * 1000 + i64::from(at.centis) * 10
}

pub fn millis_to_instant(ms: i64) -> Instant {
    Instant { unix_seconds: ms.div_euclid(1000), centis: (ms.rem_euclid(1000) / 10) as u8 }
}

/// Dates are kept as `YYYY-MM-DD` text in SQLite and as DATE in PostgreSQL (written and read
/// through the same text).
pub fn date_text(d: Date) -> String {
    d.to_string()
}

pub fn parse_date(what: &'static str, s: &str) -> Result<Date, StoreError> {
    Date::parse_iso(s).ok_or_else(|| StoreError::corrupt(what, format!("`{s}` is not a date")))
}

pub fn parse_opt_date(what: &'static str, s: Option<String>) -> Result<Option<Date>, StoreError> {
    s.map(|s| parse_date(what, &s)).transpose()
}

/// Short code lists (AAA codes, service types) as comma-separated text: codes never contain a
/// comma, and the text reads well in an ad-hoc query.
pub fn join_codes(codes: &[String]) -> String {
    codes.join(",")
}

pub fn split_codes(s: &str) -> Vec<String> {
    if s.is_empty() { Vec::new() } else { s.split(',').map(str::to_string).collect() }
}

pub fn enrollment_text(e: Enrollment) -> &'static str {
    match e {
        Enrollment::Active => "active",
        Enrollment::Terminated => "terminated",
        Enrollment::Revoked => "revoked",
        Enrollment::NotEnrolled => "not_enrolled",
    }
}

pub fn parse_enrollment(s: &str) -> Option<Enrollment> {
    match s {
        "active" => Some(Enrollment::Active),
        "terminated" => Some(Enrollment::Terminated),
        "revoked" => Some(Enrollment::Revoked),
        "not_enrolled" => Some(Enrollment::NotEnrolled),
        _ => None,
    }
}

pub fn entity_text(e: EntityKind) -> &'static str {
    match e {
        EntityKind::Person => "person",
        EntityKind::Organization => "organization",
    }
}

pub fn parse_entity(s: &str) -> Option<EntityKind> {
    match s {
        "person" => Some(EntityKind::Person),
        "organization" => Some(EntityKind::Organization),
        _ => None,
    }
}

pub fn submitter_status_text(s: SubmitterStatus) -> &'static str {
    match s {
        SubmitterStatus::Active => "active",
        SubmitterStatus::Suspended => "suspended",
        SubmitterStatus::Terminated => "terminated",
        SubmitterStatus::PermanentlyTerminated => "permanently_terminated",
    }
}

pub fn parse_submitter_status(s: &str) -> Option<SubmitterStatus> {
    match s {
        "active" => Some(SubmitterStatus::Active),
        "suspended" => Some(SubmitterStatus::Suspended),
        "terminated" => Some(SubmitterStatus::Terminated),
        "permanently_terminated" => Some(SubmitterStatus::PermanentlyTerminated),
        _ => None,
    }
}

pub fn need<T>(what: &'static str, column: &str, value: &str, parsed: Option<T>) -> Result<T, StoreError> {
    parsed.ok_or_else(|| StoreError::corrupt(what, format!("column {column} holds `{value}`")))
}

pub fn relationship_status(s: &str) -> Result<RelationshipStatus, StoreError> {
    need("relationship", "status", s, RelationshipStatus::parse(s))
}

pub fn outcome(s: &str) -> Result<Outcome, StoreError> {
    need("transaction record", "outcome", s, Outcome::parse(s))
}

/// The suspension end of a submitter seed (RFC 3339 text in the personas file).
pub fn seed_suspended_until(s: Option<&str>) -> Result<Option<Instant>, StoreError> {
    s.map(|t| Instant::parse_rfc3339(t).map_err(|e| StoreError::invalid("submitter", format!("suspended_until: {e}"))))
        .transpose()
}

/// Keeps the last of several items with the same key: a batch that names one key twice means
/// what a sequence of single writes would (the last wins), and PostgreSQL's upsert refuses to
/// touch one row twice in one statement.
pub fn last_per_key<'a, T, K: std::hash::Hash + Eq>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    let mut out: Vec<&T> = items.iter().rev().filter(|t| seen.insert(key(t))).collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_through_millis() {
        for (secs, centis) in [(0i64, 0u8), (1_794_000_000, 37), (-86_401, 99)] {
            let at = Instant { unix_seconds: secs, centis };
            assert_eq!(millis_to_instant(instant_to_millis(at)), at);
        }
    }

    #[test]
    fn blobs_carry_their_format() {
        let b = Beneficiary { mbi: "2DG9NX3WK42".into(), gender: "F".into(), ..Beneficiary::default() };
        let mut blob = Vec::new();
        encode_beneficiary(&b, &mut blob).unwrap();
        assert_eq!(blob[0], BLOB_FORMAT);
        assert_eq!(decode_beneficiary(&blob).unwrap(), b);
        blob[0] = 99;
        assert!(decode_beneficiary(&blob).is_err());
        assert!(decode_beneficiary(&[]).is_err());
    }

    #[test]
    fn code_lists() {
        assert_eq!(split_codes(""), Vec::<String>::new());
        let v = vec!["72".to_string(), "73".to_string()];
        assert_eq!(split_codes(&join_codes(&v)), v);
    }

    #[test]
    fn last_of_each_key_wins_in_order() {
        let items = [(1, 'a'), (2, 'b'), (1, 'c')];
        let kept: Vec<_> = last_per_key(&items, |t| t.0).into_iter().copied().collect();
        assert_eq!(kept, vec![(2, 'b'), (1, 'c')]);
    }
}
