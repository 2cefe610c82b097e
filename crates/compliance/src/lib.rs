//! Security audits and trading-partner compliance (decisions D13–D15).
//!
//! Two layers. The pure one decides: audit figures from transaction records ([`audit`]),
//! verdicts against the [`Policy`], ET audit periods ([`period`]) and the state machines of
//! submitters, AAA-rate cases and Submitter/NPI relationships ([`state`]), each transition with
//! its reason. The [`service`] on top reads the store, asks the pure layer, and writes each
//! decision (new state, history line, rendered email) as one store transaction; the email
//! outbox is delivered by [`service::Compliance::deliver`] through [`mail`].
#![forbid(unsafe_code)]

pub mod audit;
pub mod clock;
pub mod mail;
pub mod period;
pub mod report;
pub mod service;
pub mod state;

pub use audit::{Figures, NpiVerdict, Policy, RateVerdict, RepeatedPair, Tally, figures};
pub use clock::{Clock, ManualClock, SystemClock};
pub use period::Period;
pub use service::{Actor, AuditRun, CapForm, Compliance, ComplianceError, Delivery, TickReport};
pub use state::{
    AaaCase, AaaCaseEvent, CaseState, Refused, RelationshipEvent, RelationshipState, SubmitterEvent, SubmitterStanding,
    SubmitterState, Transition,
};
