//! Name matching (decision D2): CAQH CORE rule 258 last-name normalisation, first names
//! upper-cased with punctuation and spaces removed.
//!
//! Table-driven and pure. Normalisation is applied only to compare: the 271 echoes names as the
//! beneficiary record holds them.

use serde::{Deserialize, Serialize};

/// CORE 258 §4.2.2: strings removed when they stand as a delimited suffix.
const SUFFIXES: &[&str] =
    &["JR", "SR", "I", "II", "III", "IV", "V", "RN", "MD", "MR", "MS", "DR", "MRS", "PHD", "REV", "ESQ"];

/// CORE 258 §4.2.3: what must precede a suffix for it to count as delimited.
fn is_suffix_delimiter(c: char) -> bool {
    matches!(c, ',' | ' ' | '.' | '-')
}

/// CORE 258 §3.7: the special characters removed before comparing (X12 punctuation and space).
fn is_special(c: char) -> bool {
    c == ' ' || (c.is_ascii_punctuation())
}

/// Normalises a last name per CORE 258: upper-case; drop every delimited suffix (preceded by a
/// comma, space, period or hyphen and followed by a space or the end); remove special
/// characters. `O'Donnell-Griswold` → `ODONNELLGRISWOLD`, `POMP II` → `POMP`, `POMPII` stays.
pub fn normalize_last_name(name: &str) -> String {
    let trimmed = name.trim();
    if is_plain(trimmed) {
        return trimmed.to_ascii_uppercase();
    }
    normalize_delimited_last_name(trimmed)
}

/// Letters and digits only: no delimiter, so no suffix to drop, and no special character, so
/// CORE 258 leaves such a name as it is, upper-cased. Most names are plain, and the general
/// walk allocated four times per name.
fn is_plain(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn normalize_delimited_last_name(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    // Words are runs between delimiters; a word is a suffix when a delimiter precedes it and a
    // space or the end follows it.
    let chars: Vec<char> = upper.chars().collect();
    let mut keep = vec![true; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        if is_suffix_delimiter(chars[i]) {
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && !is_suffix_delimiter(chars[end]) {
                end += 1;
            }
            let word: String = chars[start..end].iter().collect();
            let followed_ok = end == chars.len() || chars[end] == ' ';
            if start > 1 && followed_ok && SUFFIXES.contains(&word.as_str()) {
                keep[start..end].iter_mut().for_each(|k| *k = false);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    chars.iter().zip(keep).filter(|&(c, k)| k && !is_special(*c)).map(|(c, _)| *c).collect()
}

/// First names: upper-cased, punctuation and spaces removed.
pub fn normalize_first_name(name: &str) -> String {
    first_name_chars(name).collect()
}

/// The characters of [`normalize_first_name`], as an iterator.
fn first_name_chars(name: &str) -> impl Iterator<Item = char> + '_ {
    name.chars().filter(|c| !is_special(*c)).map(|c| c.to_ascii_uppercase())
}

/// How a sent first name must relate to the stored one (setting `first_name_match`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FirstNameMatch {
    /// Equal after normalisation.
    #[default]
    Exact,
    /// Equal, or the sent name is the stored name's initial.
    Initial,
}

pub fn last_names_match(sent: &str, stored: &str) -> bool {
    let (sent, stored) = (sent.trim(), stored.trim());
    // Two plain names normalise to themselves upper-cased: compared without building either.
    if is_plain(sent) && is_plain(stored) {
        return !sent.is_empty() && sent.eq_ignore_ascii_case(stored);
    }
    let s = normalize_last_name(sent);
    !s.is_empty() && s == normalize_last_name(stored)
}

pub fn first_names_match(sent: &str, stored: &str, mode: FirstNameMatch) -> bool {
    if mode == FirstNameMatch::Exact {
        // Compared as they normalise, character by character, without building either.
        return first_name_chars(sent).next().is_some() && first_name_chars(sent).eq(first_name_chars(stored));
    }
    let (s, t) = (normalize_first_name(sent), normalize_first_name(stored));
    if s.is_empty() {
        return false;
    }
    match mode {
        FirstNameMatch::Exact => s == t,
        FirstNameMatch::Initial => s == t || (s.len() == 1 && t.starts_with(&s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked examples of CORE 258 v2.1.0.
    #[test]
    fn core_258_examples() {
        assert_eq!(normalize_last_name("O'Donnell-Griswold"), "ODONNELLGRISWOLD");
        assert_eq!(normalize_last_name("POMP II"), "POMP");
        assert_eq!(normalize_last_name("POMPII"), "POMPII");
        assert_eq!(normalize_last_name("DeSanchez"), "DESANCHEZ");
    }

    #[test]
    fn suffixes_need_a_delimiter_before_and_a_space_or_end_after() {
        assert_eq!(normalize_last_name("SMITH, JR"), "SMITH");
        assert_eq!(normalize_last_name("SMITH JR."), "SMITHJR");
        assert_eq!(normalize_last_name("SMITH.JR"), "SMITH");
        assert_eq!(normalize_last_name("O'BRIEN-SMITH JR"), "OBRIENSMITH");
        assert_eq!(normalize_last_name("SMITH-V"), "SMITH");
        assert_eq!(normalize_last_name("IVES"), "IVES");
        // A name that is only a "suffix" keeps it: nothing precedes it.
        assert_eq!(normalize_last_name("V"), "V");
        assert_eq!(normalize_last_name("JR SMITH"), "JRSMITH");
        assert_eq!(normalize_last_name("  hartwell "), "HARTWELL");
    }

    #[test]
    fn plain_names_take_a_shortcut_to_the_same_answers() {
        let words = [
            "", " ", "SMITH", "smith", "Jr", "JR", "o'brien", "O BRIEN", "V", "Ives", "2ND", "é", "Zoë", "-",
            "mary-ann", "MARY ANN",
        ];
        let mut names: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        for a in words {
            for b in words {
                names.push(format!("{a}{b}"));
                names.push(format!(" {a} {b} "));
            }
        }
        for n in &names {
            assert_eq!(normalize_last_name(n), normalize_delimited_last_name(n), "{n:?}");
        }
        for a in &names {
            for b in &names {
                let s = normalize_delimited_last_name(a);
                assert_eq!(
                    last_names_match(a, b),
                    !s.is_empty() && s == normalize_delimited_last_name(b),
                    "{a:?} {b:?}"
                );
                let (f, g) = (normalize_first_name(a), normalize_first_name(b));
                assert_eq!(first_names_match(a, b, FirstNameMatch::Exact), !f.is_empty() && f == g, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn matching() {
        assert!(last_names_match("OBRIEN SMITH", "O'BRIEN-SMITH"));
        assert!(last_names_match("o'brien-smith jr", "O'BRIEN-SMITH"));
        assert!(!last_names_match("BRIEN", "O'BRIEN-SMITH"));
        assert!(!last_names_match("", ""));
        assert!(first_names_match("mary-ann", "MARY ANN", FirstNameMatch::Exact));
        assert!(!first_names_match("M", "MARGARET", FirstNameMatch::Exact));
        assert!(first_names_match("M", "MARGARET", FirstNameMatch::Initial));
        assert!(!first_names_match("MA", "MARGARET", FirstNameMatch::Initial));
    }
}
