//! The openhets request path: one inbound interchange in, the answer out.
//!
//! [`Responder::respond`] is the one path every 270 takes, from the command line (`hets
//! respond`) and from the CORE endpoints alike: check the interchange, look the facts up in the
//! store, let the eligibility engine decide, write the answer in the submitter's delimiters, and
//! append the transaction record.
#![forbid(unsafe_code)]

pub mod core;
pub mod desktop;
pub mod http;
mod pipeline;
mod recorder;
pub mod tls;

pub use pipeline::{Answer, AnswerKind, Inbound, Responder};
