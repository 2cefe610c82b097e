//! Code lists of 005010X279A1 that the 270 uses (X12 code sources 1365 and friends).

/// EQ01 / EB03 Service Type Codes accepted by 005010X279A1.
pub static SERVICE_TYPES: &[&str] = &[
    "1", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "2", "20", "21", "22", "23", "24", "25", "26",
    "27", "28", "3", "30", "32", "33", "34", "35", "36", "37", "38", "39", "4", "40", "41", "42", "43", "44", "45",
    "46", "47", "48", "49", "5", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "6", "60", "61", "62",
    "63", "64", "65", "66", "67", "68", "69", "7", "70", "71", "72", "73", "74", "75", "76", "77", "78", "79", "8",
    "80", "81", "82", "83", "84", "85", "86", "87", "88", "89", "9", "90", "91", "92", "93", "94", "95", "96", "97",
    "98", "99", "A0", "A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "AA", "AB", "AC", "AD", "AE", "AF", "AG",
    "AH", "AI", "AJ", "AK", "AL", "AM", "AN", "AO", "AQ", "AR", "B1", "B2", "B3", "BA", "BB", "BC", "BD", "BE", "BF",
    "BG", "BH", "BI", "BJ", "BK", "BL", "BM", "BN", "BP", "BQ", "BR", "BS", "BT", "BU", "BV", "BW", "BX", "BY", "BZ",
    "C1", "CA", "CB", "CC", "CD", "CE", "CF", "CG", "CH", "CI", "CJ", "CK", "CL", "CM", "CN", "CO", "CP", "CQ", "DG",
    "DM", "DS", "GF", "GN", "GY", "IC", "MH", "NI", "ON", "PT", "PU", "RN", "RT", "TC", "TN", "UC",
];

/// True when `code` is a service type code of the 270/271.
// Inlined: the check of a repeated EQ01 asks once per repetition, and the call cost more than
// the table's answer.
#[inline]
pub fn is_service_type(code: &[u8]) -> bool {
    match *code {
        [a] if a.is_ascii() => SERVICE_TYPE_TABLE[slot(0, a)],
        [a, b] if a != 0 && a.is_ascii() && b.is_ascii() => SERVICE_TYPE_TABLE[slot(a, b)],
        _ => false,
    }
}

/// True when `[a, b]` (or `[b]` when `a` is 0) is a service type code, for ASCII bytes of which
/// `b` is not 0: [`is_service_type`] for a caller that has the code's bytes rather than a slice.
#[inline]
pub(crate) fn is_service_type_pair(a: u8, b: u8) -> bool {
    SERVICE_TYPE_TABLE[slot(a, b)]
}

/// Service type codes are one or two characters: a 128 × 128 table answers in one load, where
/// a search costs a dozen comparisons per EQ01 repetition (the CMS sample sends 13).
static SERVICE_TYPE_TABLE: [bool; 128 * 128] = {
    let mut t = [false; 128 * 128];
    let mut i = 0;
    while i < SERVICE_TYPES.len() {
        let c = SERVICE_TYPES[i].as_bytes();
        match c.len() {
            1 => t[slot(0, c[0])] = true,
            2 => t[slot(c[0], c[1])] = true,
            _ => panic!("service type codes are one or two characters"),
        }
        i += 1;
    }
    t
};

/// Callers pass ASCII bytes only.
const fn slot(a: u8, b: u8) -> usize {
    ((a & 0x7f) as usize) << 7 | (b & 0x7f) as usize
}

/// True when `value` is one of `codes`. Code values are a few bytes long: comparing them inline
/// is several times faster than a `memcmp` call per candidate, and this runs for every coded
/// element of every request.
/// The one long list, the service types, is answered from a table.
// Always inlined: with the value checks inlined into the validator's element loop, the
// compiler stopped inlining this, and the call cost more than the comparisons.
#[inline(always)]
pub(crate) fn in_list(codes: &[&str], value: &[u8]) -> bool {
    // By address: the schema names the one static list, and no other list is this long.
    if std::ptr::eq(codes, SERVICE_TYPES) {
        is_service_type(value)
    } else {
        codes.iter().any(|c| short_eq(c.as_bytes(), value))
    }
}

/// Byte equality for short strings (codes, segment ids), without a `memcmp` call.
#[inline]
pub(crate) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_type_table_agrees_with_the_list() {
        for a in 0..=255u8 {
            assert_eq!(is_service_type(&[a]), SERVICE_TYPES.iter().any(|c| c.as_bytes() == [a]), "{a}");
            for b in 0..=255u8 {
                let want = SERVICE_TYPES.iter().any(|c| c.as_bytes() == [a, b]);
                assert_eq!(is_service_type(&[a, b]), want, "{a} {b}");
            }
        }
        for a in 0x20..=0x7eu8 {
            assert_eq!(is_service_type_pair(0, a), is_service_type(&[a]), "{a}");
            for b in 0x20..=0x7eu8 {
                assert_eq!(is_service_type_pair(a, b), is_service_type(&[a, b]), "{a} {b}");
            }
        }
        assert!(!is_service_type(b"300"));
        assert!(!is_service_type(b""));
        assert!(in_list(SERVICE_TYPES, b"30") && !in_list(SERVICE_TYPES, b"Q9"));
    }
}
