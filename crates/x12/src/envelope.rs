//! The interchange envelope: the fixed-width ISA, and the identities and delimiters an answer
//! must reuse.

use crate::ack::Ta1Code;
use crate::date::{Date, Time};
use crate::delimiters::Delimiters;
use serde::Serialize;

/// ISA field widths, ISA01..ISA16.
const WIDTHS: [usize; 16] = [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1];
/// The TA105 that describes a bad value in each ISA field.
const FIELD_CODES: [Ta1Code; 16] = [
    Ta1Code::AuthorizationQualifierInvalid,
    Ta1Code::AuthorizationInvalid,
    Ta1Code::SecurityQualifierInvalid,
    Ta1Code::SecurityInvalid,
    Ta1Code::SenderQualifierInvalid,
    Ta1Code::SenderIdInvalid,
    Ta1Code::ReceiverQualifierInvalid,
    Ta1Code::ReceiverIdInvalid,
    Ta1Code::DateInvalid,
    Ta1Code::TimeInvalid,
    Ta1Code::ElementSeparatorInvalid,
    Ta1Code::VersionIdInvalid,
    Ta1Code::ControlNumberInvalid,
    Ta1Code::AckRequestedInvalid,
    Ta1Code::TestIndicatorInvalid,
    Ta1Code::ComponentSeparatorInvalid,
];
/// Where each ISA field starts, by the widths.
const STARTS: [usize; 16] = {
    let mut starts = [0; 16];
    let mut at = 4;
    let mut i = 0;
    while i < 16 {
        starts[i] = at;
        at += WIDTHS[i] + 1;
        i += 1;
    }
    starts
};
/// Length of a complete ISA including its terminator.
pub const ISA_LEN: usize = 106;
const ID_QUALIFIERS: &[&str] = &["01", "14", "20", "27", "28", "29", "30", "33", "ZZ"];

/// What the ISA says. Identifiers are trimmed of their padding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InterchangeHeader<'a> {
    pub delimiters: Delimiters,
    pub sender_qualifier: &'a str,
    pub sender_id: &'a str,
    pub receiver_qualifier: &'a str,
    pub receiver_id: &'a str,
    /// ISA09 (YYMMDD) and ISA10 (HHMM) as sent.
    pub date: &'a str,
    pub time: &'a str,
    pub version: &'a str,
    pub control_number: &'a str,
    pub ack_requested: &'a str,
    /// ISA15: `P` production, `T` test. Answers carry the same.
    pub usage: &'a str,
}

/// Why an ISA could not be accepted, and what of it could be read for the TA1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsaFault<'a> {
    pub code: Ta1Code,
    pub detail: String,
    /// The best reading of the header, when the layout was readable at all.
    pub partial: Option<Box<InterchangeHeader<'a>>>,
}

/// Skips what senders put before the ISA: a byte-order mark and blank lines.
pub fn skip_preamble(input: &[u8]) -> usize {
    let mut i = if input.starts_with(&[0xEF, 0xBB, 0xBF]) { 3 } else { 0 };
    while i < input.len() && matches!(input[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

/// Reads and validates the ISA at the start of `input` (after [`skip_preamble`]).
pub fn read_isa<'a>(input: &'a [u8]) -> Result<InterchangeHeader<'a>, IsaFault<'a>> {
    read_isa_in(input, None)
}

/// [`read_isa`] given `input` as text when the caller has it (one UTF-8 check for the whole
/// interchange instead of one for the ISA and one for the rest).
pub(crate) fn read_isa_in<'a>(input: &'a [u8], text: Option<&'a str>) -> Result<InterchangeHeader<'a>, IsaFault<'a>> {
    let fault = |code, detail: &str| IsaFault { code, detail: detail.to_string(), partial: None };
    if input.is_empty() {
        return Err(fault(Ta1Code::PrematureEnd, "the interchange is empty"));
    }
    if !input.starts_with(b"ISA") {
        return Err(fault(Ta1Code::ControlStructureInvalid, "the interchange does not begin with an ISA segment"));
    }
    if input.len() < 4 {
        return Err(fault(Ta1Code::PrematureEnd, "the interchange ends inside the ISA segment"));
    }
    let sep = input[3];
    if !Delimiters::usable(sep) {
        return Err(fault(
            Ta1Code::ElementSeparatorInvalid,
            "the ISA element separator is a letter, digit, space or non-ASCII byte",
        ));
    }
    // The fixed layout: every separator where the widths put it. A whole ISA with every
    // separator in place (the usual case) is told by sixteen compares at fixed offsets and cut
    // at them; any other goes field by field, to name what is wrong.
    let fields: [&[u8]; 16] = match input.first_chunk::<ISA_LEN>() {
        Some(isa) if STARTS.iter().fold(true, |ok, &start| ok & (isa[start - 1] == sep)) => {
            std::array::from_fn(|i| &isa[STARTS[i]..STARTS[i] + WIDTHS[i]])
        }
        _ => {
            let mut at = 3;
            let mut fields: [&[u8]; 16] = [b""; 16];
            for (i, w) in WIDTHS.iter().enumerate() {
                if input.get(at) != Some(&sep) {
                    return Err(width_fault(input, sep));
                }
                let start = at + 1;
                let end = start + w;
                if end > input.len() {
                    return Err(fault(Ta1Code::PrematureEnd, "the interchange ends inside the ISA segment"));
                }
                fields[i] = &input[start..end];
                at = end;
            }
            if input.len() < ISA_LEN {
                return Err(fault(Ta1Code::PrematureEnd, "the interchange ends after the ISA segment's last element"));
            }
            fields
        }
    };
    let delimiters =
        Delimiters { element: sep, repetition: fields[10][0], component: fields[15][0], segment: input[105] };
    // One UTF-8 check for the sixteen fields instead of one per field. Every field starts after
    // and ends before an ASCII separator (or at the end of ISA16), so its offsets are char
    // boundaries of the text. When the ISA is not all UTF-8, each field is checked on its own.
    // Field `i` is `fields[i]`: every separator was found where the widths put it, so the
    // field lies at the fixed `STARTS[i]`, and the cut below needs no offsets kept per field.
    let isa_text = match text {
        Some(t) => t.get(..ISA_LEN - 1),
        None => std::str::from_utf8(&input[..ISA_LEN - 1]).ok(),
    };
    // Inlined (a closure here was not): ten cuts of a few instructions each, where the call
    // cost more than the cut.
    #[inline(always)]
    fn cut<'a>(isa_text: Option<&'a str>, fields: &[&'a [u8]; 16], i: usize) -> &'a str {
        match isa_text {
            Some(t) => t.get(STARTS[i]..STARTS[i] + WIDTHS[i]).unwrap_or(""),
            None => std::str::from_utf8(fields[i]).unwrap_or(""),
        }
    }
    let header = InterchangeHeader {
        delimiters,
        sender_qualifier: cut(isa_text, &fields, 4),
        sender_id: trim(cut(isa_text, &fields, 5)),
        receiver_qualifier: cut(isa_text, &fields, 6),
        receiver_id: trim(cut(isa_text, &fields, 7)),
        date: cut(isa_text, &fields, 8),
        time: cut(isa_text, &fields, 9),
        version: cut(isa_text, &fields, 11),
        control_number: cut(isa_text, &fields, 12),
        ack_requested: cut(isa_text, &fields, 13),
        usage: cut(isa_text, &fields, 14),
    };
    let bad = |code: Ta1Code, detail: &str| IsaFault {
        code,
        detail: detail.to_string(),
        partial: Some(Box::new(header.clone())),
    };
    // Field values, in ISA order. Non-ASCII anywhere makes its field invalid. When the whole ISA
    // (separators included) is printable, so is every field: one pass without early exit, which
    // the compiler vectorises, instead of sixteen short loops.
    let all_printable = input[..ISA_LEN - 1].iter().fold(true, |ok, &b| ok & (0x20..=0x7e).contains(&b));
    for (i, f) in fields.iter().enumerate().filter(|_| !all_printable) {
        if !f.iter().all(|&b| (0x20..=0x7e).contains(&b)) && i != 10 && i != 15 {
            return Err(bad(FIELD_CODES[i], "an ISA element holds a character outside the X12 character sets"));
        }
    }
    if !Delimiters::usable(delimiters.segment) {
        return Err(bad(
            Ta1Code::SegmentTerminatorInvalid,
            "the segment terminator after ISA16 is a letter, digit or space",
        ));
    }
    if !Delimiters::usable(delimiters.component) {
        return Err(bad(Ta1Code::ComponentSeparatorInvalid, "ISA16 (component separator) is a letter, digit or space"));
    }
    if !Delimiters::usable(delimiters.repetition) {
        return Err(bad(Ta1Code::ElementSeparatorInvalid, "ISA11 (repetition separator) is a letter, digit or space"));
    }
    // Each of the four was found usable above, so they are valid when they are distinct.
    let d = delimiters;
    let distinct = d.element != d.repetition
        && d.element != d.component
        && d.element != d.segment
        && d.repetition != d.component
        && d.repetition != d.segment
        && d.component != d.segment;
    if !distinct {
        let code = if delimiters.segment == sep
            || delimiters.segment == delimiters.component
            || delimiters.segment == delimiters.repetition
        {
            Ta1Code::SegmentTerminatorInvalid
        } else if delimiters.component == sep || delimiters.component == delimiters.repetition {
            Ta1Code::ComponentSeparatorInvalid
        } else {
            Ta1Code::ElementSeparatorInvalid
        };
        return Err(bad(code, "the ISA delimiters are not four distinct characters"));
    }
    if !matches!(fields[0], b"00" | b"03") {
        return Err(bad(Ta1Code::AuthorizationQualifierInvalid, "ISA01 must be 00 or 03"));
    }
    if !matches!(fields[2], b"00" | b"01") {
        return Err(bad(Ta1Code::SecurityQualifierInvalid, "ISA03 must be 00 or 01"));
    }
    if !is_id_qualifier(header.sender_qualifier) {
        return Err(bad(Ta1Code::SenderQualifierInvalid, "ISA05 is not an interchange ID qualifier"));
    }
    if header.sender_id.chars().all(char::is_whitespace) {
        return Err(bad(Ta1Code::SenderIdInvalid, "ISA06 (sender) is blank"));
    }
    if !is_id_qualifier(header.receiver_qualifier) {
        return Err(bad(Ta1Code::ReceiverQualifierInvalid, "ISA07 is not an interchange ID qualifier"));
    }
    if header.receiver_id.chars().all(char::is_whitespace) {
        return Err(bad(Ta1Code::ReceiverIdInvalid, "ISA08 (receiver) is blank"));
    }
    if Date::parse_yymmdd(fields[8]).is_none() {
        return Err(bad(Ta1Code::DateInvalid, "ISA09 is not a valid YYMMDD date"));
    }
    if fields[9].len() != 4 || Time::parse(fields[9]).is_none() {
        return Err(bad(Ta1Code::TimeInvalid, "ISA10 is not a valid HHMM time"));
    }
    if fields[11] != b"00501" {
        return Err(if fields[11].iter().all(u8::is_ascii_digit) {
            bad(Ta1Code::VersionNotSupported, "ISA12 must be 00501 (version 5010)")
        } else {
            bad(Ta1Code::VersionIdInvalid, "ISA12 is not a version number")
        });
    }
    if !fields[12].iter().all(u8::is_ascii_digit) {
        return Err(bad(Ta1Code::ControlNumberInvalid, "ISA13 must be nine digits"));
    }
    if !matches!(fields[13], b"0" | b"1") {
        return Err(bad(Ta1Code::AckRequestedInvalid, "ISA14 must be 0 or 1"));
    }
    if !matches!(fields[14], b"P" | b"T") {
        return Err(bad(Ta1Code::TestIndicatorInvalid, "ISA15 must be P or T"));
    }
    Ok(header)
}

/// One of [`ID_QUALIFIERS`]: two bytes compared as one integer each, where the search of the
/// list compared slices one qualifier at a time.
fn is_id_qualifier(q: &str) -> bool {
    matches!(q.as_bytes(), b"01" | b"14" | b"20" | b"27" | b"28" | b"29" | b"30" | b"33" | b"ZZ")
}

/// `s` without its trailing spaces (the padding of ISA06 and ISA08).
///
/// The fifteen bytes of an identifier as two overlapping words, each byte that is not a space
/// marked at once: the last mark is where the identifier ends. A byte loop from the end took a
/// dozen rounds for a short identifier. Other lengths (none in an ISA) take the byte loop.
fn trim(s: &str) -> &str {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // The high bit of each byte of `x` that is not zero.
    let nonzero = |x: u64| ((x & LOW7).wrapping_add(LOW7) | x) & HIGH;
    let b = s.as_bytes();
    let n = match (b.get(..8), b.get(7..15)) {
        (Some(head), Some(tail)) if b.len() == 15 => {
            let word = |w: &[u8]| <[u8; 8]>::try_from(w).map_or(0, u64::from_le_bytes);
            let (head, tail) = (nonzero(word(head) ^ SPACES), nonzero(word(tail) ^ SPACES));
            // The byte after the last non-space (its mark is bit 8k + 7 of its word).
            let after = |marks: u64| (64 - marks.leading_zeros() as usize) / 8;
            if tail != 0 { 7 + after(tail) } else { after(head) }
        }
        _ => b.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1),
    };
    s.get(..n).unwrap_or(s)
}

/// The ISA is not fixed width: find the first field whose length is wrong, to name it.
fn width_fault(input: &[u8], sep: u8) -> IsaFault<'_> {
    let mut at = 4;
    for (i, w) in WIDTHS.iter().enumerate().take(15) {
        match memchr::memchr(sep, input.get(at..).unwrap_or(b"")) {
            Some(len) if len != *w => {
                return IsaFault {
                    code: FIELD_CODES[i],
                    detail: format!("the ISA is not fixed width: ISA{:02} has {len} characters, not {w}", i + 1),
                    partial: None,
                };
            }
            Some(len) => at += len + 1,
            None => break,
        }
    }
    IsaFault {
        code: Ta1Code::PrematureEnd,
        detail: "the ISA segment is incomplete (an ISA is 106 characters)".into(),
        partial: None,
    }
}

/// The identities, clock and control number of an interchange this system sends.
#[derive(Clone, Debug)]
pub struct OutboundEnvelope<'e> {
    pub delimiters: Delimiters,
    pub sender_qualifier: &'e str,
    pub sender_id: &'e str,
    pub receiver_qualifier: &'e str,
    pub receiver_id: &'e str,
    pub date: Date,
    pub time: Time,
    /// ISA13 (nine digits) and GS06.
    pub control_number: u32,
    /// ISA15.
    pub usage: &'e str,
}

impl<'e> OutboundEnvelope<'e> {
    /// An answer to `header`: sender and receiver swapped, the same delimiters and usage.
    pub fn reply_to(
        header: &'e InterchangeHeader<'_>,
        date: Date,
        time: Time,
        control_number: u32,
    ) -> OutboundEnvelope<'e> {
        OutboundEnvelope {
            delimiters: header.delimiters,
            sender_qualifier: valid_qualifier(header.receiver_qualifier),
            sender_id: header.receiver_id,
            receiver_qualifier: valid_qualifier(header.sender_qualifier),
            receiver_id: header.sender_id,
            date,
            time,
            control_number,
            usage: if header.usage == "T" { "T" } else { "P" },
        }
    }
}

/// A qualifier fit to write back: an invalid one (the very fault a TA1 may be reporting) becomes
/// `ZZ`, mutually defined, so that the answer's own ISA stays valid.
fn valid_qualifier(q: &str) -> &str {
    if ID_QUALIFIERS.contains(&q) { q } else { "ZZ" }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time trim agrees with a byte loop for every arrangement of spaces and
    /// non-spaces in fifteen bytes, and for other lengths.
    #[test]
    fn id_qualifiers_agree_with_the_list() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for q in [vec![a, b], vec![a], vec![a, b, b'0']] {
                    if let Ok(q) = std::str::from_utf8(&q) {
                        assert_eq!(is_id_qualifier(q), ID_QUALIFIERS.contains(&q), "{q:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn trim_agrees_with_a_byte_loop() {
        let slow = |s: &str| s.trim_end_matches(' ').len();
        for bits in 0..1u32 << 15 {
            let s: String = (0..15).map(|i| if bits >> i & 1 == 1 { 'A' } else { ' ' }).collect();
            assert_eq!(trim(&s).len(), slow(&s), "{s:?}");
        }
        for s in ["", " ", "A", "AB  ", "           A    ", "é   ", "    é         ", "\u{a0}             "] {
            assert_eq!(trim(s), s.trim_end_matches(' '), "{s:?}");
        }
        assert_eq!(STARTS[0], 4);
        assert_eq!(STARTS[15] + 1, ISA_LEN - 1);
    }
}
