//! Security audits and trading-partner compliance (decisions D13–D15).
//!
//! This first layer is pure: audit figures from transaction records, verdicts against the
//! policy, and the state machines of submitters, AAA-rate cases and Submitter/NPI
//! relationships. Each transition says why it happened; persisting it, the scheduler, the CAP
//! workflow and the email outbox sit on top.
#![forbid(unsafe_code)]

pub mod audit;
pub mod clock;
pub mod mail;
pub mod report;
pub mod state;

pub use audit::{Figures, NpiVerdict, Policy, RateVerdict, RepeatedPair, Tally, figures};
pub use clock::{Clock, ManualClock, SystemClock};
pub use state::{
    AaaCase, AaaCaseEvent, CaseState, Refused, RelationshipEvent, RelationshipState, SubmitterEvent, SubmitterStanding,
    SubmitterState, Transition,
};
