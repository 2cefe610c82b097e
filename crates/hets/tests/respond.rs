//! `hets respond` and `hets explain` as a user runs them: every persona through the binary.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::io::Write;
use std::process::{Command, Stdio};

const HETS: &str = env!("CARGO_BIN_EXE_hets");
const AT: &str = "2026-11-16T09:30:00Z";

fn personas() -> eligibility::Personas {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
    eligibility::Personas::from_toml(&text).unwrap()
}

/// A database holding the demo dataset.
fn demo_db(dir: &tempfile::TempDir) -> String {
    let url = format!("sqlite:{}", dir.path().join("hets.db").display());
    let store = store::open(&url).unwrap();
    store::load_personas(store.as_ref(), &personas()).unwrap();
    url
}

/// A 270 from WDEMO001 for Bayside Family Medicine about one beneficiary.
fn inquiry(last: &str, first: &str, mbi: &str, birth: &str, extra_eq: &str) -> String {
    let body = [
        "ST*270*0001*005010X279A1".to_string(),
        "BHT*0022*13*REF4711*20261116*0930".into(),
        "HL*1**20*1".into(),
        "NM1*PR*2*CMS*****PI*CMS".into(),
        "HL*2*1*21*1".into(),
        "NM1*1P*2*BAYSIDE FAMILY MEDICINE*****XX*1125213722".into(),
        "HL*3*2*22*0".into(),
        "TRN*1*TRACE99*9WDEMO0001".into(),
        format!("NM1*IL*1*{last}*{first}****MI*{mbi}"),
        format!("DMG*D8*{birth}"),
        "DTP*291*RD8*20260101-20261116".into(),
        "EQ*30".into(),
    ];
    let mut segs: Vec<String> = body.to_vec();
    if !extra_eq.is_empty() {
        segs.push(extra_eq.to_string());
    }
    segs.push(format!("SE*{}*0001", segs.len() + 1));
    format!(
        "ISA*00*          *00*          *ZZ*WDEMO001       *ZZ*CMS            *261116*0930*^*00501*000000042*0*P*|~GS*HS*WDEMO001*CMS*20261116*0930*42*X*005010X279A1~{}~GE*1*42~IEA*1*000000042~",
        segs.join("~")
    )
}

/// A clean 270 about the original-Medicare persona.
fn margaret() -> String {
    inquiry("HARTWELL", "MARGARET", "2DG9NX3WK42", "19510314", "")
}

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(HETS)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn respond(db: &str, x12: &str) -> (i32, String) {
    let (code, out, err) = run(&["respond", "--db", db, "--submitter", "WDEMO001", "--at", AT], x12);
    assert!(err.is_empty(), "stderr: {err}");
    (code, out)
}

fn conformance(name: &str, text: &str) {
    if let Some(dir) = std::env::var_os("HETS_CONFORMANCE_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("respond-{name}.x12")), text.trim_end()).unwrap();
    }
}

#[test]
fn every_persona_through_hets_respond() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(&dir);
    // The segments that tell each persona's situation.
    let expect: &[(&str, &[&str])] = &[
        (
            "original-medicare",
            &[
                "EB*C**30*MB**29*83~",
                "EB*D***MB*********HC|G0439~DTP*348*D8*20261201~",
                "EB*D***MB*********HC|90670~DTP*472*D8*20241010~LS*2120~NM1*1P*2******XX*2298510209~LE*2120~",
            ],
        ),
        (
            "medicare-advantage",
            &[
                "EB*R**30*HN~REF*18*H4321 012~DTP*290*D8*20240101~MSG*MCO Bill Option Code- C~LS*2120~NM1*PRP*2*BLUE HARBOR ADVANTAGE~N3*PO BOX 4400~N4*BALTIMORE*MD*21203~PER*IC**TE*8005550101*UR*www.blueharbor.example~LE*2120~",
            ],
        ),
        ("part-d-pdp", &["EB*R**88*OT~REF*18*S5810 003~DTP*292*D8*20250101~LS*2120~NM1*PRP*2*SUMMIT RX PLAN~"]),
        (
            "hospice",
            &[
                "EB*X**45*MA**26~DTP*292*RD8*20260915-20261213~MSG*Revocation Code - 0~LS*2120~NM1*1P*2******XX*1766542546~LE*2120~EB*D**45*MA**26***99*1~",
            ],
        ),
        (
            "home-health",
            &[
                "EB*X**42***26~DTP*472*RD8*20261031-20261129~DTP*193*D8*20261031~DTP*194*D8*20261114~LS*2120~NM1*1P*2******XX*2117840019~LE*2120~",
                "EB*X************HC|G0180~DTP*193*D8*20261001~",
            ],
        ),
        (
            "msp-working-aged",
            &[
                "EB*R**30*12~REF*IG*GRP778812~DTP*290*D8*20230301~LS*2120~NM1*PRP*2*ACME MANUFACTURING HEALTH PLAN~N3*500 INDUSTRIAL WAY~N4*DUNDALK*MD*21222~LE*2120~",
            ],
        ),
        (
            "esrd",
            &[
                "EB*D**15*MB~DTP*356*D8*20210315~DTP*096*D8*20250210~",
                "EB*R**30*13~REF*IG*CTE-55102~DTP*290*RD8*20210601-20221130~",
            ],
        ),
        ("part-a-only", &["EB*6**30*MB~", "*MA~DTP*291*D8*20231101~"]),
        ("part-b-ended", &["EB*6**30*MB~DTP*307*RD8*20120501-20240630~"]),
        (
            "deceased",
            &["DTP*307*RD8*20260101-20261116~DTP*442*D8*20260502~", "EB*6**30~DTP*307*RD8*20260503-20261116~"],
        ),
        ("qmb", &["EB*R**30*QM*MD QMB~DTP*290*D8*20240101~"]),
        ("benefit-period", &["EB*C**30*MA**29*0~DTP*291*RD8*20260801-20260914~", "EB*K**30*MA**33***DY*45~"]),
        ("name-normalization", &["NM1*IL*1*O'BRIEN-SMITH*SEAN***JR*MI*5QD5JD6MV00~"]),
        ("future-entitlement", &["EB*6**30*MA~EB*6**30*MB~"]),
        ("same-name-1", &["NM1*IL*1*SMITH*JOHN****MI*8EW0RW4EX33~N3*1 FIRST ST~"]),
        ("same-name-2", &["NM1*IL*1*SMITH*JOHN****MI*1UT2U23MA25~N3*2 SECOND ST~"]),
    ];
    let all = personas();
    assert_eq!(expect.len(), all.beneficiaries.len(), "every persona has its expectations");
    for (key, segments) in expect {
        let b = all.beneficiary(key).unwrap();
        let birth = b.birth_date.unwrap().ccyymmdd();
        let (code, out) = respond(&db, &inquiry(&b.last_name, &b.first_name, &b.mbi, &birth, ""));
        assert_eq!(code, 0, "{key}");
        conformance(key, &out);
        // The envelope and the echoes.
        assert!(
            out.starts_with(
                "ISA*00*          *00*          *ZZ*CMS            *ZZ*WDEMO001       *261116*0930*^*00501*"
            ),
            "{key}: {out}"
        );
        assert!(out.contains("~GS*HB*CMS*WDEMO001*20261116*09300000*"), "{key}");
        assert!(out.contains("~BHT*0022*11*REF4711*20261116*09300000~"), "{key}");
        assert!(out.contains("~TRN*2*TRACE99*9WDEMO0001~"), "{key}");
        let gender = &b.gender;
        assert!(out.contains(&format!("~DMG*D8*{birth}*{gender}~DTP*307*RD8*20260101-20261116~")), "{key}: {out}");
        if let Some(a) = &b.address {
            assert!(out.contains(&format!("~N3*{}~N4*{}*{}*{}~", a.line1, a.city, a.state, a.zip)), "{key}");
        }
        assert!(!out.contains("AAA*"), "{key}: {out}");
        for s in *segments {
            assert!(out.contains(s), "{key}: missing {s} in\n{out}");
        }
    }
}

#[test]
fn aaa_answers_and_refusals_through_hets_respond() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(&dir);
    let cases: &[(&str, String, &str)] = &[
        ("mbi-72", inquiry("HARTWELL", "MARGARET", "2DG9NX3WK4", "19510314", ""), "AAA*N**72*C~"),
        ("not-found-75", inquiry("HARTWELL", "MARGARET", "1EG4TE5MK73", "19510314", ""), "AAA*N**75*C~"),
        ("name-73", inquiry("HARTWEL", "MARGARET", "2DG9NX3WK42", "19510314", ""), "AAA*N**73*C~"),
        ("dob-58", inquiry("HARTWELL", "MARGARET", "2DG9NX3WK42", "19511340", ""), "AAA*N**58*C~"),
        ("dob-71", inquiry("HARTWELL", "MARGARET", "2DG9NX3WK42", "19510315", ""), "AAA*N**71*C~"),
        ("multi", inquiry("SMITH", "MARGARET", "2DG9NX3WK42", "19500101", ""), "AAA*N**73*C~AAA*N**71*C~"),
        ("npi-43", margaret().replace("XX*1125213722", "XX*1125213723"), "AAA*N**43*C~"),
        ("npi-50", margaret().replace("XX*1125213722", "XX*1652851589"), "AAA*N**50*N~"),
        ("npi-51", margaret().replace("XX*1125213722", "XX*1693898789"), "AAA*N**51*N~"),
        ("relationship-41", margaret().replace("XX*1125213722", "XX*2298510209"), "AAA*N**41*N~"),
        ("payer-79", margaret().replace("PI*CMS", "PI*BCBS"), "AAA*N**79*C~"),
        ("window-62", margaret().replace("RD8*20260101-20261116", "RD8*20200101-20261116"), "AAA*N**62*C~"),
        ("dates-57", margaret().replace("RD8*20260101-20261116", "RD8*20261116-20260101"), "AAA*N**57*C~"),
    ];
    for (name, x12, aaa) in cases {
        let (code, out) = respond(&db, x12);
        assert_eq!(code, 0, "{name}");
        assert!(out.contains(aaa), "{name}: {out}");
        assert!(!out.contains("EB*"), "{name}: {out}");
        conformance(name, &out);
    }
    // A broken set: 999 and exit status 1.
    let (code, out) = respond(&db, &margaret().replace("SE*13*", "SE*14*"));
    assert_eq!(code, 1);
    assert!(out.contains("~IK5*R*4~AK9*R*1*1*0~"), "{out}");
    conformance("ack999", &out);
    // Garbage: TA1 and exit status 1.
    let (code, out) = respond(&db, "hello");
    assert_eq!(code, 1);
    assert!(out.contains("~TA1*000000000*"), "{out}");
    conformance("ta1", &out);
}

#[test]
fn releases_through_hets_respond() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(&dir);
    let ask = |at: &str, day: &str| {
        let x12 = inquiry("HARTWELL", "MARGARET", "2DG9NX3WK42", "19510314", "EQ**HC|90670")
            .replace("DTP*291*RD8*20260101-20261116", &format!("DTP*291*D8*{day}"))
            .replace("BHT*0022*13*REF4711*20261116*0930", &format!("BHT*0022*13*REF4711*{day}*0930"));
        let (code, out, err) = run(&["respond", "--db", &db, "--submitter", "WDEMO001", "--at", at], &x12);
        assert_eq!(code, 0, "{err}");
        out
    };
    let before = ask("2020-03-01T15:00:00Z", "20200301");
    assert!(before.contains("EB*D***MB*********HC|90670~DTP*348*D8*20160301~"), "{before}");
    let during = ask("2020-03-20T15:00:00Z", "20200320");
    assert!(!during.contains("90670"), "{during}");
    let after = ask("2020-05-01T15:00:00Z", "20200501");
    assert!(after.contains("EB*D***MB*********HC|90670~"), "{after}");
    assert!(!after.contains("DTP*348") || !after.contains("HC|90670~DTP*348"), "{after}");
}

#[test]
fn explain_prints_a_summary_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(&dir);
    let (_, out) = respond(&db, &margaret());
    let (code, text, _) = run(&["explain"], &out);
    assert_eq!(code, 0);
    assert!(text.contains("COVERED   Medicare Part B (since 2016-03-01)"), "{text}");
    let (code, _, err) = run(&["explain"], "not a 271");
    assert_eq!(code, 1);
    assert!(err.contains("not a readable interchange"), "{err}");
    let (code, _, err) = run(&["respond", "--db", &db], "");
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["respond", "--db", &db, "--submitter", "WDEMO001", "--at", "yesterday"], "");
    assert_eq!(code, 2);
    assert!(err.contains("not an RFC 3339 instant"), "{err}");
}

/// D3's AAA 42: the data store fails during the request. The beneficiary table is gone from
/// under a database whose schema version says it is there.
#[test]
fn a_failing_store_is_aaa_42() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(&dir);
    let path = dir.path().join("hets.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'beneficiar%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|t| t.unwrap())
        .collect();
    assert!(!tables.is_empty());
    for t in tables {
        conn.execute_batch(&format!("DROP TABLE {t}")).unwrap();
    }
    drop(conn);
    let x12 = margaret();
    let (code, out, err) = run(&["respond", "--db", &db, "--submitter", "WDEMO001", "--at", AT], &x12);
    assert_eq!(code, 0);
    assert!(out.contains("~NM1*PR*2*CMS*****PI*CMS~PER*IC**UR*https://www.cms.gov/hets-help*UR*https://www.cms.gov/center/provider.asp~AAA*Y**42*R~"), "{out}");
    // The operator sees why, and no PHI: the MBI and the name stay out of the log.
    assert!(err.contains("the store could not answer"), "{err}");
    assert!(!err.contains("2DG9NX3WK42") && !err.contains("HARTWELL"), "{err}");
    assert!(!out.contains("EB*"), "{out}");
    conformance("store-42", &out);
}
