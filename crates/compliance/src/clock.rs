//! Time as a dependency: audits, suspensions and deadlines read the clock through [`Clock`], so
//! tests can move a day or 14 days forward without sleeping.

use eligibility::Instant;
use std::sync::atomic::{AtomicI64, Ordering};

pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Instant { unix_seconds: d.as_secs() as i64, centis: (d.subsec_millis() / 10) as u8 }
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(at: Instant) -> ManualClock {
        ManualClock(AtomicI64::new(at.unix_seconds))
    }

    pub fn set(&self, at: Instant) {
        self.0.store(at.unix_seconds, Ordering::SeqCst);
    }

    pub fn advance_seconds(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn advance_days(&self, days: i64) {
        self.advance_seconds(days * 86_400);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        Instant::from_unix(self.0.load(Ordering::SeqCst))
    }
}
