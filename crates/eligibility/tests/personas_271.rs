//! Every persona of `data/personas.toml`, asked about at the reference date (2026-11-16) for
//! 2026-01-01 through the reference date: the segments that matter for its situation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use support::{Ask, assert_has, assert_lacks, decide, decide_at, judged};

fn persona(key: &str) -> String {
    let d = decide(&Ask::persona(key));
    assert!(d.aaa.is_empty(), "{key}: {:?}", d.aaa);
    judged(key, &d)
}

const PART_A: &str = "EB*1**30^10^42^45^48^49^69^76^83^A5^A7^AG^BT^BU^BV*MA~";
const PART_B: &str = "EB*1**30^2^3^5^10^14^23^24^25^26^27^28^33^36^37^38^39^40^42^50^51^52^53^67^69^73^76^83^86^98^A4^A6^A8^AD^AE^AF^AI^AJ^AK^AL^BF^BG^BT^BU^BV^DM^UC*MB~";

#[test]
fn envelope_and_header_loops() {
    let t = persona("original-medicare");
    assert_has(
        &t,
        "ISA*00*          *00*          *ZZ*CMS            *ZZ*WDEMO001       *261116*0930*^*00501*000000001*0*P*|~
         GS*HB*CMS*WDEMO001*20261116*09300000*1*X*005010X279A1~
         ST*271*0001*005010X279A1~
         BHT*0022*11*TRANSA*20261116*09300000~
         HL*1**20*1~
         NM1*PR*2*CMS*****PI*CMS~
         PER*IC**UR*https://www.cms.gov/hets-help*UR*https://www.cms.gov/center/provider.asp~
         HL*2*1*21*1~
         NM1*1P*2*BAYSIDE FAMILY MEDICINE*****XX*1125213722~
         HL*3*2*22*0~
         TRN*2*TRACKNUM*ABCDEFGHIJ~
         NM1*IL*1*HARTWELL*MARGARET*E***MI*2DG9NX3WK42~
         N3*412 ELM ST~
         N4*TOWSON*MD*21204~
         DMG*D8*19510314*F~
         DTP*307*RD8*20260101-20261116~",
    );
    assert!(t.ends_with("GE*1*1~\nIEA*1*000000001~\n"));
}

#[test]
fn original_medicare() {
    let t = persona("original-medicare");
    assert_has(&t, &format!("{PART_A}\nDTP*291*D8*20160301~"));
    assert_has(&t, &format!("{PART_B}\nDTP*291*D8*20160301~"));
    // Part A deductible for 2026, all of it remaining (no benefit period this year).
    assert_has(&t, "EB*C**30*MA**26*1736~\nDTP*291*RD8*20260101-20261231~\nEB*C**30*MA**29*1736~");
    // Part B: $283 base, $200 met, $83 remaining; 20% coinsurance.
    assert_has(
        &t,
        "EB*C**30*MB**23*283~\nDTP*291*RD8*20260101-20261231~\nEB*C**30*MB**29*83~\nDTP*291*RD8*20260101-20261231~\nEB*A**30*MB**27**.2~",
    );
    // Therapy used amounts and smoking cessation (8 a year, 2 used).
    assert_has(&t, "EB*D**AE*MB***420~\nDTP*292*RD8*20260101-20261231~\nMSG*USED AMOUNT~");
    assert_has(&t, "EB*D**AD*MB***0~\nDTP*292*RD8*20260101-20261231~\nMSG*USED AMOUNT~");
    assert_has(&t, "EB*F**67*MB**22***VS*8~\nHSD*VS*6***29~");
    // Blood: 3 pints, none used.
    assert_has(&t, "EB*E**10***23***DB*3~\nHSD*FL*3***29~\nDTP*292*RD8*20260101-20261231~");
    // Preventive (D6): G0439 last 2025-12-02, 12 months → 2026-12-01; the initial wellness
    // visit was used (once per lifetime); a lipid panel 2023-05-10, 60 months → 2028-05-01.
    assert_has(&t, "EB*D***MB*********HC|G0439~\nDTP*348*D8*20261201~");
    assert_has(&t, "EB*I***MB*********HC|G0438~\nEB*D***MB*********HC|G0439~");
    assert_has(&t, "EB*D***MB*********HC|80061~\nDTP*348*D8*20280501~");
    // Never used: eligible from the Part B start.
    assert_has(&t, "EB*D***MB*********HC|77067~\nDTP*348*D8*20160301~");
    // PPV prior usage (release R2020Q200 in force), with the rendering NPI.
    assert_has(
        &t,
        "EB*D***MB*********HC|90670~\nDTP*472*D8*20241010~\nLS*2120~\nNM1*1P*2******XX*2298510209~\nLE*2120~",
    );
    assert_has(
        &t,
        "EB*D***MB*********HC|90732~\nDTP*472*D8*20190401~\nLS*2120~\nNM1*1P*2******XX*2298510209~\nLE*2120~",
    );
    assert_lacks(&t, "EB*6");
    assert_lacks(&t, "EB*R");
}

#[test]
fn medicare_advantage() {
    let t = persona("medicare-advantage");
    assert_has(
        &t,
        "EB*R**30*HN~
         REF*18*H4321 012~
         DTP*290*D8*20240101~
         MSG*MCO Bill Option Code- C~
         LS*2120~
         NM1*PRP*2*BLUE HARBOR ADVANTAGE~
         N3*PO BOX 4400~
         N4*BALTIMORE*MD*21203~
         PER*IC**TE*8005550101*UR*www.blueharbor.example~
         LE*2120~",
    );
    assert_has(&t, "EB*R**88*OT~\nREF*18*H4321 012~\nDTP*292*D8*20240101~\nLS*2120~\nNM1*PRP*2*BLUE HARBOR ADVANTAGE~");
    assert_has(
        &t,
        "NM1*IL*1*OKAFOR*DANIEL****MI*4VQ3C55WU99~\nN3*88 HARBOR VIEW DR~\nN4*ANNAPOLIS*MD*21401~\nDMG*D8*19540902*M~",
    );
}

#[test]
fn part_d_pdp() {
    let t = persona("part-d-pdp");
    assert_has(
        &t,
        "EB*R**88*OT~
         REF*18*S5810 003~
         DTP*292*D8*20250101~
         LS*2120~
         NM1*PRP*2*SUMMIT RX PLAN~
         N3*1200 SUMMIT PKWY~
         N4*COLUMBIA*MD*21044~
         PER*IC**TE*8005550177~
         LE*2120~",
    );
    assert_lacks(&t, "EB*R**30");
    assert_has(&t, "NM1*IL*1*LINDQVIST*ERIK*J***MI*8Y47Y57RG61~");
}

#[test]
fn hospice() {
    let t = persona("hospice");
    // First benefit period: 90 days from 2026-09-15.
    assert_has(
        &t,
        "EB*X**45*MA**26~
         DTP*292*RD8*20260915-20261213~
         MSG*Revocation Code - 0~
         LS*2120~
         NM1*1P*2******XX*1766542546~
         LE*2120~
         EB*D**45*MA**26***99*1~",
    );
}

#[test]
fn home_health() {
    let t = persona("home-health");
    assert_has(
        &t,
        "EB*X**42***26~
         DTP*472*RD8*20261031-20261129~
         DTP*193*D8*20261031~
         DTP*194*D8*20261114~
         LS*2120~
         NM1*1P*2******XX*2117840019~
         LE*2120~
         EB*X************HC|G0180~
         DTP*193*D8*20261001~",
    );
    assert_has(&t, "EB*X**42***26~\nDTP*472*RD8*20261001-20261030~\nDTP*193*D8*20261001~\nDTP*194*D8*20261030~");
}

#[test]
fn msp_working_aged() {
    let t = persona("msp-working-aged");
    assert_has(
        &t,
        "EB*R**30*12~
         REF*IG*GRP778812~
         DTP*290*D8*20230301~
         LS*2120~
         NM1*PRP*2*ACME MANUFACTURING HEALTH PLAN~
         N3*500 INDUSTRIAL WAY~
         N4*DUNDALK*MD*21222~
         LE*2120~",
    );
}

#[test]
fn esrd() {
    let t = persona("esrd");
    assert_has(&t, "EB*D**15*MB~\nDTP*356*D8*20210315~\nDTP*096*D8*20250210~");
    // The closed ESRD coordination period: RD8.
    assert_has(
        &t,
        "EB*R**30*13~\nREF*IG*CTE-55102~\nDTP*290*RD8*20210601-20221130~\nLS*2120~\nNM1*PRP*2*CITY TRANSIT EMPLOYEES PLAN~",
    );
}

#[test]
fn part_a_only() {
    let t = persona("part-a-only");
    assert_has(&t, "EB*6**30*MB~");
    assert_has(&t, &format!("{PART_A}\nDTP*291*D8*20231101~"));
    assert_lacks(&t, "*MB~\nDTP*291");
    assert_lacks(&t, "HC|");
}

#[test]
fn part_b_ended() {
    let t = persona("part-b-ended");
    assert_has(&t, "EB*6**30*MB~\nDTP*307*RD8*20120501-20240630~");
    assert_has(&t, &format!("{PART_A}\nDTP*291*D8*20120501~"));
    assert_lacks(&t, PART_B);
}

#[test]
fn deceased() {
    let t = persona("deceased");
    assert_has(&t, "DMG*D8*19361014*M~\nDTP*307*RD8*20260101-20261116~\nDTP*442*D8*20260502~");
    // Coverage ends on the date of death; the rest of the inquiry period is inactive.
    assert_has(&t, "EB*6**30~\nDTP*307*RD8*20260503-20261116~");
    assert_has(&t, &format!("{PART_A}\nDTP*291*RD8*20011001-20260502~"));
    assert_has(&t, &format!("{PART_B}\nDTP*291*RD8*20011001-20260502~"));
}

#[test]
fn qmb() {
    let t = persona("qmb");
    assert_has(&t, "EB*R**30*QM*MD QMB~\nDTP*290*D8*20240101~");
}

#[test]
fn benefit_period() {
    let t = persona("benefit-period");
    // The spell: deductible met, 40 of 60 full days and all 30 coinsurance days left, SNF 25
    // days used (0 of 20 full days, 75 of 80 coinsurance days left), 45 reserve days left.
    assert_has(
        &t,
        "EB*C**30*MA**29*1736~\nDTP*291*RD8*20260101-20261231~\nEB*C**30*MA**29*0~\nDTP*291*RD8*20260801-20260914~",
    );
    assert_has(&t, "EB*B**30*MA**7*0~\nHSD***DA**29*40~\nHSD*****26*1~\nDTP*435*RD8*20260801-20260914~");
    assert_has(&t, "EB*B**30*MA**7*434~\nHSD***DA**29*30~\nHSD*****26*1~\nDTP*435*RD8*20260801-20260914~");
    assert_has(&t, "EB*B**AG*MA**7*0~\nHSD***DA**29*0~\nHSD*****26*1~\nDTP*435*RD8*20260801-20260914~");
    assert_has(&t, "EB*B**AG*MA**7*217~\nHSD***DA**29*75~\nHSD*****26*1~\nDTP*435*RD8*20260801-20260914~");
    assert_has(
        &t,
        "EB*K**30*MA**32***DY*60~\nEB*K**30*MA**33***DY*45~\nEB*K**30*MA**7*868~\nDTP*435*RD8*20260101-20261231~",
    );
    // Part B deductible met in full; one pint of blood used.
    assert_has(&t, "EB*C**30*MB**29*0~");
    assert_has(&t, "EB*E**10***23***DB*3~\nHSD*FL*2***29~");
}

#[test]
fn name_normalization() {
    // Sent without punctuation and with the suffix in the last name: CORE 258 matches it.
    let mut ask = Ask::persona("name-normalization");
    ask.last = "OBRIEN SMITH JR".into();
    let d = decide(&ask);
    assert!(d.aaa.is_empty(), "{:?}", d.aaa);
    // The 271 echoes the name as stored, suffix in NM107.
    assert_has(&judged("name-normalization", &d), "NM1*IL*1*O'BRIEN-SMITH*SEAN***JR*MI*5QD5JD6MV00~");
}

#[test]
fn future_entitlement() {
    let t = persona("future-entitlement");
    assert_has(&t, "EB*6**30*MA~\nEB*6**30*MB~");
    assert_lacks(&t, "EB*1");
}

#[test]
fn same_name_beneficiaries_are_told_apart_by_mbi() {
    let one = persona("same-name-1");
    let two = persona("same-name-2");
    assert_has(&one, "NM1*IL*1*SMITH*JOHN****MI*8EW0RW4EX33~\nN3*1 FIRST ST~\nN4*LAUREL*MD*20707~");
    assert_has(&two, "NM1*IL*1*SMITH*JOHN****MI*1UT2U23MA25~\nN3*2 SECOND ST~\nN4*BOWIE*MD*20715~");
}

#[test]
fn every_persona_is_answered_without_aaa() {
    for b in &support::personas().beneficiaries {
        let d = decide(&Ask::for_beneficiary(b));
        assert!(d.aaa.is_empty(), "{}: {:?}", b.key, d.aaa);
    }
}

#[test]
fn no_date_means_today_as_d8() {
    let mut ask = Ask::persona("original-medicare");
    ask.period = None;
    assert_has(&judged("no-date", &decide(&ask)), "DMG*D8*19510314*F~\nDTP*307*D8*20261116~");
}

/// D7: the same PPV request before R2020Q100, under it, and after R2020Q200.
#[test]
fn releases_change_the_ppv_answer() {
    let mut ask = Ask::persona("original-medicare");
    ask.hcpcs = vec!["90670".into()];
    ask.service_types.clear();
    let at = |instant: &str, day: &str| {
        let mut a = ask.clone();
        a.period = Some(("D8".into(), day.into()));
        let d = decide_at(&a, "WDEMO001", instant);
        assert!(d.aaa.is_empty(), "{instant}: {:?}", d.aaa);
        d
    };
    // 2020-03-01: next eligible date. 90670 is once per lifetime and was not yet used then
    // (2024-10-10), so it is eligible from the Part B start.
    let before = judged("ppv-2020-03-01", &at("2020-03-01T15:00:00Z", "20200301"));
    assert_has(&before, "EB*D***MB*********HC|90670~\nDTP*348*D8*20160301~");
    // 2020-03-20: suspended, nothing about PPV.
    let during = judged("ppv-2020-03-20", &at("2020-03-20T15:00:00Z", "20200320"));
    assert_lacks(&during, "90670");
    // 2020-05-01: prior usage; the 2024 vaccination lies in the future of that instant.
    let after = judged("ppv-2020-05-01", &at("2020-05-01T15:00:00Z", "20200501"));
    assert_has(&after, "EB*D***MB*********HC|90670~");
    assert_lacks(&after, "DTP*472");
    // Today, prior usage shows the paid service with its NPI.
    let mut today = ask.clone();
    today.period = None;
    let now = judged("ppv-today", &decide(&today));
    assert_has(
        &now,
        "EB*D***MB*********HC|90670~\nDTP*472*D8*20241010~\nLS*2120~\nNM1*1P*2******XX*2298510209~\nLE*2120~",
    );
    // A procedure inquiry carries the HCPCS-level deductible and coinsurance too.
    assert_has(&now, "EB*C***MB**23*0******HC|90670~\nDTP*292*RD8*20260101-20261231~\nEB*A***MB**27**0*****HC|90670~");
}

#[test]
fn explain_reads_a_271_for_the_front_desk() {
    let t = persona("original-medicare").replace('\n', "");
    let x12::Checked::Accepted { transaction, .. } = x12::check_271(t.as_bytes()) else { panic!("271 not readable") };
    let text = eligibility::explain(&transaction);
    for line in [
        "Beneficiary: MARGARET E HARTWELL (MBI 2DG9NX3WK42)",
        "COVERED   Medicare Part A (since 2016-03-01)",
        "COVERED   Medicare Part B (since 2016-03-01)",
        "Medicare Part B deductible remaining: $83 (2026-01-01 to 2026-12-31)",
        "Medicare Part B coinsurance: 20%",
        "G0439: next eligible 2026-12-01",
        "G0438: not covered again (once per lifetime, already used)",
        "90670: paid service on 2024-10-10 (NPI 2298510209)",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    let ma = persona("medicare-advantage").replace('\n', "");
    let x12::Checked::Accepted { transaction, .. } = x12::check_271(ma.as_bytes()) else { panic!() };
    let text = eligibility::explain(&transaction);
    assert!(
        text.contains("Medicare Advantage plan H4321 012: BLUE HARBOR ADVANTAGE (2024-01-01), phone 8005550101"),
        "{text}"
    );
    let mut ask = Ask::persona("original-medicare");
    ask.birth = "19000101".into();
    let d = decide(&ask);
    let t = support::text(&d).replace('\n', "");
    let x12::Checked::Accepted { transaction, .. } = x12::check_271(t.as_bytes()) else { panic!() };
    let text = eligibility::explain(&transaction);
    assert!(text.contains("! beneficiary: AAA 71 - date of birth does not match (correct and resubmit)"), "{text}");
}

/// D17: history that ended before 2022-01-01 (four years plus the current year) is not served.
#[test]
fn history_older_than_the_horizon_is_not_served() {
    let mut b = support::personas().beneficiary("esrd").unwrap().clone();
    b.msp[0].to = Some(x12::Date::new(2021, 12, 31).unwrap());
    b.part_b = vec![eligibility::Period {
        from: x12::Date::new(2015, 1, 1).unwrap(),
        to: Some(x12::Date::new(2021, 6, 30).unwrap()),
    }];
    let t = judged("horizon", &support::decide_about(&b));
    assert_lacks(&t, "EB*R**30*13");
    assert_lacks(&t, "DTP*307*RD8*20150101-20210630");
    // The Part B gap still shows as not held.
    assert_has(&t, "EB*6**30*MB~");
    // Just inside the horizon, it is served.
    b.msp[0].to = Some(x12::Date::new(2022, 1, 1).unwrap());
    assert_has(
        &support::text(&support::decide_about(&b)),
        "EB*R**30*13~\nREF*IG*CTE-55102~\nDTP*290*RD8*20210601-20220101~",
    );
}
