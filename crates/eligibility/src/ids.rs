//! The two identifiers every request carries: the provider's NPI and the beneficiary's MBI.

/// MBI letters: A–Z without S, L, O, I, B and Z (easily confused with digits).
fn mbi_letter(b: u8) -> bool {
    b.is_ascii_uppercase() && !matches!(b, b'S' | b'L' | b'O' | b'I' | b'B' | b'Z')
}

/// True when `mbi` has the Medicare Beneficiary Identifier format: 11 characters, positions
/// 1, 4, 7, 10, 11 digits (1 not zero), 2, 5, 8, 9 MBI letters, 3 and 6 either.
pub fn is_valid_mbi(mbi: &[u8]) -> bool {
    let [p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11] = *mbi else {
        return false;
    };
    let alnum = |b: u8| b.is_ascii_digit() || mbi_letter(b);
    matches!(p1, b'1'..=b'9')
        && mbi_letter(p2)
        && alnum(p3)
        && p4.is_ascii_digit()
        && mbi_letter(p5)
        && alnum(p6)
        && p7.is_ascii_digit()
        && mbi_letter(p8)
        && mbi_letter(p9)
        && p10.is_ascii_digit()
        && p11.is_ascii_digit()
}

/// The Luhn check digit of an NPI's first nine digits, computed over the `80840` prefix that
/// makes an NPI an ISO 7812 card number.
pub fn npi_check_digit(first_nine: &[u8; 9]) -> u8 {
    // The prefix 80840 contributes a constant 24 to the Luhn sum.
    let mut sum = 24u32;
    for (i, &d) in first_nine.iter().enumerate() {
        let mut v = u32::from(d - b'0');
        // Counting from the check digit leftwards, every second digit (the first nine's
        // positions 1, 3, 5, 7, 9) is doubled.
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    b'0' + ((10 - sum % 10) % 10) as u8
}

/// True when `npi` is ten digits whose last is the Luhn check digit.
pub fn is_valid_npi(npi: &[u8]) -> bool {
    let Ok(digits) = <&[u8; 10]>::try_from(npi) else {
        return false;
    };
    if !digits.iter().all(u8::is_ascii_digit) || !matches!(digits[0], b'1' | b'2') {
        return false;
    }
    let mut first = [0u8; 9];
    first.copy_from_slice(&digits[..9]);
    npi_check_digit(&first) == digits[9]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbis() {
        for ok in ["2DG9NX3WK42", "1EG4TE5MK73", "4VQ3C55WU99", "5QD5JD6MV00", "9AC0UT0JM46"] {
            assert!(is_valid_mbi(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "2DG9NX3WK4", "2DG9NX3WK421", "0DG9NX3WK42", "2SG9NX3WK42", "2DG9NX3WKA2", "2dg9nx3wk42"] {
            assert!(!is_valid_mbi(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn npis() {
        // 1234567893 is the CMS example NPI.
        for ok in ["1234567893", "1125213722", "1497429880", "2117840019"] {
            assert!(is_valid_npi(ok.as_bytes()), "{ok}");
        }
        for bad in ["1234567890", "123456789", "12345678931", "123-456-7893", "3234567893", "abcdefghij"] {
            assert!(!is_valid_npi(bad.as_bytes()), "{bad}");
        }
    }
}
