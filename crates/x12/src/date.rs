//! X12 dates (DT) and times (TM), validated by hand: the crate needs no calendar library for
//! CCYYMMDD and HHMM[SS[DD]].

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A calendar date (proleptic Gregorian), as X12 DT carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// Parses `CCYYMMDD`.
    pub fn parse_ccyymmdd(b: &[u8]) -> Option<Date> {
        let &[a, b, c, d, e, f, g, h] = b else { return None };
        let [cc, yy, mm, dd] = digit_pairs([a, b, c, d, e, f, g, h])?;
        Date::new(u16::from(cc) * 100 + u16::from(yy), mm, dd)
    }

    /// Parses `YYMMDD` (ISA09), in the 1950..2049 window.
    pub fn parse_yymmdd(b: &[u8]) -> Option<Date> {
        let &[a, b, c, d, e, f] = b else { return None };
        let [yy, mm, dd, _] = digit_pairs([a, b, c, d, e, f, b'0', b'0'])?;
        let yy = u16::from(yy);
        let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
        Date::new(year, mm, dd)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse_iso(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Date::new(digits(&b[0..4])? as u16, digits(&b[5..7])? as u8, digits(&b[8..10])? as u8)
    }

    /// `CCYYMMDD` into `out`.
    #[inline]
    pub fn write_ccyymmdd(&self, out: &mut Vec<u8>) {
        // One eight-byte append instead of three digit loops: a 271 carries dozens of dates.
        match self.ccyymmdd_bytes() {
            Some(b) => out.extend_from_slice(&b),
            None => {
                push_num(out, self.year as u32, 4);
                push_num(out, self.month as u32, 2);
                push_num(out, self.day as u32, 2);
            }
        }
    }

    /// `CCYYMMDD` as eight bytes, when it is eight bytes: `None` for a year past 9999 or a
    /// month or day of three digits (only possible by filling the fields directly), which
    /// [`Date::write_ccyymmdd`] then writes digit by digit as it always did.
    #[inline]
    pub(crate) fn ccyymmdd_bytes(&self) -> Option<[u8; 8]> {
        let y = u32::from(self.year);
        let [a, b] = pair(y / 100)?;
        let [c, d] = pair(y % 100)?;
        let [e, f] = pair(u32::from(self.month))?;
        let [g, h] = pair(u32::from(self.day))?;
        Some([a, b, c, d, e, f, g, h])
    }

    /// `YYMMDD` into `out`.
    pub fn write_yymmdd(&self, out: &mut Vec<u8>) {
        push_num(out, (self.year % 100) as u32, 2);
        push_num(out, self.month as u32, 2);
        push_num(out, self.day as u32, 2);
    }

    pub fn ccyymmdd(&self) -> String {
        let mut v = Vec::with_capacity(8);
        self.write_ccyymmdd(&mut v);
        String::from_utf8(v).unwrap_or_default()
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(&self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = self.year as i64 - if self.month <= 2 { 1 } else { 0 };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = self.month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146097 + doe - 719468
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719468;
        let era = if z >= 0 { z } else { z - 146096 } / 146097;
        let doe = z - era * 146097;
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (y + if m <= 2 { 1 } else { 0 }) as u16;
        Date { year, month: m, day: d }
    }

    pub fn add_days(&self, days: i64) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + days)
    }

    /// The same day `months` months later (clamped to the month's last day).
    pub fn add_months(&self, months: i32) -> Date {
        let total = self.year as i32 * 12 + (self.month as i32 - 1) + months;
        let year = total.div_euclid(12) as u16;
        let month = (total.rem_euclid(12) + 1) as u8;
        let day = self.day.min(days_in_month(year, month));
        Date { year, month, day }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// `YYYY-MM-DD` in human-readable formats (JSON, TOML); days since 1970-01-01 in binary ones,
/// where a stored beneficiary carries dozens of dates.
impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() { s.collect_str(self) } else { s.serialize_i32(self.days_since_epoch() as i32) }
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        if d.is_human_readable() {
            let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            Date::parse_iso(&s).ok_or_else(|| D::Error::custom(format!("`{s}` is not a YYYY-MM-DD date")))
        } else {
            let days = i32::deserialize(d)?;
            Ok(Date::from_days_since_epoch(i64::from(days)))
        }
    }
}

/// A time of day as X12 TM carries it: HHMM, HHMMSS or HHMMSS plus 1-2 decimal seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time {
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Hundredths of a second.
    pub centis: u8,
}

impl Time {
    pub fn new(hour: u8, minute: u8, second: u8, centis: u8) -> Option<Time> {
        (hour < 24 && minute < 60 && second < 60 && centis < 100).then_some(Time { hour, minute, second, centis })
    }

    /// Parses TM: `HHMM`, `HHMMSS`, `HHMMSSD` or `HHMMSSDD`.
    #[inline]
    pub fn parse(b: &[u8]) -> Option<Time> {
        // Padded with zeros to eight digits: `HHMM` has no seconds, and `HHMMSSD` tenths. The
        // bytes are loaded as words (a byte at a time cost half as much again).
        const ZEROS: u64 = 0x3030_3030_3030_3030;
        let word = if let Some(w) = b.first_chunk::<8>()
            && b.len() == 8
        {
            u64::from_le_bytes(*w)
        } else if let Some((w, rest)) = b.split_first_chunk::<4>() {
            let head = u64::from(u32::from_le_bytes(*w));
            match *rest {
                [] => head | ZEROS << 32,
                [e, f] => head | u64::from(u16::from_le_bytes([e, f])) << 32 | ZEROS << 48,
                [e, f, g] => head | u64::from(u16::from_le_bytes([e, f])) << 32 | u64::from(g) << 48 | ZEROS << 56,
                _ => return None,
            }
        } else {
            return None;
        };
        let [h, m, s, c] = digit_pairs(word.to_le_bytes())?;
        Time::new(h, m, s, c)
    }

    pub fn write_hhmm(&self, out: &mut Vec<u8>) {
        push_num(out, self.hour as u32, 2);
        push_num(out, self.minute as u32, 2);
    }

    pub fn write_hhmmss(&self, out: &mut Vec<u8>) {
        self.write_hhmm(out);
        push_num(out, self.second as u32, 2);
    }

    /// `HHMMSSDD`, the 8-digit time the CMS 271 samples carry in GS05 and BHT05.
    pub fn write_hhmmssdd(&self, out: &mut Vec<u8>) {
        let digits = (|| {
            let [a, b] = pair(u32::from(self.hour))?;
            let [c, d] = pair(u32::from(self.minute))?;
            let [e, f] = pair(u32::from(self.second))?;
            let [g, h] = pair(u32::from(self.centis))?;
            Some([a, b, c, d, e, f, g, h])
        })();
        match digits {
            Some(b) => out.extend_from_slice(&b),
            // Fields over 99, only possible by filling them directly: digit by digit, as before.
            None => {
                self.write_hhmmss(out);
                push_num(out, self.centis as u32, 2);
            }
        }
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}.{:02}", self.hour, self.minute, self.second, self.centis)
    }
}

pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Parses ASCII digits; `None` on anything else or on empty input.
/// Eight ASCII digits as four two-digit numbers (`None` unless every byte is a digit): one word
/// checked and combined at once, where a loop per pair of digits took a branch per byte.
#[inline]
fn digit_pairs(b: [u8; 8]) -> Option<[u8; 4]> {
    const HIGH: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let x = u64::from_le_bytes(b);
    // Every high nibble 3, and every low one at most 9 (adding 6 to a nibble over 9 carries).
    if x & HIGH != ZEROS || x.wrapping_add(0x0606_0606_0606_0606) & HIGH != ZEROS {
        return None;
    }
    let v = x - ZEROS;
    // Byte 2k: ten times digit 2k plus digit 2k + 1 (at most 99: nothing carries).
    let p = (v * 10 + (v >> 8)).to_le_bytes();
    Some([p[0], p[2], p[4], p[6]])
}

pub(crate) fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut v: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// `00` to `99`: two digits with one load instead of a division and a remainder each.
const PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// The two ASCII digits of `v`, when it has no more than two.
#[inline]
fn pair(v: u32) -> Option<[u8; 2]> {
    PAIRS.get(v as usize).copied()
}

/// Appends `v` zero-padded to `width` digits.
pub(crate) fn push_num(out: &mut Vec<u8>, v: u32, width: usize) {
    // The buffer starts as zeros, so the padding up to ten digits is already in it and the
    // number goes out in one append. Counts and positions are mostly one digit.
    if v < 10 && width <= 1 {
        out.push(b'0' + v as u8);
        return;
    }
    let mut buf = [b'0'; 10];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for _ in buf.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i.min(buf.len().saturating_sub(width))..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_validate_calendar() {
        assert!(Date::parse_ccyymmdd(b"20240229").is_some());
        assert!(Date::parse_ccyymmdd(b"20230229").is_none());
        assert!(Date::parse_ccyymmdd(b"19000229").is_none());
        assert!(Date::parse_ccyymmdd(b"20001301").is_none());
        assert!(Date::parse_ccyymmdd(b"2000-1-1").is_none());
        assert_eq!(Date::parse_yymmdd(b"160127"), Date::new(2016, 1, 27));
    }

    #[test]
    fn epoch_round_trip() {
        for days in [-1000i64, 0, 1, 19_000, 20_500, 60_000] {
            assert_eq!(Date::from_days_since_epoch(days).days_since_epoch(), days);
        }
        assert_eq!(Date::new(2026, 11, 16).map(|d| d.days_since_epoch()), Some(20_773));
        assert_eq!(Date::new(2025, 12, 2).map(|d| d.add_months(12)), Date::new(2026, 12, 2));
        assert_eq!(Date::new(2024, 1, 31).map(|d| d.add_months(1)), Date::new(2024, 2, 29));
    }

    /// The word-at-a-time parses agree with a digit-by-digit reading, for every byte at every
    /// position of an otherwise valid value and every length.
    #[test]
    fn word_parses_agree_with_digits() {
        let date = |b: &[u8]| -> Option<Date> {
            if b.len() != 8 {
                return None;
            }
            Date::new(digits(&b[0..4])? as u16, digits(&b[4..6])? as u8, digits(&b[6..8])? as u8)
        };
        let yymmdd = |b: &[u8]| -> Option<Date> {
            if b.len() != 6 {
                return None;
            }
            let yy = digits(&b[0..2])? as u16;
            let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
            Date::new(year, digits(&b[2..4])? as u8, digits(&b[4..6])? as u8)
        };
        let time = |b: &[u8]| -> Option<Time> {
            let (h, m) = match b.len() {
                4 | 6 | 7 | 8 => (digits(&b[0..2])? as u8, digits(&b[2..4])? as u8),
                _ => return None,
            };
            let s = if b.len() >= 6 { digits(&b[4..6])? as u8 } else { 0 };
            let c = match b.len() {
                7 => digits(&b[6..7])? as u8 * 10,
                8 => digits(&b[6..8])? as u8,
                _ => 0,
            };
            Time::new(h, m, s, c)
        };
        let bases: [&[u8]; 6] = [b"20240229", b"19991231", b"20230229", b"00000000", b"99999999", b"23595999"];
        for base in bases {
            for len in 0..=9usize {
                let mut v: Vec<u8> = base.iter().copied().cycle().take(len).collect();
                assert_eq!(Date::parse_ccyymmdd(&v), date(&v), "{v:?}");
                assert_eq!(Date::parse_yymmdd(&v), yymmdd(&v), "{v:?}");
                assert_eq!(Time::parse(&v), time(&v), "{v:?}");
                for at in 0..len {
                    for byte in 0..=255u8 {
                        let keep = v[at];
                        v[at] = byte;
                        assert_eq!(Date::parse_ccyymmdd(&v), date(&v), "{v:?}");
                        assert_eq!(Date::parse_yymmdd(&v), yymmdd(&v), "{v:?}");
                        assert_eq!(Time::parse(&v), time(&v), "{v:?}");
                        v[at] = keep;
                    }
                }
            }
        }
        // Every date of four centuries and every time of a day, each way round.
        for n in 0..146_097i64 {
            let d = Date::from_days_since_epoch(n - 20_000);
            let b = d.ccyymmdd();
            assert_eq!(Date::parse_ccyymmdd(b.as_bytes()), date(b.as_bytes()));
        }
        for t in 0..10_000u32 {
            let b = format!("{t:04}");
            assert_eq!(Time::parse(b.as_bytes()), time(b.as_bytes()), "{b}");
            assert_eq!(Date::parse_yymmdd(format!("{t:04}01").as_bytes()), yymmdd(format!("{t:04}01").as_bytes()));
        }
    }

    #[test]
    fn times() {
        assert_eq!(Time::parse(b"0734"), Time::new(7, 34, 0, 0));
        assert_eq!(Time::parse(b"07341155"), Time::new(7, 34, 11, 55));
        assert!(Time::parse(b"2460").is_none());
        assert!(Time::parse(b"12345").is_none());
        let mut v = Vec::new();
        Time { hour: 7, minute: 58, second: 0, centis: 0 }.write_hhmmssdd(&mut v);
        assert_eq!(v, b"07580000");
    }
}
