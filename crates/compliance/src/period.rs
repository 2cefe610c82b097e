//! Audit periods: calendar days in US Eastern time (D13), the help desk's day.
//!
//! Eastern time is UTC−5, or UTC−4 from the second Sunday of March at 02:00 local to the first
//! Sunday of November at 02:00 local (the rule since 2007). A day is usually 24 hours, 23 on
//! the spring change and 25 on the autumn one; the audit reads exactly the day's instants.

use eligibility::Instant;
use x12::Date;

/// One audit period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    /// The ET calendar day.
    pub day: Date,
    /// Local midnight, as an instant.
    pub start: Instant,
    /// The next local midnight (excluded).
    pub end: Instant,
}

impl Period {
    /// The ET calendar day `day`.
    pub fn day(day: Date) -> Period {
        Period { day, start: midnight(day), end: midnight(day.add_days(1)) }
    }

    /// The ET day that contains `at`.
    pub fn containing(at: Instant) -> Period {
        Period::day(et_date(at))
    }

    /// The last ET day that has ended by `at`.
    pub fn last_complete(at: Instant) -> Period {
        Period::day(et_date(at).add_days(-1))
    }

    /// `2026-11-16`: the key of the period's audit records.
    pub fn name(&self) -> String {
        self.day.to_string()
    }
}

/// 0 = Sunday.
fn weekday(d: Date) -> i64 {
    (d.days_since_epoch() + 4).rem_euclid(7)
}

/// The `n`th (1-based) Sunday of a month.
fn nth_sunday(year: u16, month: u8, n: i64) -> Date {
    let first = Date { year, month, day: 1 };
    let to_sunday = (7 - weekday(first)) % 7;
    first.add_days(to_sunday + 7 * (n - 1))
}

/// True when local midnight starting `d` is in daylight time: the changes happen at 02:00, so
/// the midnight of the spring Sunday is still standard and that of the autumn Sunday still
/// daylight.
fn daylight_at_midnight(d: Date) -> bool {
    d > nth_sunday(d.year, 3, 2) && d <= nth_sunday(d.year, 11, 1)
}

fn midnight(d: Date) -> Instant {
    let offset_hours = if daylight_at_midnight(d) { 4 } else { 5 };
    Instant::from_unix(d.days_since_epoch() * 86_400 + offset_hours * 3600)
}

/// The ET calendar date of an instant.
pub fn et_date(at: Instant) -> Date {
    let utc = Date::from_days_since_epoch(at.unix_seconds.div_euclid(86_400));
    // The ET date is the UTC date or the day before; it is the later one whose midnight has come.
    if at >= midnight(utc) { utc } else { utc.add_days(-1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Instant {
        Instant::parse_rfc3339(s).unwrap_or(Instant::from_unix(0))
    }

    fn day(s: &str) -> Date {
        Date::parse_iso(s).unwrap_or(Date { year: 1970, month: 1, day: 1 })
    }

    #[test]
    fn standard_and_daylight_days() {
        let p = Period::day(day("2026-11-16"));
        assert_eq!((p.start, p.end), (at("2026-11-16T05:00:00Z"), at("2026-11-17T05:00:00Z")));
        let p = Period::day(day("2026-07-04"));
        assert_eq!((p.start, p.end), (at("2026-07-04T04:00:00Z"), at("2026-07-05T04:00:00Z")));
        assert_eq!(p.name(), "2026-07-04");
    }

    #[test]
    fn change_days_are_23_and_25_hours() {
        // 2026: daylight time from Sunday 8 March, standard again from Sunday 1 November.
        let spring = Period::day(day("2026-03-08"));
        assert_eq!(spring.start, at("2026-03-08T05:00:00Z"));
        assert_eq!(spring.end.unix_seconds - spring.start.unix_seconds, 23 * 3600);
        let autumn = Period::day(day("2026-11-01"));
        assert_eq!(autumn.start, at("2026-11-01T04:00:00Z"));
        assert_eq!(autumn.end.unix_seconds - autumn.start.unix_seconds, 25 * 3600);
    }

    #[test]
    fn instants_fall_in_their_eastern_day() {
        assert_eq!(et_date(at("2026-11-17T04:59:59Z")), day("2026-11-16"));
        assert_eq!(et_date(at("2026-11-17T05:00:00Z")), day("2026-11-17"));
        assert_eq!(et_date(at("2026-07-05T03:59:59Z")), day("2026-07-04"));
        assert_eq!(Period::last_complete(at("2026-11-17T05:00:00Z")).day, day("2026-11-16"));
        assert_eq!(Period::containing(at("2026-11-17T04:00:00Z")).day, day("2026-11-16"));
    }
}
