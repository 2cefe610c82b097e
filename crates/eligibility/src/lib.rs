//! Medicare eligibility: from a decoded 270 and the facts the store found, the 271 to answer.
//!
//! The crate is pure. It does no I/O and reads no clock: the caller hands it the inquiry, the
//! records, the release in force and the transaction instant, and gets back a decision. That is
//! what makes a past answer reproducible (replay a 270 at a past instant) and the engine testable
//! without a database.
#![forbid(unsafe_code)]

mod benefits;
pub mod engine;
pub mod ids;
mod instant;
pub mod model;
pub mod names;
pub mod release;

pub use benefits::{PART_A_TYPES, PART_B_TYPES};
pub use engine::{
    AaaHit, AaaLoop, Context, Decision, Facts, Keys, RelationshipState, Settings, decide, keys, unavailable,
};
pub use instant::{Instant, InstantError};
pub use model::*;
pub use release::{PpvMode, Release, Releases};

mod explain;
pub use explain::{aaa_reason, explain};

/// `0.2` → `20`.
fn format_percent(v: f64) -> String {
    x12::format_decimal(v * 100.0)
}
