//! The transaction instant: a point in time, parsed from RFC 3339 and read as a UTC date and time.
//!
//! The engine never reads a clock; the caller hands it the instant. Replaying a 270 at a past
//! instant therefore reproduces the past answer, release and all.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use x12::{Date, Time};

/// Seconds since 1970-01-01T00:00:00Z (leap seconds ignored, as everywhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    pub unix_seconds: i64,
    /// Hundredths of a second, for BHT05/GS05 (HHMMSSDD).
    pub centis: u8,
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 instant (e.g. 2026-11-16T09:30:00Z)")]
pub struct InstantError(pub String);

impl Instant {
    pub fn from_unix(unix_seconds: i64) -> Instant {
        Instant { unix_seconds, centis: 0 }
    }

    pub fn at(date: Date, time: Time) -> Instant {
        let secs = date.days_since_epoch() * 86_400
            + i64::from(time.hour) * 3600
            + i64::from(time.minute) * 60
            + i64::from(time.second);
        Instant { unix_seconds: secs, centis: time.centis }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (a space may stand for the `T`).
    pub fn parse_rfc3339(s: &str) -> Result<Instant, InstantError> {
        let err = || InstantError(s.to_string());
        let b = s.as_bytes();
        if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
            return Err(err());
        }
        let date = Date::parse_iso(s.get(..10).ok_or_else(err)?).ok_or_else(err)?;
        let num = |r: std::ops::Range<usize>| -> Result<u8, InstantError> {
            let part = s.get(r).ok_or_else(err)?;
            if part.bytes().all(|c| c.is_ascii_digit()) { part.parse().map_err(|_| err()) } else { Err(err()) }
        };
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut i = 19;
        let mut centis = 0u8;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return Err(err());
            }
            let frac = &b[start..i.min(start + 2)];
            centis = frac.iter().fold(0u8, |acc, d| acc * 10 + (d - b'0'));
            if frac.len() == 1 {
                centis *= 10;
            }
        }
        let offset: i64 = match b.get(i..) {
            Some([b'Z' | b'z']) => 0,
            Some([sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]) => {
                let digits = [*h1, *h2, *m1, *m2];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return Err(err());
                }
                let h = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
                let m = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
                let v = h * 3600 + m * 60;
                if *sign == b'-' { -v } else { v }
            }
            _ => return Err(err()),
        };
        let time = Time::new(hour, minute, second.min(59), centis).ok_or_else(err)?;
        let mut at = Instant::at(date, time);
        at.unix_seconds -= offset;
        Ok(at)
    }

    pub fn date(&self) -> Date {
        Date::from_days_since_epoch(self.unix_seconds.div_euclid(86_400))
    }

    pub fn time(&self) -> Time {
        let s = self.unix_seconds.rem_euclid(86_400);
        Time::new((s / 3600) as u8, (s / 60 % 60) as u8, (s % 60) as u8, self.centis).unwrap_or_default()
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.time();
        write!(f, "{}T{:02}:{:02}:{:02}Z", self.date(), t.hour, t.minute, t.second)
    }
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
        let s = String::deserialize(d)?;
        Instant::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let a = Instant::parse_rfc3339("2026-11-16T09:30:00Z").unwrap();
        assert_eq!(a.to_string(), "2026-11-16T09:30:00Z");
        let b = Instant::parse_rfc3339("2026-11-16T04:30:00-05:00").unwrap();
        assert_eq!(a, b);
        let c = Instant::parse_rfc3339("2020-03-14T07:30:00.25+00:00").unwrap();
        assert_eq!(c.centis, 25);
        assert_eq!(c.date(), Date::new(2020, 3, 14).unwrap());
        for bad in [
            "",
            "2026-11-16",
            "2026-11-16T09:30:00",
            "2026-13-16T09:30:00Z",
            "2026-11-16T9:30:00Z",
            "2026-11-16T09:30:00+5",
        ] {
            assert!(Instant::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
