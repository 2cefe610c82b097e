//! A 270 built from a person's answers (the desktop's beneficiary lookup and `hets send`'s
//! flags), so both ask the real-time engine exactly what a clearinghouse would.

use x12::{
    BenefitInquiry, Date, Delimiters, Demographics, Inquiry270, InquiryDate, Name, OutboundEnvelope, ProcedureCode,
    Receiver, Subscriber, Time, Trace,
};

/// Who the 270 asks about, and for which provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub mbi: String,
    pub last: String,
    pub first: String,
    pub dob: Date,
    pub npi: String,
}

/// What the 270 asks.
#[derive(Clone, Debug, Default)]
pub struct Question {
    /// (from, to); equal for a single date.
    pub period: Option<(Date, Date)>,
    pub services: Vec<String>,
    pub hcpcs: Vec<String>,
}

/// Builds a 270 interchange from `sender` to `payer` about `p`, dated `today` at `now` (UTC).
#[allow(clippy::too_many_arguments)] // every argument is one field of the envelope or the question
pub fn build_270(
    sender: &str,
    payer: &str,
    provider_name: &str,
    p: &Person,
    q: &Question,
    control: u32,
    today: Date,
    now: Time,
) -> Vec<u8> {
    let date = today.ccyymmdd();
    let mut time_buf = Vec::new();
    now.write_hhmmss(&mut time_buf);
    let time = String::from_utf8_lossy(&time_buf).into_owned();
    let reference = format!("HS{control:09}");
    let dob = p.dob.ccyymmdd();
    let period =
        q.period.map(
            |(f, t)| {
                if f == t { ("D8", f.ccyymmdd()) } else { ("RD8", format!("{}-{}", f.ccyymmdd(), t.ccyymmdd())) }
            },
        );
    let mut inquiries = Vec::new();
    let services: Vec<&str> = q.services.iter().map(String::as_str).collect();
    if !services.is_empty() || q.hcpcs.is_empty() {
        let service_types = if services.is_empty() { vec!["30"] } else { services };
        inquiries.push(BenefitInquiry { service_types, ..BenefitInquiry::default() });
    }
    for code in &q.hcpcs {
        inquiries.push(BenefitInquiry {
            procedure: Some(ProcedureCode { qualifier: "HC", code, modifiers: Vec::new() }),
            ..BenefitInquiry::default()
        });
    }
    let inq = Inquiry270 {
        control_number: "0001",
        purpose: "13",
        reference: &reference,
        date: &date,
        time: &time,
        transaction_type: "",
        source: Name { entity: "PR", entity_type: "2", last: payer, id_qualifier: "PI", id: payer, ..Name::default() },
        receiver: Receiver {
            name: Name {
                entity: "1P",
                entity_type: "2",
                last: provider_name,
                id_qualifier: "XX",
                id: &p.npi,
                ..Name::default()
            },
            ..Receiver::default()
        },
        subscriber: Subscriber {
            child_code: "0",
            traces: vec![Trace { kind: "1", reference: &reference, originator: "9HETSSEND0", supplemental: "" }],
            name: Name {
                entity: "IL",
                entity_type: "1",
                last: &p.last,
                first: &p.first,
                id_qualifier: "MI",
                id: &p.mbi,
                ..Name::default()
            },
            demographics: Some(Demographics { format: "D8", birth_date: &dob, gender: "" }),
            dates: period
                .as_ref()
                .map(|(format, value)| vec![InquiryDate { qualifier: "291", format, value }])
                .unwrap_or_default(),
            inquiries,
            ..Subscriber::default()
        },
    };
    let env = OutboundEnvelope {
        delimiters: Delimiters::default(),
        sender_qualifier: "ZZ",
        sender_id: sender,
        receiver_qualifier: "ZZ",
        receiver_id: payer,
        date: today,
        time: now,
        control_number: control,
        usage: "P",
    };
    let mut out = Vec::new();
    x12::write_270(&inq, &env, &mut out);
    out
}

/// An instant as the X12 date and time of an envelope (UTC).
pub fn x12_now(at: eligibility::Instant) -> (Date, Time) {
    let secs = at.unix_seconds;
    let date = Date::from_days_since_epoch(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let time = Time { hour: (s / 3600) as u8, minute: (s / 60 % 60) as u8, second: (s % 60) as u8, centis: 0 };
    (date, time)
}
