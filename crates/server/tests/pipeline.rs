//! The request path against a real SQLite store holding the demo dataset.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use eligibility::{Instant, Personas, Releases, Settings};
use server::{AnswerKind, Inbound, Responder};
use std::sync::Arc;
use store::Outcome;

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/x12/valid/cms-sample.x12");

fn responder(dir: &tempfile::TempDir) -> Responder {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
    let personas = Personas::from_toml(&text).unwrap();
    let url = format!("sqlite:{}", dir.path().join("hets.db").display());
    let store: Arc<dyn store::Store> = store::open(&url).unwrap();
    store::load_personas(store.as_ref(), &personas).unwrap();
    Responder::new(store, Releases::builtin().unwrap(), Settings::default()).unwrap()
}

fn at() -> Instant {
    Instant::parse_rfc3339("2026-11-16T09:30:00Z").unwrap()
}

#[test]
fn the_cms_sample_gets_a_271_and_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let r = responder(&dir);
    let payload = std::fs::read(SAMPLE).unwrap();
    let a = r.respond(&Inbound { payload: &payload, submitter: "WDEMO001", at: at() });
    assert_eq!(a.kind, AnswerKind::Response271);
    let text = String::from_utf8(a.payload).unwrap();
    assert!(text.starts_with("ISA*00*          *00*          *ZZ*CMS            *ZZ*WDEMO001       *261116*0930*^*00501*000000001*0*P*|~GS*HB*CMS*WDEMO001*20261116*09300000*1*X*005010X279A1~ST*271*0001*005010X279A1~BHT*0022*11*TRANSA*20261116*09300000~"), "{text}");
    assert!(text.contains("~TRN*2*TRACKNUM*ABCDEFGHIJ~NM1*IL*1*HARTWELL*MARGARET*E***MI*2DG9NX3WK42~N3*412 ELM ST~N4*TOWSON*MD*21204~DMG*D8*19510314*F~DTP*307*RD8*20260101-20261116~"), "{text}");
    // The sample asks for two procedure codes: their HCPCS-level lines come back.
    assert!(text.contains("EB*D***MB*********HC|80061~DTP*348*D8*20280501~"), "{text}");
    assert!(text.contains("EB*D***MB*********HC|G0117~DTP*348*D8*20160301~"), "{text}");
    assert_eq!(a.record.outcome, Outcome::Response271);
    assert_eq!(a.record.npi.as_deref(), Some("1125213722"));
    assert_eq!(a.record.mbi.as_deref(), Some("2DG9NX3WK42"));
    assert_eq!(a.record.service_types.len(), 13);
    r.flush();
    let kept = r.store().transactions_for("WDEMO001", at(), Instant::from_unix(at().unix_seconds + 1)).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].record.outcome, Outcome::Response271);
}

#[test]
fn an_unknown_submitter_for_the_npi_gets_aaa_41() {
    let dir = tempfile::tempdir().unwrap();
    let r = responder(&dir);
    // WDEMO002 is not related to Harbor General (1497429880).
    let payload = std::fs::read_to_string(SAMPLE)
        .unwrap()
        .replace("WDEMO001       ", "WDEMO002       ")
        .replace("GS*HS*WDEMO001", "GS*HS*WDEMO002")
        .replace("1125213722", "1497429880");
    let a = r.respond(&Inbound { payload: payload.as_bytes(), submitter: "WDEMO002", at: at() });
    let text = String::from_utf8(a.payload).unwrap();
    assert!(text.contains("~NM1*1P*2*BAYSIDE FAMILY MEDICINE*****XX*1497429880~AAA*N**41*N~HL*3*2*22*0~"), "{text}");
    assert_eq!(a.record.outcome, Outcome::Response271Aaa);
    assert_eq!(a.record.aaa_codes, ["41"]);
}

#[test]
fn a_sender_other_than_the_authenticated_submitter_gets_a_ta1() {
    let dir = tempfile::tempdir().unwrap();
    let r = responder(&dir);
    let payload = std::fs::read(SAMPLE).unwrap();
    let a = r.respond(&Inbound { payload: &payload, submitter: "WDEMO002", at: at() });
    assert_eq!(a.kind, AnswerKind::Ta1);
    let text = String::from_utf8(a.payload).unwrap();
    assert_eq!(
        text,
        "ISA*00*          *00*          *ZZ*CMS            *ZZ*WDEMO001       *261116*0930*^*00501*000000001*0*P*|~TA1*000005014*261116*0734*R*006~IEA*0*000000001~"
    );
    assert_eq!(a.record.outcome, Outcome::Ta1);
    assert_eq!(a.record.npi, None);
}

#[test]
fn a_broken_set_gets_a_999() {
    let dir = tempfile::tempdir().unwrap();
    let r = responder(&dir);
    let payload = std::fs::read_to_string(SAMPLE).unwrap().replace("SE*15*", "SE*16*");
    let a = r.respond(&Inbound { payload: payload.as_bytes(), submitter: "WDEMO001", at: at() });
    assert_eq!(a.kind, AnswerKind::Ack999);
    let text = String::from_utf8(a.payload).unwrap();
    assert!(text.contains("~AK1*HS*5014*005010X279A1~AK2*270*000000001*005010X279A1~IK5*R*4~AK9*R*1*1*0~"), "{text}");
    assert_eq!(a.record.outcome, Outcome::Ack999);
}

/// The provider and relationship read with one request serve the next ones for a second, but a
/// change made through the server's own store is seen by the very next request: a suspended
/// relationship answers AAA 41 at once, and lifting the suspension answers benefits at once.
#[test]
fn a_relationship_changed_through_the_store_is_seen_by_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let r = responder(&dir);
    let payload = std::fs::read(SAMPLE).unwrap();
    let ask = || {
        String::from_utf8(r.respond(&Inbound { payload: &payload, submitter: "WDEMO001", at: at() }).payload).unwrap()
    };
    let refused = "~NM1*1P*2*BAYSIDE FAMILY MEDICINE*****XX*1125213722~AAA*N**41*N~";
    let first = ask();
    assert!(!first.contains(refused) && first.contains("~EB*1**"), "{first}");
    let mut held = r.store().relationship("WDEMO001", "1125213722").unwrap().unwrap();
    held.status = store::RelationshipStatus::Suspended;
    r.store().put_relationships(std::slice::from_ref(&held)).unwrap();
    let second = ask();
    assert!(second.contains(refused), "{second}");
    assert!(!second.contains("~EB*"), "{second}");
    held.status = store::RelationshipStatus::Active;
    r.store().put_relationships(&[held]).unwrap();
    let third = ask();
    assert!(!third.contains(refused) && third.contains("~EB*1**"), "{third}");
}
