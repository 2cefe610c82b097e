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

/// The first byte of a replayable answer kept compressed. An answer is X12 (it starts with `I` of
/// ISA) and never holds a NUL, so answers stored before compression, as they were sent, stay
/// readable as they are.
const PACKED_ANSWER: u8 = 0;
/// What LZ4 may copy from besides the answer itself: a typical 271 of this system (an MA
/// subscriber's full answer, the person's name, address, birth date and MBI replaced). Most of
/// an answer is the same envelope, EB/HSD/DTP lines, service type lists and messages, so with it
/// a 2.9 KB answer keeps about 400 bytes (without it, about 1.4 KB). Part of the stored format:
/// never edit it; a new dictionary needs a new first byte.
const ANSWER_DICTIONARY: &[u8] = include_bytes!("answer-dictionary.x12");
/// Answers shorter than this are kept as they are: there is little to gain on a TA1.
const PACK_FROM: usize = 256;
/// No answer is larger (the server refuses requests over its size limit, and a 271 answers one
/// subscriber); a larger length in a packed answer's header means the row is damaged.
const MAX_ANSWER: usize = 16 << 20;

/// A replayable answer (D11) as the SQLite store keeps it: `PACKED_ANSWER`, the answer's length
/// (u32, little-endian), then its LZ4 block against [`ANSWER_DICTIONARY`]. Each group commit
/// and each checkpoint writes the answers' pages, so a seventh of the bytes is a seventh of the
/// pages. An answer that would not shrink is kept as it is.
pub fn pack_answer(answer: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let len = u32::try_from(answer.len()).ok().filter(|_| answer.len() >= PACK_FROM && answer.len() <= MAX_ANSWER);
    if let Some(len) = len {
        out.push(PACKED_ANSWER);
        out.extend_from_slice(&len.to_le_bytes());
        out.resize(5 + lz4_flex::block::get_maximum_output_size(answer.len()), 0);
        if let Ok(n) = lz4_flex::block::compress_into_with_dict(answer, &mut out[5..], ANSWER_DICTIONARY)
            && 5 + n < answer.len()
        {
            out.truncate(5 + n);
            return;
        }
        out.clear();
    }
    out.extend_from_slice(answer);
}

/// Whether `stored` is already in the form [`pack_answer`] keeps: compressed (an answer never
/// starts with a NUL), or too short to compress.
pub fn is_packed(stored: &[u8]) -> bool {
    stored.first() == Some(&PACKED_ANSWER) || stored.len() < PACK_FROM
}

/// The answer [`pack_answer`] kept, whichever way it kept it.
pub fn unpack_answer(stored: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    match stored.split_first() {
        Some((&PACKED_ANSWER, rest)) => {
            let damaged = |why: String| StoreError::corrupt("replayable answer", why);
            let (len, block) = rest.split_first_chunk::<4>().ok_or_else(|| damaged("no length".into()))?;
            let len = u32::from_le_bytes(*len) as usize;
            if len > MAX_ANSWER {
                return Err(damaged(format!("a length of {len} bytes")));
            }
            let answer = lz4_flex::block::decompress_with_dict(block, len, ANSWER_DICTIONARY)
                .map_err(|e| damaged(e.to_string()))?;
            if answer.len() != len {
                return Err(damaged(format!("{} bytes where {len} were kept", answer.len())));
            }
            Ok(answer)
        }
        _ => Ok(stored),
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
    fn answers_are_kept_compressed_and_come_back_exact() {
        let answer = include_bytes!("../../../tests/data/x12/valid/271-original-medicare.x12");
        let mut kept = Vec::new();
        pack_answer(answer, &mut kept);
        assert_eq!(kept[0], PACKED_ANSWER);
        assert_eq!(kept[1..5], (answer.len() as u32).to_le_bytes());
        // An original-Medicare persona's 271 (1,952 bytes), unlike the dictionary's MA answer.
        assert!(kept.len() * 3 < answer.len(), "{} of {} bytes", kept.len(), answer.len());
        assert_eq!(unpack_answer(kept).unwrap(), answer);
    }

    #[test]
    fn short_or_incompressible_answers_and_old_rows_are_kept_as_they_are() {
        let ta1 = b"ISA*00*          *00*          *ZZ*CMS            *ZZ*WDEMO001       *261205*1023*^*00501*000005001*0*P*|~TA1*000000001*261205*1023*R*022~IEA*0*000005001~";
        let mut kept = Vec::new();
        pack_answer(ta1, &mut kept);
        assert_eq!(kept, ta1);
        // Bytes with no repeats (xorshift) do not shrink.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8 | 1
            })
            .collect();
        pack_answer(&noise, &mut kept);
        assert_eq!(kept, noise);
        assert_eq!(unpack_answer(noise.clone()).unwrap(), noise);
        // Rows stored before compression.
        assert_eq!(unpack_answer(ta1.to_vec()).unwrap(), ta1);
        assert_eq!(unpack_answer(Vec::new()).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn a_damaged_packed_answer_is_an_error_not_a_panic_or_a_huge_allocation() {
        let answer = include_bytes!("../../../tests/data/x12/valid/271-original-medicare.x12");
        let mut kept = Vec::new();
        pack_answer(answer, &mut kept);
        for cut in [1, 3, 5, kept.len() / 2, kept.len() - 1] {
            assert!(unpack_answer(kept[..cut].to_vec()).is_err(), "cut at {cut}");
        }
        let mut huge = kept.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unpack_answer(huge).is_err());
        let mut short = kept.clone();
        short[1..5].copy_from_slice(&10u32.to_le_bytes());
        assert!(unpack_answer(short).is_err());
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
