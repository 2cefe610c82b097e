//! Personas, 270s built for them, and the engine's answers as X12 text.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use eligibility::{Beneficiary, Context, Decision, Facts, Instant, Personas, RelationshipState, Releases, Settings};
use std::sync::OnceLock;
use x12::{
    BenefitInquiry, Checked, Delimiters, Demographics, Inquiry270, InquiryDate, Name, OutboundEnvelope, ProcedureCode,
    Receiver, Subscriber, Trace,
};

pub fn personas() -> &'static Personas {
    static P: OnceLock<Personas> = OnceLock::new();
    P.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
        Personas::from_toml(&text).unwrap()
    })
}

pub fn releases() -> &'static Releases {
    static R: OnceLock<Releases> = OnceLock::new();
    R.get_or_init(|| Releases::builtin().unwrap())
}

pub const REFERENCE: &str = "2026-11-16T09:30:00Z";

/// What a 270 asks, in owned strings; `inquiry()` borrows it.
#[derive(Clone, Debug)]
pub struct Ask {
    pub npi: String,
    pub npi_qualifier: String,
    pub provider_name: String,
    pub last: String,
    pub first: String,
    pub middle: String,
    pub mbi: String,
    pub birth: String,
    pub gender: String,
    pub period: Option<(String, String)>,
    pub service_types: Vec<String>,
    pub hcpcs: Vec<String>,
    pub payer: String,
}

impl Ask {
    /// A clean request for persona `key`, from Bayside Family Medicine, for the whole of 2026 up
    /// to the reference date.
    pub fn persona(key: &str) -> Ask {
        let b = personas().beneficiary(key).unwrap_or_else(|| panic!("no persona {key}"));
        Ask::for_beneficiary(b)
    }

    pub fn for_beneficiary(b: &Beneficiary) -> Ask {
        Ask {
            npi: "1125213722".into(),
            npi_qualifier: "XX".into(),
            provider_name: "BAYSIDE FAMILY MEDICINE".into(),
            last: b.last_name.clone(),
            first: b.first_name.clone(),
            middle: String::new(),
            mbi: b.mbi.clone(),
            birth: b.birth_date.map(|d| d.ccyymmdd()).unwrap_or_default(),
            gender: String::new(),
            period: Some(("RD8".into(), "20260101-20261116".into())),
            service_types: vec!["30".into()],
            hcpcs: Vec::new(),
            payer: "CMS".into(),
        }
    }

    pub fn inquiry(&self) -> Inquiry270<'_> {
        let mut inquiries = Vec::new();
        if !self.service_types.is_empty() {
            inquiries.push(BenefitInquiry {
                service_types: self.service_types.iter().map(String::as_str).collect(),
                ..BenefitInquiry::default()
            });
        }
        for code in &self.hcpcs {
            inquiries.push(BenefitInquiry {
                procedure: Some(ProcedureCode { qualifier: "HC", code, modifiers: Vec::new() }),
                ..BenefitInquiry::default()
            });
        }
        Inquiry270 {
            control_number: "0001",
            purpose: "13",
            reference: "TRANSA",
            date: "20261116",
            time: "0930",
            transaction_type: "",
            source: Name {
                entity: "PR",
                entity_type: "2",
                last: "CMS",
                id_qualifier: "PI",
                id: &self.payer,
                ..Name::default()
            },
            receiver: Receiver {
                name: Name {
                    entity: "1P",
                    entity_type: "2",
                    last: &self.provider_name,
                    id_qualifier: &self.npi_qualifier,
                    id: &self.npi,
                    ..Name::default()
                },
                ..Receiver::default()
            },
            subscriber: Subscriber {
                child_code: "0",
                traces: vec![Trace { kind: "1", reference: "TRACKNUM", originator: "ABCDEFGHIJ", supplemental: "" }],
                name: Name {
                    entity: "IL",
                    entity_type: "1",
                    last: &self.last,
                    first: &self.first,
                    middle: &self.middle,
                    id_qualifier: "MI",
                    id: &self.mbi,
                    ..Name::default()
                },
                demographics: (!self.birth.is_empty() || !self.gender.is_empty()).then(|| Demographics {
                    format: "D8",
                    birth_date: &self.birth,
                    gender: &self.gender,
                }),
                dates: self.period.iter().map(|(f, v)| InquiryDate { qualifier: "291", format: f, value: v }).collect(),
                inquiries,
                ..Subscriber::default()
            },
        }
    }

    /// The 270 as bytes, from submitter WDEMO001.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        x12::write_270(&self.inquiry(), &inquiry_envelope(), &mut out);
        out
    }
}

pub fn inquiry_envelope() -> OutboundEnvelope<'static> {
    OutboundEnvelope {
        delimiters: Delimiters::default(),
        sender_qualifier: "ZZ",
        sender_id: "WDEMO001",
        receiver_qualifier: "ZZ",
        receiver_id: "CMS",
        date: x12::Date::new(2026, 11, 16).unwrap(),
        time: x12::Time::new(9, 30, 0, 0).unwrap(),
        control_number: 5014,
        usage: "P",
    }
}

/// Decides with the personas as the store, for submitter `submitter`, at `at`.
pub fn decide_at(ask: &Ask, submitter: &str, at: &str) -> Decision {
    decide_full(ask, submitter, at, None)
}

/// As [`decide_at`], with the relationship state forced.
pub fn decide_full(ask: &Ask, submitter: &str, at: &str, relationship: Option<RelationshipState>) -> Decision {
    decide_with(ask, submitter, at, relationship, None)
}

/// Decides `ask` with the personas as the store; `relationship` and `beneficiary` override what
/// the personas would give.
fn decide_with(
    ask: &Ask,
    submitter: &str,
    at: &str,
    relationship: Option<RelationshipState>,
    beneficiary: Option<&Beneficiary>,
) -> Decision {
    let p = personas();
    let bytes = ask.bytes();
    let Checked::Accepted { transaction: inq, .. } = x12::check_270(&bytes, &x12::Rules::default()) else {
        panic!("the test 270 is not accepted")
    };
    let keys = eligibility::keys(&inq);
    let provider = p.providers.iter().find(|pr| pr.npi == keys.npi);
    let relationship = relationship.unwrap_or(match p.submitters.iter().find(|s| s.id == submitter) {
        Some(s) if s.npis.iter().any(|n| n == keys.npi) => RelationshipState::Active,
        _ => RelationshipState::Missing,
    });
    let beneficiary =
        beneficiary.or_else(|| keys.mbi.as_deref().and_then(|m| p.beneficiaries.iter().find(|b| b.mbi == m)));
    let at = Instant::parse_rfc3339(at).unwrap();
    let settings = Settings::default();
    let facts = Facts { provider, relationship, beneficiary, cost_sharing: &p.cost_sharing };
    let ctx = Context { at, release: releases().in_force(at), settings: &settings };
    eligibility::decide(&inq, &facts, &ctx)
}

pub fn decide(ask: &Ask) -> Decision {
    decide_at(ask, "WDEMO001", REFERENCE)
}

/// The 271 as text, one segment per line (`~` dropped).
pub fn text(d: &Decision) -> String {
    let env = OutboundEnvelope { sender_id: "CMS", receiver_id: "WDEMO001", control_number: 1, ..inquiry_envelope() };
    let mut out = Vec::new();
    d.response.write(&env, &mut out);
    String::from_utf8(out).unwrap().replace('~', "~\n")
}

/// Asserts that `needle` (segments joined by newlines, each ending in `~`) occurs in the 271
/// as consecutive segments.
#[track_caller]
pub fn assert_has(hay: &str, needle: &str) {
    let want: String = needle.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect();
    assert!(hay.contains(&want), "missing:\n{want}\nin:\n{hay}");
}

#[track_caller]
pub fn assert_lacks(hay: &str, needle: &str) {
    assert!(!hay.contains(needle), "unexpected `{needle}` in:\n{hay}");
}

/// Writes the decision's 271 as `<name>.x12` into `$HETS_CONFORMANCE_DIR` when it is set, and
/// returns its text.
pub fn judged(name: &str, d: &Decision) -> String {
    let t = text(d);
    if let Some(dir) = std::env::var_os("HETS_CONFORMANCE_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("engine-{name}.x12")), t.replace('\n', "")).unwrap();
    }
    t
}

/// Decides about `b` (not necessarily a persona) for WDEMO001 at the reference instant.
pub fn decide_about(b: &Beneficiary) -> Decision {
    decide_with(&Ask::for_beneficiary(b), "WDEMO001", REFERENCE, Some(RelationshipState::Active), Some(b))
}
