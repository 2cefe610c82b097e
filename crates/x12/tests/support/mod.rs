//! Shared by the integration tests: the fixed envelope they write with, and the folder where
//! every produced interchange goes for the external judge (`.ci/run`).
#![allow(dead_code)]

use x12::{Date, Delimiters, OutboundEnvelope, Time};

/// The personas' reference day, 09:30.
pub fn date() -> Date {
    Date::new(2026, 11, 16).expect("valid date")
}

pub fn time() -> Time {
    Time::new(9, 30, 0, 0).expect("valid time")
}

/// CMS answering submitter WDEMO001 in the CMS sample delimiters.
pub fn reply_envelope() -> OutboundEnvelope<'static> {
    OutboundEnvelope {
        delimiters: Delimiters::default(),
        sender_qualifier: "ZZ",
        sender_id: "CMS",
        receiver_qualifier: "ZZ",
        receiver_id: "WDEMO001",
        date: date(),
        time: time(),
        control_number: 1,
        usage: "P",
    }
}

/// WDEMO001 asking CMS.
pub fn inquiry_envelope() -> OutboundEnvelope<'static> {
    OutboundEnvelope { sender_id: "WDEMO001", receiver_id: "CMS", ..reply_envelope() }
}

/// Writes `bytes` as `<name>.x12` into `$HETS_CONFORMANCE_DIR` when it is set.
pub fn conformance(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("HETS_CONFORMANCE_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("create conformance dir");
        std::fs::write(dir.join(format!("{name}.x12")), bytes).expect("write conformance file");
    }
}

/// The repository's `tests/data/x12` folder.
pub fn data_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/x12")
}
