//! X12 005010 for the HETS 270/271 exchange: bytes in, typed transactions out, and back.
//!
//! The crate is the parsing and writing heart of openhets. It does no I/O, has no async, and knows
//! no Medicare rule: it knows the X12 syntax, the 005010X279A1 (270/271) and 005010X231A1 (999)
//! implementation guides, and the TA1. Callers hand it bytes and get back either a typed
//! [`Inquiry270`] or the acknowledgement ([`Ta1`] or [`Ack999`]) that the bytes deserve.
//!
//! The reading path is zero-copy: [`tokenize`] splits the input into [`Segment`]s that borrow the
//! input, and the decoded 270 borrows its strings from it too.
#![forbid(unsafe_code)]

mod ack;
mod check;
mod codes;
mod date;
mod delimiters;
mod envelope;
mod inquiry;
mod outline;
mod response;
mod schema;
mod segment;
mod validate;
mod writer;

pub use ack::{
    Ack999, AckCode, ElementError, ElementErrorCode, ElementPosition, GroupErrorCode, SegmentContext, SegmentError,
    SegmentErrorCode, SetAck, SetErrorCode, Ta1, Ta1Code,
};
pub use check::{Checked, GroupHeader, Rules, check_270, check_271};
pub use codes::{SERVICE_TYPES, is_service_type};
pub use date::{Date, Time};
pub use delimiters::Delimiters;
pub use envelope::{InterchangeHeader, OutboundEnvelope};
pub use inquiry::{
    Address, BenefitInquiry, Demographics, Inquiry270, InquiryDate, Name, ProcedureCode, ProviderInfo, Receiver,
    Reference, Subscriber, Trace,
};
pub use outline::{OutlineLine, outline, transaction_set_id};
pub use response::{
    Aaa, Benefit, Codes, Contact, DateValue, Dates, Eb, HealthCareDelivery, Receiver271, RelatedEntity, Response271,
    ResponseAddress, ResponseDate, ResponseDemographics, ResponseName, ResponseReference, ResponseTrace, Source271,
    Subscriber271, Text, decimal_text, number_text,
};
pub use segment::{Element, Segment, Segments, tokenize};
pub use writer::{SegmentWriter, format_decimal, write_270};
