//! The wall clock, turned into X12 dates and times (UTC).

use std::time::{SystemTime, UNIX_EPOCH};
use x12::{Date, Time};

/// Now, in UTC, as an X12 date and time.
pub fn now() -> (Date, Time) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let date = Date::from_days_since_epoch(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let time = Time {
        hour: (s / 3600) as u8,
        minute: (s / 60 % 60) as u8,
        second: (s % 60) as u8,
        centis: (d.subsec_millis() / 10) as u8,
    };
    (date, time)
}
