//! The whole inbound path on arbitrary bytes: check_270, check_271, outline, and the writers of
//! whatever answer the verdict calls for (TA1, 999, or the decoded 270/271 written back).
#![no_main]

use libfuzzer_sys::fuzz_target;
use x12::{Checked, Date, Delimiters, InterchangeHeader, OutboundEnvelope, Rules, Time};

fn date() -> Date {
    Date { year: 2026, month: 11, day: 16 }
}

/// The envelope of an answer: a reply to the header when the ISA could be read.
fn envelope<'e>(header: Option<&'e InterchangeHeader<'_>>) -> OutboundEnvelope<'e> {
    let time = Time::default();
    match header {
        Some(h) => OutboundEnvelope::reply_to(h, date(), time, 123_456_789),
        None => OutboundEnvelope {
            delimiters: Delimiters::default(),
            sender_qualifier: "ZZ",
            sender_id: "CMS",
            receiver_qualifier: "ZZ",
            receiver_id: "UNKNOWN",
            date: date(),
            time,
            control_number: 1,
            usage: "P",
        },
    }
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    for rules in [Rules::default(), Rules { receiver_id: Some("CMS"), sender_id: Some("WDEMO001") }] {
        match x12::check_270(data, &rules) {
            Checked::Accepted { interchange, transaction, .. } => {
                out.clear();
                x12::write_270(&transaction, &envelope(Some(&interchange)), &mut out);
            }
            Checked::Interchange { interchange, ta1 } => {
                out.clear();
                ta1.write(&envelope(interchange.as_ref()), &mut out);
            }
            Checked::Rejected { interchange, ack } => {
                out.clear();
                ack.write(&envelope(Some(&interchange)), &mut out);
            }
        }
    }
    match x12::check_271(data) {
        Checked::Accepted { interchange, transaction, .. } => {
            out.clear();
            transaction.write(&envelope(Some(&interchange)), &mut out);
        }
        Checked::Interchange { interchange, ta1 } => {
            out.clear();
            ta1.write(&envelope(interchange.as_ref()), &mut out);
        }
        Checked::Rejected { interchange, ack } => {
            out.clear();
            ack.write(&envelope(Some(&interchange)), &mut out);
        }
    }
    std::hint::black_box(x12::outline(data));
    std::hint::black_box(x12::transaction_set_id(data));
    std::hint::black_box(&out);
});
