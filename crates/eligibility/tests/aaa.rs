//! Every AAA row of decision D3, triggered through the library API.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use eligibility::{AaaLoop, RelationshipState};
use support::{Ask, assert_has, assert_lacks, decide, decide_at, decide_full, judged};

fn codes(d: &eligibility::Decision) -> Vec<(AaaLoop, &'static str)> {
    d.aaa.iter().map(|h| (h.loop_id, h.code)).collect()
}

#[test]
fn payer_other_than_cms_is_79_in_2100a() {
    let mut ask = Ask::persona("original-medicare");
    ask.payer = "BCBS".into();
    let d = decide(&ask);
    assert_eq!(codes(&d), [(AaaLoop::Source, "79")]);
    let t = judged(&format!("aaa-{}", line!()), &d);
    assert_has(
        &t,
        "NM1*PR*2*CMS*****PI*CMS~\nPER*IC**UR*https://www.cms.gov/hets-help*UR*https://www.cms.gov/center/provider.asp~\nAAA*N**79*C~\nHL*2*1*21*1~",
    );
    // Lower loops are not processed, but the names are echoed.
    assert_has(&t, "NM1*IL*1*HARTWELL*MARGARET****MI*2DG9NX3WK42~\nDMG*D8*19510314~\nDTP*307*RD8*20260101-20261116~");
    assert_lacks(&t, "EB*");
}

#[test]
fn store_unavailable_is_42_valid_request_in_2100a() {
    let ask = Ask::persona("original-medicare");
    let bytes = ask.bytes();
    let x12::Checked::Accepted { transaction: inq, .. } = x12::check_270(&bytes, &x12::Rules::default()) else {
        panic!()
    };
    let at = eligibility::Instant::parse_rfc3339(support::REFERENCE).unwrap();
    let settings = eligibility::Settings::default();
    let ctx = eligibility::Context { at, release: support::releases().in_force(at), settings: &settings };
    let d = eligibility::unavailable(&inq, &ctx);
    assert_eq!(codes(&d), [(AaaLoop::Source, "42")]);
    assert_has(&judged(&format!("aaa-{}", line!()), &d), "AAA*Y**42*R~");
}

#[test]
fn malformed_npis_are_43_and_count_as_invalid() {
    for (npi, qualifier) in [("123-456-7893", "XX"), ("1125213723", "XX"), ("112521372", "XX"), ("1125213722", "SV")] {
        let mut ask = Ask::persona("original-medicare");
        ask.npi = npi.into();
        ask.npi_qualifier = qualifier.into();
        let d = decide(&ask);
        assert_eq!(codes(&d), [(AaaLoop::Receiver, "43")], "{npi} {qualifier}");
        assert!(d.invalid_npi);
        let t = judged(&format!("aaa-{}", line!()), &d);
        assert_has(&t, &format!("NM1*1P*2*BAYSIDE FAMILY MEDICINE*****{qualifier}*{npi}~\nAAA*N**43*C~\nHL*3*2*22*0~"));
        assert_lacks(&t, "EB*");
    }
}

#[test]
fn unknown_or_unenrolled_npi_is_51() {
    // 1234567893 passes the check digit but is not in the registry; 1693898789 is not enrolled.
    for npi in ["1234567893", "1693898789"] {
        let mut ask = Ask::persona("original-medicare");
        ask.npi = npi.into();
        let d = decide(&ask);
        assert_eq!(codes(&d), [(AaaLoop::Receiver, "51")], "{npi}");
        assert!(d.invalid_npi);
        assert_has(&judged(&format!("aaa-{}", line!()), &d), "AAA*N**51*N~");
    }
}

#[test]
fn terminated_or_revoked_npi_is_50() {
    for npi in ["1652851589", "1906773266"] {
        let mut ask = Ask::persona("original-medicare");
        ask.npi = npi.into();
        let d = decide(&ask);
        assert_eq!(codes(&d), [(AaaLoop::Receiver, "50")], "{npi}");
        assert!(d.invalid_npi);
        assert_has(&judged(&format!("aaa-{}", line!()), &d), "AAA*N**50*N~");
    }
    // Revoked on 2026-03-01: the day before, it could still inquire.
    let mut ask = Ask::persona("original-medicare");
    ask.npi = "1906773266".into();
    ask.period = None;
    assert!(decide_at(&ask, "WDEMO001", "2026-02-28T12:00:00Z").aaa.is_empty());
}

#[test]
fn no_relationship_or_a_suspended_one_is_41_and_not_an_invalid_npi() {
    let mut ask = Ask::persona("original-medicare");
    ask.npi = "1497429880".into(); // Harbor General: not one of WDEMO002's NPIs.
    let d = decide_at(&ask, "WDEMO002", support::REFERENCE);
    assert_eq!(codes(&d), [(AaaLoop::Receiver, "41")]);
    assert!(!d.invalid_npi);
    assert_has(&judged(&format!("aaa-{}", line!()), &d), "AAA*N**41*N~");
    let d = decide_full(
        &Ask::persona("original-medicare"),
        "WDEMO001",
        support::REFERENCE,
        Some(RelationshipState::Suspended),
    );
    assert_eq!(codes(&d), [(AaaLoop::Receiver, "41")]);
}

#[test]
fn missing_or_malformed_mbi_is_72() {
    for mbi in ["", "2DG9NX3WK4", "2DG9-NX3-WK42", "0DG9NX3WK42"] {
        let mut ask = Ask::persona("original-medicare");
        ask.mbi = mbi.into();
        let d = decide(&ask);
        assert_eq!(codes(&d), [(AaaLoop::Subscriber, "72")], "{mbi:?}");
        assert_has(&judged(&format!("aaa-{}", line!()), &d), "AAA*N**72*C~");
    }
}

#[test]
fn well_formed_mbi_without_beneficiary_is_75() {
    let mut ask = Ask::persona("original-medicare");
    ask.mbi = "1EG4TE5MK73".into();
    let d = decide(&ask);
    assert_eq!(codes(&d), [(AaaLoop::Subscriber, "75")]);
    let t = judged(&format!("aaa-{}", line!()), &d);
    assert_has(
        &t,
        "NM1*IL*1*HARTWELL*MARGARET****MI*1EG4TE5MK73~\nAAA*N**75*C~\nDMG*D8*19510314~\nDTP*307*RD8*20260101-20261116~",
    );
}

#[test]
fn missing_or_wrong_names_are_73() {
    for (last, first) in [("", "MARGARET"), ("HARTWELL", ""), ("HARTWEL", "MARGARET"), ("HARTWELL", "MARGE")] {
        let mut ask = Ask::persona("original-medicare");
        ask.last = last.into();
        ask.first = first.into();
        let d = decide(&ask);
        assert_eq!(codes(&d), [(AaaLoop::Subscriber, "73")], "{last} {first}");
    }
    // A middle initial that is sent must match.
    let mut ask = Ask::persona("original-medicare");
    ask.middle = "Q".into();
    assert_eq!(codes(&decide(&ask)), [(AaaLoop::Subscriber, "73")]);
    ask.middle = "E".into();
    assert!(decide(&ask).aaa.is_empty());
}

#[test]
fn missing_or_invalid_birth_date_is_58_and_a_wrong_one_71() {
    for birth in ["", "19510230", "1951031"] {
        let mut ask = Ask::persona("original-medicare");
        ask.birth = birth.into();
        assert_eq!(codes(&decide(&ask)), [(AaaLoop::Subscriber, "58")], "{birth:?}");
    }
    let mut ask = Ask::persona("original-medicare");
    ask.birth = "19510315".into();
    let d = decide(&ask);
    assert_eq!(codes(&d), [(AaaLoop::Subscriber, "71")]);
    assert_has(&judged(&format!("aaa-{}", line!()), &d), "AAA*N**71*C~\nDMG*D8*19510315~");
}

#[test]
fn wrong_gender_is_74() {
    let mut ask = Ask::persona("original-medicare");
    ask.gender = "M".into();
    assert_eq!(codes(&decide(&ask)), [(AaaLoop::Subscriber, "74")]);
    ask.gender = "F".into();
    assert!(decide(&ask).aaa.is_empty());
}

#[test]
fn dates_outside_the_window_are_62() {
    // The window on 2026-11-16: 2022-11-16 through 2027-03-16.
    for (format, value) in
        [("D8", "20221115"), ("RD8", "20221115-20230101"), ("D8", "20270317"), ("RD8", "20261101-20270317")]
    {
        let mut ask = Ask::persona("original-medicare");
        ask.period = Some((format.into(), value.into()));
        assert_eq!(codes(&decide(&ask)), [(AaaLoop::Subscriber, "62")], "{value}");
    }
    for (format, value) in [("D8", "20221116"), ("D8", "20270316")] {
        let mut ask = Ask::persona("original-medicare");
        ask.period = Some((format.into(), value.into()));
        assert!(decide(&ask).aaa.is_empty(), "{value}");
    }
}

#[test]
fn reversed_or_invalid_dates_are_57() {
    for (format, value) in [("RD8", "20261116-20260101"), ("D8", "20260230"), ("RD8", "20260101"), ("D8", "2026-01-01")]
    {
        let mut ask = Ask::persona("original-medicare");
        ask.period = Some((format.into(), value.into()));
        let d = decide(&ask);
        assert_eq!(codes(&d), [(AaaLoop::Subscriber, "57")], "{value}");
        // An invalid period is not echoed.
        assert_lacks(&judged(&format!("aaa-{}", line!()), &d), "DTP*307");
    }
}

#[test]
fn every_failed_subscriber_condition_gets_its_own_aaa() {
    let mut ask = Ask::persona("original-medicare");
    ask.last = "SMITH".into();
    ask.birth = "19500101".into();
    ask.gender = "M".into();
    ask.period = Some(("RD8".into(), "20261116-20260101".into()));
    let d = decide(&ask);
    assert_eq!(
        codes(&d),
        [
            (AaaLoop::Subscriber, "73"),
            (AaaLoop::Subscriber, "71"),
            (AaaLoop::Subscriber, "74"),
            (AaaLoop::Subscriber, "57")
        ]
    );
    assert_has(
        &judged(&format!("aaa-{}", line!()), &d),
        "AAA*N**73*C~\nAAA*N**71*C~\nAAA*N**74*C~\nAAA*N**57*C~\nDMG*D8*19500101*M~",
    );
    // Without a record, a missing MBI and a missing birth date are both reported.
    let mut ask = Ask::persona("original-medicare");
    ask.mbi = String::new();
    ask.birth = String::new();
    assert_eq!(codes(&decide(&ask)), [(AaaLoop::Subscriber, "72"), (AaaLoop::Subscriber, "58")]);
}

#[test]
fn the_first_2100b_failure_answers_alone() {
    // A malformed NPI and a wrong name: only 43 (lower loops are not processed).
    let mut ask = Ask::persona("original-medicare");
    ask.npi = "123".into();
    ask.last = "WRONG".into();
    assert_eq!(codes(&decide(&ask)), [(AaaLoop::Receiver, "43")]);
}
