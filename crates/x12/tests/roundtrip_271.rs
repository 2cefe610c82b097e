//! Every 271 shape of `hets-271-domain.md` §3, built from the typed model, written, read back
//! and written again: the bytes must be identical, and the judge sees each one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod support;

use x12::{
    Aaa, Benefit, Checked, Contact, Date, Eb, HealthCareDelivery, Receiver271, RelatedEntity, Response271,
    ResponseAddress, ResponseDate, ResponseDemographics, ResponseName, ResponseReference, ResponseTrace, Source271,
    Subscriber271, Time,
};

fn d(s: &str) -> Date {
    Date::parse_iso(s).expect("test date")
}

fn name(
    entity: &'static str,
    kind: &'static str,
    last: &'static str,
    first: &'static str,
    idq: &'static str,
    id: &'static str,
) -> ResponseName {
    ResponseName {
        entity: entity.into(),
        entity_type: kind.into(),
        last: last.into(),
        first: first.into(),
        id_qualifier: idq.into(),
        id: id.into(),
        ..Default::default()
    }
}

fn address(line1: &'static str, city: &'static str, state: &'static str, zip: &'static str) -> Option<ResponseAddress> {
    Some(ResponseAddress {
        line1: line1.into(),
        city: city.into(),
        state: state.into(),
        zip: zip.into(),
        ..Default::default()
    })
}

/// An EB with the elements the samples use; the rest stay empty.
fn eb(info: &'static str, types: &[&'static str], insurance: &'static str) -> Benefit {
    Benefit {
        eb: Eb {
            info: info.into(),
            service_types: types.iter().map(|s| x12::Text::from(*s)).collect(),
            insurance_type: insurance.into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

trait BenefitExt {
    fn period(self, p: &'static str) -> Self;
    fn amount(self, a: &'static str) -> Self;
    fn percent(self, p: &'static str) -> Self;
    fn quantity(self, q: &'static str, n: &'static str) -> Self;
    fn hcpcs(self, code: &'static str) -> Self;
    fn on(self, qualifier: &'static str, day: &'static str) -> Self;
    fn during(self, qualifier: &'static str, from: &'static str, to: &'static str) -> Self;
    fn hsd(self, h: [&'static str; 6]) -> Self;
    fn msg(self, m: &'static str) -> Self;
    fn reference(self, q: &'static str, v: &'static str) -> Self;
    fn related(self, r: RelatedEntity) -> Self;
}

impl BenefitExt for Benefit {
    fn period(mut self, p: &'static str) -> Self {
        self.eb.period = p.into();
        self
    }
    fn amount(mut self, a: &'static str) -> Self {
        self.eb.amount = a.into();
        self
    }
    fn percent(mut self, p: &'static str) -> Self {
        self.eb.percent = p.into();
        self
    }
    fn quantity(mut self, q: &'static str, n: &'static str) -> Self {
        self.eb.quantity_qualifier = q.into();
        self.eb.quantity = n.into();
        self
    }
    fn hcpcs(mut self, code: &'static str) -> Self {
        self.eb.procedure = code.split('|').map(x12::Text::from).collect();
        self
    }
    fn on(mut self, qualifier: &'static str, day: &'static str) -> Self {
        self.dates.push(ResponseDate::single(qualifier, d(day)));
        self
    }
    fn during(mut self, qualifier: &'static str, from: &'static str, to: &'static str) -> Self {
        self.dates.push(ResponseDate::range(qualifier, d(from), d(to)));
        self
    }
    fn hsd(mut self, h: [&'static str; 6]) -> Self {
        self.deliveries.push(HealthCareDelivery {
            quantity_qualifier: h[0].into(),
            quantity: h[1].into(),
            unit: h[2].into(),
            sample_modulus: h[3].into(),
            period: h[4].into(),
            periods: h[5].into(),
            ..Default::default()
        });
        self
    }
    fn msg(mut self, m: &'static str) -> Self {
        self.messages.push(m.into());
        self
    }
    fn reference(mut self, q: &'static str, v: &'static str) -> Self {
        self.references.push(ResponseReference { qualifier: q.into(), value: v.into() });
        self
    }
    fn related(mut self, r: RelatedEntity) -> Self {
        self.related.push(r);
        self
    }
}

fn provider(npi: &'static str) -> RelatedEntity {
    RelatedEntity { name: name("1P", "2", "", "", "XX", npi), ..Default::default() }
}

fn plan(
    org: &'static str,
    line1: &'static str,
    city: &'static str,
    phone: Option<&'static str>,
    url: Option<&'static str>,
) -> RelatedEntity {
    let mut numbers = Vec::new();
    if let Some(p) = phone {
        numbers.push(("TE".to_string(), p.to_string()));
    }
    if let Some(u) = url {
        numbers.push(("UR".to_string(), u.to_string()));
    }
    RelatedEntity {
        name: name("PRP", "2", org, "", "", ""),
        address: address(line1, city, "MD", "21203"),
        contacts: if numbers.is_empty() {
            Vec::new()
        } else {
            vec![Contact { function: "IC".into(), name: String::new(), numbers }]
        },
    }
}

/// The header loops every 271 shares: CMS, the receiver NPI, the subscriber echo.
fn response(benefits: Vec<Benefit>) -> Response271 {
    Response271 {
        control_number: "0001".into(),
        purpose: "11".into(),
        reference: "TRANSA".into(),
        date: Some(support::date()),
        time: Time::new(9, 30, 0, 12).expect("time"),
        source: Source271 {
            name: name("PR", "2", "CMS", "", "PI", "CMS"),
            contacts: vec![Contact {
                function: "IC".into(),
                name: String::new(),
                numbers: vec![
                    ("UR".into(), "https://www.cms.gov/hets-help".into()),
                    ("UR".into(), "https://www.cms.gov/center/provider.asp".into()),
                ],
            }],
            aaa: Vec::new(),
        },
        receiver: Some(Receiver271 {
            name: name("1P", "2", "BAYSIDE FAMILY MEDICINE", "", "XX", "1125213722"),
            aaa: Vec::new(),
        }),
        subscriber: Some(Subscriber271 {
            traces: vec![ResponseTrace {
                kind: "2".into(),
                reference: "TRACKNUM".into(),
                originator: "ABCDEFGHIJ".into(),
                supplemental: String::new(),
            }],
            name: ResponseName { middle: "E".into(), ..name("IL", "1", "HARTWELL", "MARGARET", "MI", "2DG9NX3WK42") },
            address: address("412 ELM ST", "TOWSON", "MD", "21204"),
            aaa: Vec::new(),
            demographics: Some(ResponseDemographics { birth_date: d("1951-03-14"), gender: "F".into() }),
            dates: vec![ResponseDate::range("307", d("2026-01-01"), d("2026-11-16"))],
            benefits,
        }),
    }
}

const PART_A_TYPES: &[&str] =
    &["30", "10", "42", "45", "48", "49", "69", "76", "83", "A5", "A7", "AG", "BT", "BU", "BV"];
const PART_B_TYPES: &[&str] = &[
    "30", "2", "3", "5", "10", "14", "23", "24", "25", "26", "27", "28", "33", "36", "37", "38", "39", "40", "42",
    "50", "51", "52", "53", "67", "69", "73", "76", "83", "86", "98", "A4", "A6", "A8", "AD", "AE", "AF", "AI", "AJ",
    "AK", "AL", "BF", "BG", "BT", "BU", "BV", "DM", "UC",
];

fn entitlement() -> Vec<Benefit> {
    vec![
        eb("1", PART_A_TYPES, "MA").on("291", "2016-03-01"),
        eb("1", PART_B_TYPES, "MB").on("291", "2016-03-01"),
        eb("I", &["41", "54"], ""),
        eb("1", &["88"], ""),
    ]
}

fn shapes() -> Vec<(&'static str, Response271)> {
    let year = ("2026-01-01", "2026-12-31");
    let mut out = Vec::new();

    out.push((
        "original-medicare",
        response({
            let mut b = entitlement();
            b.extend([
                eb("C", &["30"], "MA").period("26").amount("1736").during("291", year.0, year.1),
                eb("C", &["30"], "MA").period("29").amount("1736").during("291", year.0, year.1),
                eb("C", &["42", "45"], "MA").period("26").amount("0").during("292", year.0, year.1),
                eb("C", &["30"], "MB").period("23").amount("283").during("291", year.0, year.1),
                eb("C", &["30"], "MB").period("29").amount("83").during("291", year.0, year.1),
                eb("A", &["30"], "MB").period("27").percent(".2").during("291", year.0, year.1),
                eb("A", &["42", "67", "AJ"], "MB").period("27").percent("0").during("292", year.0, year.1),
                eb("E", &["10"], "")
                    .period("23")
                    .quantity("DB", "3")
                    .hsd(["FL", "3", "", "", "29", ""])
                    .during("292", year.0, year.1),
                eb("D", &["AD"], "MB").amount("0").during("292", year.0, year.1).msg("USED AMOUNT"),
                eb("D", &["AE"], "MB").amount("420").during("292", year.0, year.1).msg("USED AMOUNT"),
                eb("F", &["67"], "MB").period("22").quantity("VS", "8").hsd(["VS", "6", "", "", "29", ""]),
                eb("F", &["BF"], "MB").period("29").quantity("CA", "72").msg("Professional"),
                eb("F", &["BG"], "MB").quantity("99", "0").msg("Technical"),
                eb("C", &[], "MB").period("23").amount("0").hcpcs("HC|80061").during("292", year.0, year.1),
                eb("A", &[], "MB").period("27").percent("0").hcpcs("HC|80061").during("292", year.0, year.1),
                eb("D", &[], "MB").hcpcs("HC|G0439").on("348", "2026-12-01"),
                eb("D", &[], "MB").hcpcs("HC|77067|26").on("348", "2026-12-01"),
                eb("I", &[], "MB").hcpcs("HC|G0438"),
                eb("D", &[], "MB").hcpcs("HC|90670").on("472", "2024-10-10").related(provider("2298510209")),
                eb("D", &[], "MB").hcpcs("HC|90732").on("472", "2019-04-01").related(provider("2298510209")),
            ]);
            b
        }),
    ));

    out.push((
        "benefit-period",
        response({
            let mut b = entitlement();
            let spell = ("2026-08-01", "2026-09-14");
            b.extend([
                eb("C", &["30"], "MA").period("29").amount("0").during("291", spell.0, spell.1),
                eb("B", &["30"], "MA")
                    .period("7")
                    .amount("0")
                    .hsd(["", "", "DA", "", "30", "0"])
                    .hsd(["", "", "DA", "", "31", "60"])
                    .hsd(["", "", "", "", "26", "1"])
                    .during("435", year.0, year.1),
                eb("B", &["30"], "MA")
                    .period("7")
                    .amount("434")
                    .hsd(["", "", "DA", "", "30", "60"])
                    .hsd(["", "", "DA", "", "31", "90"])
                    .hsd(["", "", "", "", "26", "1"])
                    .during("435", year.0, year.1),
                eb("B", &["30"], "MA")
                    .period("7")
                    .amount("0")
                    .hsd(["", "", "DA", "", "29", "40"])
                    .hsd(["", "", "", "", "26", "1"])
                    .during("435", spell.0, spell.1),
                eb("B", &["AG"], "MA")
                    .period("7")
                    .amount("217")
                    .hsd(["", "", "DA", "", "30", "20"])
                    .hsd(["", "", "DA", "", "31", "100"])
                    .hsd(["", "", "", "", "26", "1"])
                    .during("435", year.0, year.1),
                eb("K", &["30"], "MA").period("32").quantity("DY", "60"),
                eb("K", &["30"], "MA").period("33").quantity("DY", "45"),
                eb("K", &["30"], "MA").period("7").amount("868").during("435", year.0, year.1),
                eb("K", &["A7"], "MA").period("32").quantity("DY", "190"),
            ]);
            b
        }),
    ));

    out.push((
        "home-health",
        response({
            let mut b = entitlement();
            b.extend([
                eb("X", &["42"], "")
                    .period("26")
                    .during("472", "2026-10-31", "2026-11-29")
                    .on("193", "2026-10-31")
                    .on("194", "2026-11-14")
                    .related(RelatedEntity {
                        name: name("PR", "2", "NOVITAS SOLUTIONS", "", "PI", "12302"),
                        ..Default::default()
                    })
                    .related(provider("2117840019")),
                eb("X", &[], "").hcpcs("HC|G0180").on("193", "2026-10-01"),
            ]);
            b
        }),
    ));

    out.push((
        "hospice",
        response({
            let mut b = entitlement();
            b.extend([
                eb("X", &["45"], "MA")
                    .period("26")
                    .during("292", "2026-09-15", "2026-12-13")
                    .msg("Revocation Code - 0")
                    .related(provider("1766542546")),
                eb("D", &["45"], "MA").period("26").quantity("99", "1"),
            ]);
            b
        }),
    ));

    out.push((
        "esrd",
        response({
            let mut b = entitlement();
            b.push(eb("D", &["15"], "MB").on("356", "2021-03-15").on("096", "2025-02-10"));
            b.push(
                eb("R", &["30"], "13").reference("IG", "CTE-55102").during("290", "2021-06-01", "2022-11-30").related(
                    RelatedEntity {
                        address: address("1 TRANSIT PLZ", "BALTIMORE", "MD", "21202"),
                        ..plan("CITY TRANSIT EMPLOYEES PLAN", "", "", None, None)
                    },
                ),
            );
            b
        }),
    ));

    out.push((
        "medicare-advantage",
        response({
            let mut b = entitlement();
            b.push(
                eb("R", &["30"], "HN")
                    .reference("18", "H4321 012")
                    .on("290", "2024-01-01")
                    .msg("MCO Bill Option Code- C")
                    .related(plan(
                        "BLUE HARBOR ADVANTAGE",
                        "PO BOX 4400",
                        "BALTIMORE",
                        Some("8005550101"),
                        Some("www.blueharbor.example"),
                    )),
            );
            b.push(eb("R", &["88"], "OT").reference("18", "H4321 012").on("292", "2024-01-01").related(plan(
                "BLUE HARBOR ADVANTAGE",
                "PO BOX 4400",
                "BALTIMORE",
                Some("8005550101"),
                None,
            )));
            b
        }),
    ));

    out.push((
        "msp-working-aged",
        response({
            let mut b = entitlement();
            b.push(eb("R", &["30"], "12").reference("IG", "GRP778812").on("290", "2023-03-01").related(plan(
                "ACME MANUFACTURING HEALTH PLAN",
                "500 INDUSTRIAL WAY",
                "DUNDALK",
                None,
                None,
            )));
            b
        }),
    ));

    out.push((
        "qmb",
        response({
            let mut b = entitlement();
            b.push(eb("R", &["30"], "QM").during("290", "2024-01-01", "2026-12-31"));
            b[4].eb.plan_description = "MD QMB".into();
            b
        }),
    ));

    out.push((
        "part-b-ended",
        response(vec![
            eb("1", PART_A_TYPES, "MA").on("291", "2012-05-01"),
            eb("6", &["30"], "MB").during("307", "2012-05-01", "2024-06-30"),
        ]),
    ));

    out.push(("deceased", {
        let mut r = response(vec![
            eb("6", &["30"], "MA").during("307", "2001-10-01", "2026-05-02"),
            eb("6", &["30"], "MB").during("307", "2001-10-01", "2026-05-02"),
        ]);
        if let Some(s) = r.subscriber.as_mut() {
            s.dates.push(ResponseDate::single("442", d("2026-05-02")));
        }
        r
    }));

    out.push(("aaa-subscriber", {
        let mut r = response(Vec::new());
        if let Some(s) = r.subscriber.as_mut() {
            s.address = None;
            s.aaa = vec![Aaa::new(false, "73", "C"), Aaa::new(false, "71", "C")];
        }
        r
    }));

    out.push(("aaa-receiver", {
        let mut r = response(Vec::new());
        r.subscriber = None;
        if let Some(rc) = r.receiver.as_mut() {
            rc.aaa.push(Aaa::new(false, "43", "C"));
        }
        r
    }));

    out.push(("aaa-source", {
        let mut r = response(Vec::new());
        r.receiver = None;
        r.subscriber = None;
        r.source.aaa.push(Aaa::new(true, "42", "R"));
        r
    }));
    out
}

#[test]
fn every_shape_round_trips_byte_for_byte() {
    for (shape, model) in shapes() {
        let mut first = Vec::new();
        model.write(&support::reply_envelope(), &mut first);
        support::conformance(&format!("271-{shape}"), &first);
        let read = match x12::check_271(&first) {
            Checked::Accepted { transaction, .. } => transaction,
            other => panic!("{shape}: our own 271 does not read back: {other:?}\n{}", String::from_utf8_lossy(&first)),
        };
        assert_eq!(read, model, "{shape}: the model read back differs");
        let mut second = Vec::new();
        read.write(&support::reply_envelope(), &mut second);
        assert_eq!(String::from_utf8_lossy(&second), String::from_utf8_lossy(&first), "{shape}: second write differs");
    }
}

/// The compact 271 of the domain file (§3.17), built from the model, must come out exactly as
/// printed there, segment for segment.
#[test]
fn domain_file_compact_sample_is_reproduced() {
    let expected = "ST*271*0001*005010X279A1~BHT*0022*11*REF123*20240408*10150000~\
HL*1**20*1~NM1*PR*2*CMS*****PI*CMS~\
HL*2*1*21*1~NM1*1P*2*ACME CLINIC*****XX*1234567893~\
HL*3*2*22*0~TRN*2*TRC001*1999999999~NM1*IL*1*DOE*JANE*Q***MI*1EG4TE5MK73~\
N3*1 MAIN ST~N4*BALTIMORE*MD*21244~DMG*D8*19450315*F~DTP*307*D8*20240408~\
EB*1**30^42^45^48^AG*MA~DTP*291*D8*20100301~\
EB*C**30*MA**26*1632~DTP*291*RD8*20240101-20241231~\
EB*C**30*MA**29*1632~DTP*291*RD8*20240101-20241231~\
EB*1**30^98^AD^AE^BF^BG^DM*MB~DTP*291*D8*20100301~\
EB*C**30*MB**23*240~DTP*291*RD8*20240101-20241231~\
EB*C**30*MB**29*0~DTP*291*RD8*20240101-20241231~\
EB*A**30*MB**27**.2~DTP*291*RD8*20240101-20241231~\
EB*D***MB*********HC|G0438~DTP*348*D8*20240601~\
EB*R**30*13~REF*IG*POL778~DTP*290*D8*20220101~LS*2120~NM1*PRP*2*ACME EMPLOYER PLAN~N3*PO BOX 1~N4*TOWSON*MD*21204~LE*2120~";
    let y = ("2024-01-01", "2024-12-31");
    let model = Response271 {
        control_number: "0001".into(),
        purpose: "11".into(),
        reference: "REF123".into(),
        date: Some(d("2024-04-08")),
        time: Time::new(10, 15, 0, 0).expect("time"),
        source: Source271 { name: name("PR", "2", "CMS", "", "PI", "CMS"), ..Default::default() },
        receiver: Some(Receiver271 { name: name("1P", "2", "ACME CLINIC", "", "XX", "1234567893"), aaa: Vec::new() }),
        subscriber: Some(Subscriber271 {
            traces: vec![ResponseTrace {
                kind: "2".into(),
                reference: "TRC001".into(),
                originator: "1999999999".into(),
                supplemental: String::new(),
            }],
            name: ResponseName { middle: "Q".into(), ..name("IL", "1", "DOE", "JANE", "MI", "1EG4TE5MK73") },
            address: address("1 MAIN ST", "BALTIMORE", "MD", "21244"),
            aaa: Vec::new(),
            demographics: Some(ResponseDemographics { birth_date: d("1945-03-15"), gender: "F".into() }),
            dates: vec![ResponseDate::single("307", d("2024-04-08"))],
            benefits: vec![
                eb("1", &["30", "42", "45", "48", "AG"], "MA").on("291", "2010-03-01"),
                eb("C", &["30"], "MA").period("26").amount("1632").during("291", y.0, y.1),
                eb("C", &["30"], "MA").period("29").amount("1632").during("291", y.0, y.1),
                eb("1", &["30", "98", "AD", "AE", "BF", "BG", "DM"], "MB").on("291", "2010-03-01"),
                eb("C", &["30"], "MB").period("23").amount("240").during("291", y.0, y.1),
                eb("C", &["30"], "MB").period("29").amount("0").during("291", y.0, y.1),
                eb("A", &["30"], "MB").period("27").percent(".2").during("291", y.0, y.1),
                eb("D", &[], "MB").hcpcs("HC|G0438").on("348", "2024-06-01"),
                eb("R", &["30"], "13").reference("IG", "POL778").on("290", "2022-01-01").related(RelatedEntity {
                    name: name("PRP", "2", "ACME EMPLOYER PLAN", "", "", ""),
                    address: address("PO BOX 1", "TOWSON", "MD", "21204"),
                    contacts: Vec::new(),
                }),
            ],
        }),
    };
    let mut out = Vec::new();
    model.write(&support::reply_envelope(), &mut out);
    support::conformance("271-domain-compact-sample", &out);
    let text = String::from_utf8_lossy(&out);
    let st = text.find("ST*271").expect("ST");
    let se = text.find("SE*").expect("SE");
    assert_eq!(&text[st..se], expected);
    // §3.17 prints SE*38: 38 segments from ST to SE inclusive.
    assert!(text[se..].starts_with("SE*38*0001~"), "{}", &text[se..]);
}
