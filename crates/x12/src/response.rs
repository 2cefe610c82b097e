//! The typed 271 (005010X279A1): built by the eligibility engine, written here, and read back
//! (for `hets x12 json`, `hets explain` and the round-trip tests).

use crate::ack::{SegmentError, SegmentErrorCode};
use crate::date::{Date, Time};
use crate::envelope::OutboundEnvelope;
use crate::segment::Segment;
use crate::writer::{SegmentWriter, interchange, transaction_set};
use serde::Serialize;
use std::borrow::Cow;

/// Text in a 271 model: most values are code literals (`MA`, `29`, `RD8`) and borrow them; what
/// comes from a record or from a read 271 is owned. Building a 271 then allocates only for data.
pub type Text = Cow<'static, str>;

/// A list of codes in a 271 model (EB03, EB13). The engine states code lists it knows at compile
/// time and borrows them whole; a read 271's lists are owned. A 271 carries dozens of EBs, and
/// a list allocated for each was a good part of the cost of assembling and dropping one.
pub type Codes = Cow<'static, [Text]>;

/// The decimal numbers 0 to 999, each in a slot of three bytes (left-aligned, padded with
/// spaces), so that a small number in a 271 borrows its digits instead of allocating them.
const SMALL_NUMBERS: &str = {
    const BYTES: [u8; 3000] = {
        let mut b = [b' '; 3000];
        let mut n = 0;
        while n < 1000 {
            let (h, t, u) = ((n / 100) as u8, ((n / 10) % 10) as u8, (n % 10) as u8);
            let at = 3 * n;
            if n >= 100 {
                b[at] = b'0' + h;
                b[at + 1] = b'0' + t;
                b[at + 2] = b'0' + u;
            } else if n >= 10 {
                b[at] = b'0' + t;
                b[at + 1] = b'0' + u;
            } else {
                b[at] = b'0' + u;
            }
            n += 1;
        }
        b
    };
    match std::str::from_utf8(&BYTES) {
        Ok(s) => s,
        Err(_) => panic!("the small numbers are ASCII"),
    }
};

/// `n` in decimal: borrowed for the small numbers (days, visits, pints), owned beyond them.
#[inline]
pub fn number_text(n: u32) -> Text {
    let len = match n {
        0..10 => 1,
        10..100 => 2,
        100..1000 => 3,
        _ => return Cow::Owned(n.to_string()),
    };
    let at = 3 * n as usize;
    Cow::Borrowed(SMALL_NUMBERS.get(at..at + len).unwrap_or_default())
}

/// [`crate::format_decimal`] of `value` as model text: whole amounts from 0 to 999 (most
/// amounts and rates of a 271: 0, 283, 434) borrow their digits.
pub fn decimal_text(value: f64) -> Text {
    // `format_decimal` writes a whole amount as its integer digits; negative zero is "-0".
    if value.fract() == 0.0 && (0.0..1000.0).contains(&value) && value.is_sign_positive() {
        return number_text(value as u32);
    }
    Cow::Owned(crate::format_decimal(value))
}

/// An NM1 in a 271. Empty strings are elements not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResponseName {
    pub entity: Text,
    pub entity_type: Text,
    pub last: Text,
    pub first: Text,
    pub middle: Text,
    pub suffix: Text,
    pub id_qualifier: Text,
    pub id: Text,
}

/// PER: a contact with up to three communication numbers (qualifier, number).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Contact {
    pub function: String,
    pub name: String,
    pub numbers: Vec<(String, String)>,
}

/// AAA: why a request could not be answered, and what the submitter may do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Aaa {
    /// AAA01: `Y` the request was valid, `N` it was not.
    pub valid: bool,
    /// AAA03 reject reason code.
    pub reason: String,
    /// AAA04 follow-up action code.
    pub follow_up: String,
}

impl Aaa {
    pub fn new(valid: bool, reason: &str, follow_up: &str) -> Aaa {
        Aaa { valid, reason: reason.to_string(), follow_up: follow_up.to_string() }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResponseAddress {
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub state: String,
    pub zip: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResponseReference {
    pub qualifier: Text,
    pub value: Text,
}

/// A date or a period, as D8 or RD8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DateValue {
    Single(Date),
    Range(Date, Date),
}

/// DTP in a 271.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResponseDate {
    pub qualifier: Text,
    pub value: DateValue,
}

impl ResponseDate {
    pub fn single(qualifier: &'static str, d: Date) -> Self {
        ResponseDate { qualifier: Cow::Borrowed(qualifier), value: DateValue::Single(d) }
    }
    pub fn range(qualifier: &'static str, from: Date, to: Date) -> Self {
        ResponseDate { qualifier: Cow::Borrowed(qualifier), value: DateValue::Range(from, to) }
    }
}

/// The DTPs of a 2110C loop. Nearly every loop has one date, so the first is held inline and
/// only the others (a home health period has three) go to the heap: one allocation and one
/// free per loop were a good part of the cost of assembling and dropping a 271.
#[derive(Clone, Default)]
pub struct Dates {
    first: Option<ResponseDate>,
    rest: Vec<ResponseDate>,
}

impl Dates {
    #[inline]
    pub fn push(&mut self, d: ResponseDate) {
        if self.first.is_none() {
            self.first = Some(d);
        } else {
            self.rest.push(d);
        }
    }

    pub fn first(&self) -> Option<&ResponseDate> {
        self.first.as_ref()
    }

    pub fn iter(&self) -> std::iter::Chain<std::option::Iter<'_, ResponseDate>, std::slice::Iter<'_, ResponseDate>> {
        self.into_iter()
    }

    pub fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub fn is_empty(&self) -> bool {
        // `rest` is empty while `first` is: a push fills `first` first.
        self.first.is_none()
    }
}

impl<'d> IntoIterator for &'d Dates {
    type Item = &'d ResponseDate;
    type IntoIter = std::iter::Chain<std::option::Iter<'d, ResponseDate>, std::slice::Iter<'d, ResponseDate>>;
    fn into_iter(self) -> Self::IntoIter {
        self.first.iter().chain(self.rest.iter())
    }
}

impl FromIterator<ResponseDate> for Dates {
    fn from_iter<I: IntoIterator<Item = ResponseDate>>(iter: I) -> Self {
        let mut dates = Dates::default();
        for d in iter {
            dates.push(d);
        }
        dates
    }
}

impl From<Vec<ResponseDate>> for Dates {
    fn from(v: Vec<ResponseDate>) -> Self {
        v.into_iter().collect()
    }
}

impl PartialEq for Dates {
    fn eq(&self, other: &Self) -> bool {
        self.into_iter().eq(other)
    }
}

impl Eq for Dates {}

/// As a list, like the `Vec` it replaced.
impl std::fmt::Debug for Dates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self).finish()
    }
}

/// As a sequence, like the `Vec` it replaced.
impl Serialize for Dates {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self)
    }
}

/// TRN in a 271 (TRN01 `2` for an echoed trace).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResponseTrace {
    pub kind: String,
    pub reference: String,
    pub originator: String,
    pub supplemental: String,
}

/// DMG in a 271.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResponseDemographics {
    pub birth_date: Date,
    pub gender: String,
}

/// EB: one eligibility or benefit fact. Empty strings are elements not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Eb {
    /// EB01 eligibility or benefit information code.
    pub info: Text,
    pub coverage_level: Text,
    /// EB03 service type codes (repeated).
    pub service_types: Codes,
    /// EB04 insurance type code.
    pub insurance_type: Text,
    pub plan_description: Text,
    /// EB06 time period qualifier.
    pub period: Text,
    /// EB07 monetary amount.
    pub amount: Text,
    /// EB08 percent, as a decimal fraction.
    pub percent: Text,
    /// EB09 quantity qualifier and EB10 quantity.
    pub quantity_qualifier: Text,
    pub quantity: Text,
    pub authorization: Text,
    pub in_network: Text,
    /// EB13 procedure: qualifier, code, modifiers.
    pub procedure: Codes,
}

/// HSD: health care services delivery.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HealthCareDelivery {
    pub quantity_qualifier: Text,
    pub quantity: Text,
    pub unit: Text,
    pub sample_modulus: Text,
    pub period: Text,
    pub periods: Text,
    pub frequency: Text,
    pub pattern_time: Text,
}

/// A 2120C loop: a related entity (plan, payer, provider) with its address and contacts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RelatedEntity {
    pub name: ResponseName,
    pub address: Option<ResponseAddress>,
    pub contacts: Vec<Contact>,
}

/// A 2110C loop.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Benefit {
    pub eb: Eb,
    pub deliveries: Vec<HealthCareDelivery>,
    pub references: Vec<ResponseReference>,
    pub dates: Dates,
    pub aaa: Vec<Aaa>,
    pub messages: Vec<Text>,
    /// The 2120C loops between LS and LE; none means no LS/LE.
    pub related: Vec<RelatedEntity>,
}

/// 2000A/2100A: the information source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Source271 {
    pub name: ResponseName,
    pub contacts: Vec<Contact>,
    pub aaa: Vec<Aaa>,
}

/// 2000B/2100B: the information receiver.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Receiver271 {
    pub name: ResponseName,
    pub aaa: Vec<Aaa>,
}

/// 2000C/2100C/2110C: the subscriber and the benefits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Subscriber271 {
    pub traces: Vec<ResponseTrace>,
    pub name: ResponseName,
    pub address: Option<ResponseAddress>,
    pub aaa: Vec<Aaa>,
    pub demographics: Option<ResponseDemographics>,
    pub dates: Vec<ResponseDate>,
    pub benefits: Vec<Benefit>,
}

/// A 271 transaction set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Response271 {
    /// ST02.
    pub control_number: String,
    /// BHT02 (`11` response), BHT03 (the echoed 270 reference), BHT04, BHT05.
    pub purpose: String,
    pub reference: String,
    pub date: Option<Date>,
    pub time: Time,
    pub source: Source271,
    pub receiver: Option<Receiver271>,
    pub subscriber: Option<Subscriber271>,
}

fn write_name(w: &mut SegmentWriter<'_>, n: &ResponseName) {
    w.seg("NM1")
        .el(&n.entity)
        .el(&n.entity_type)
        .el(&n.last)
        .el(&n.first)
        .el(&n.middle)
        .skip(1)
        .el(&n.suffix)
        .el(&n.id_qualifier)
        .el(&n.id)
        .end();
}

fn write_address(w: &mut SegmentWriter<'_>, a: &ResponseAddress) {
    w.seg("N3").el(&a.line1).el(&a.line2).end();
    w.seg("N4").el(&a.city).el(&a.state).el(&a.zip).end();
}

fn write_contact(w: &mut SegmentWriter<'_>, c: &Contact) {
    w.seg("PER").el(&c.function).el(&c.name);
    for (q, n) in c.numbers.iter().take(3) {
        w.el(q).el(n);
    }
    w.end();
}

/// Inlined for the empty list, which nearly every loop has: the call cost more than the AAAs.
#[inline(always)]
fn write_aaa(w: &mut SegmentWriter<'_>, list: &[Aaa]) {
    if !list.is_empty() {
        write_aaa_segments(w, list);
    }
}

fn write_aaa_segments(w: &mut SegmentWriter<'_>, list: &[Aaa]) {
    for a in list {
        w.seg("AAA").el(if a.valid { "Y" } else { "N" }).skip(1).el(&a.reason).el(&a.follow_up).end();
    }
}

fn write_date(w: &mut SegmentWriter<'_>, d: &ResponseDate) {
    w.seg("DTP").el(&d.qualifier);
    match d.value {
        DateValue::Single(x) => {
            w.el("D8").date(x);
        }
        DateValue::Range(a, b) => {
            // The hyphen is part of the RD8 value, not a separator.
            w.el("RD8").date_range(a, b);
        }
    }
    w.end();
}

impl Response271 {
    /// Writes the whole 271 interchange.
    pub fn write(&self, env: &OutboundEnvelope<'_>, out: &mut Vec<u8>) {
        interchange(out, env, Some(("HB", "005010X279A1")), |w| {
            transaction_set(w, "271", &self.control_number, "005010X279A1", |w| self.write_body(w));
            1
        });
    }

    /// Writes BHT through the last benefit (the segments between ST and SE).
    pub fn write_body(&self, w: &mut SegmentWriter<'_>) {
        w.seg("BHT").el("0022").el(&self.purpose).el(&self.reference);
        if let Some(d) = self.date {
            w.date(d);
        } else {
            w.skip(1);
        }
        w.time_hhmmssdd(self.time);
        w.end();
        let has_receiver = self.receiver.is_some();
        w.seg("HL").el("1").skip(1).el("20").el(if has_receiver { "1" } else { "0" }).end();
        write_name(w, &self.source.name);
        for c in &self.source.contacts {
            write_contact(w, c);
        }
        write_aaa(w, &self.source.aaa);
        let Some(r) = &self.receiver else { return };
        w.seg("HL").el("2").el("1").el("21").el(if self.subscriber.is_some() { "1" } else { "0" }).end();
        write_name(w, &r.name);
        write_aaa(w, &r.aaa);
        let Some(s) = &self.subscriber else { return };
        w.seg("HL").el("3").el("2").el("22").el("0").end();
        for t in &s.traces {
            w.seg("TRN").el(&t.kind).el(&t.reference).el(&t.originator).el(&t.supplemental).end();
        }
        write_name(w, &s.name);
        if let Some(a) = &s.address {
            write_address(w, a);
        }
        write_aaa(w, &s.aaa);
        if let Some(d) = &s.demographics {
            w.seg("DMG").el("D8").date(d.birth_date).el(&d.gender).end();
        }
        for d in &s.dates {
            write_date(w, d);
        }
        for b in &s.benefits {
            let e = &b.eb;
            w.seg("EB")
                .el(&e.info)
                .el(&e.coverage_level)
                .reps(&e.service_types)
                .el(&e.insurance_type)
                .el(&e.plan_description)
                .el(&e.period);
            w.el(&e.amount)
                .el(&e.percent)
                .el(&e.quantity_qualifier)
                .el(&e.quantity)
                .el(&e.authorization)
                .el(&e.in_network);
            w.comp(&e.procedure).end();
            for h in &b.deliveries {
                w.seg("HSD")
                    .el(&h.quantity_qualifier)
                    .el(&h.quantity)
                    .el(&h.unit)
                    .el(&h.sample_modulus)
                    .el(&h.period)
                    .el(&h.periods)
                    .el(&h.frequency)
                    .el(&h.pattern_time)
                    .end();
            }
            for r in &b.references {
                w.seg("REF").el(&r.qualifier).el(&r.value).end();
            }
            for d in &b.dates {
                write_date(w, d);
            }
            write_aaa(w, &b.aaa);
            for m in &b.messages {
                w.seg("MSG").el(m).end();
            }
            if !b.related.is_empty() {
                w.seg("LS").el("2120").end();
                for rel in &b.related {
                    write_name(w, &rel.name);
                    if let Some(a) = &rel.address {
                        write_address(w, a);
                    }
                    for c in &rel.contacts {
                        write_contact(w, c);
                    }
                }
                w.seg("LE").el("2120").end();
            }
        }
    }
}

/// Where the reader is inside the 271.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum At {
    Header,
    Source,
    Receiver,
    Subscriber,
    Benefit,
    Related,
    Done,
}

/// Reads the segments of a 271 set (after ST, up to SE) into the model. It accepts what this
/// system writes and reports anything else as an unexpected segment.
#[derive(Default)]
pub(crate) struct Reader271 {
    pub response: Response271,
    pub errors: Vec<SegmentError>,
    position: u32,
    at: Option<At>,
    /// The TR3 loop of the last segment stepped (for `hets x12 fmt`).
    pub last_loop: &'static str,
}

impl Reader271 {
    pub fn step(&mut self, seg: &Segment<'_>) {
        self.position += 1;
        let at = self.at.unwrap_or(At::Header);
        let (f, _) = seg.fields::<13>();
        let s = |i: usize| String::from_utf8_lossy(f[i]).into_owned();
        let t = |i: usize| -> Text { Cow::Owned(s(i)) };
        let id = seg.id();
        let r = &mut self.response;
        let name = || ResponseName {
            entity: t(0),
            entity_type: t(1),
            last: t(2),
            first: t(3),
            middle: t(4),
            suffix: t(6),
            id_qualifier: t(7),
            id: t(8),
        };
        let address_line = || ResponseAddress { line1: s(0), line2: s(1), ..Default::default() };
        let contact = || Contact {
            function: s(0),
            name: s(1),
            numbers: (0..3).filter(|i| !f[2 + 2 * i].is_empty()).map(|i| (s(2 + 2 * i), s(3 + 2 * i))).collect(),
        };
        let aaa = || Aaa { valid: f[0] == b"Y", reason: s(2), follow_up: s(3) };
        let date = || -> Option<ResponseDate> {
            let v = f[2];
            let value = match f[1] {
                b"D8" => DateValue::Single(Date::parse_ccyymmdd(v)?),
                b"RD8" if v.len() == 17 => {
                    DateValue::Range(Date::parse_ccyymmdd(&v[..8])?, Date::parse_ccyymmdd(&v[9..])?)
                }
                _ => return None,
            };
            Some(ResponseDate { qualifier: t(0), value })
        };
        macro_rules! sub {
            () => {
                r.subscriber.get_or_insert_with(Default::default)
            };
        }
        let ok = match (at, id) {
            (At::Header, b"ST") => {
                r.control_number = s(1);
                true
            }
            (_, b"SE") => true,
            (At::Header, b"BHT") => {
                r.purpose = s(1);
                r.reference = s(2);
                r.date = Date::parse_ccyymmdd(f[3]);
                r.time = Time::parse(f[4]).unwrap_or_default();
                true
            }
            (_, b"HL") => {
                let next = match f[2] {
                    b"20" => At::Source,
                    b"21" => {
                        r.receiver = Some(Receiver271::default());
                        At::Receiver
                    }
                    b"22" => At::Subscriber,
                    _ => At::Done,
                };
                self.at = Some(next);
                next != At::Done
            }
            (At::Source, b"NM1") => {
                r.source.name = name();
                true
            }
            (At::Source, b"PER") => {
                r.source.contacts.push(contact());
                true
            }
            (At::Source, b"AAA") => {
                r.source.aaa.push(aaa());
                true
            }
            (At::Receiver, b"NM1") => r.receiver.as_mut().map(|x| x.name = name()).is_some(),
            (At::Receiver, b"AAA") => r.receiver.as_mut().map(|x| x.aaa.push(aaa())).is_some(),
            (At::Subscriber, b"TRN") => {
                sub!().traces.push(ResponseTrace { kind: s(0), reference: s(1), originator: s(2), supplemental: s(3) });
                true
            }
            (At::Subscriber, b"NM1") => {
                sub!().name = name();
                true
            }
            (At::Subscriber, b"N3") => {
                sub!().address = Some(address_line());
                true
            }
            (At::Subscriber, b"N4") => {
                sub!().address.as_mut().map(|a| (a.city, a.state, a.zip) = (s(0), s(1), s(2))).is_some()
            }
            (At::Subscriber, b"AAA") => {
                sub!().aaa.push(aaa());
                true
            }
            (At::Subscriber, b"DMG") => match Date::parse_ccyymmdd(f[1]) {
                Some(d) => {
                    sub!().demographics = Some(ResponseDemographics { birth_date: d, gender: s(2) });
                    true
                }
                None => false,
            },
            (At::Subscriber, b"DTP") => date().map(|d| sub!().dates.push(d)).is_some(),
            (At::Subscriber | At::Benefit, b"EB") => {
                let procedure = seg
                    .element(13)
                    .components()
                    .map(|c| -> Text { Cow::Owned(String::from_utf8_lossy(c).into_owned()) })
                    .filter(|c| !c.is_empty())
                    .collect::<Vec<_>>()
                    .into();
                let service_types = if f[2].is_empty() {
                    Cow::Borrowed(&[][..])
                } else {
                    seg.element(3)
                        .repetitions()
                        .map(|e| -> Text { Cow::Owned(String::from_utf8_lossy(e.raw()).into_owned()) })
                        .collect::<Vec<_>>()
                        .into()
                };
                let eb = Eb {
                    info: t(0),
                    coverage_level: t(1),
                    service_types,
                    insurance_type: t(3),
                    plan_description: t(4),
                    period: t(5),
                    amount: t(6),
                    percent: t(7),
                    quantity_qualifier: t(8),
                    quantity: t(9),
                    authorization: t(10),
                    in_network: t(11),
                    procedure,
                };
                sub!().benefits.push(Benefit { eb, ..Default::default() });
                self.at = Some(At::Benefit);
                true
            }
            (At::Benefit, _) => {
                let Some(b) = sub!().benefits.last_mut() else {
                    return;
                };
                match id {
                    b"HSD" => {
                        b.deliveries.push(HealthCareDelivery {
                            quantity_qualifier: t(0),
                            quantity: t(1),
                            unit: t(2),
                            sample_modulus: t(3),
                            period: t(4),
                            periods: t(5),
                            frequency: t(6),
                            pattern_time: t(7),
                        });
                        true
                    }
                    b"REF" => {
                        b.references.push(ResponseReference { qualifier: t(0), value: t(1) });
                        true
                    }
                    b"DTP" => date().map(|d| b.dates.push(d)).is_some(),
                    b"AAA" => {
                        b.aaa.push(aaa());
                        true
                    }
                    b"MSG" => {
                        b.messages.push(t(0));
                        true
                    }
                    b"LS" => {
                        self.at = Some(At::Related);
                        true
                    }
                    _ => false,
                }
            }
            (At::Related, _) => {
                let Some(b) = sub!().benefits.last_mut() else {
                    return;
                };
                match id {
                    b"NM1" => {
                        b.related.push(RelatedEntity { name: name(), ..Default::default() });
                        true
                    }
                    b"N3" => b.related.last_mut().map(|x| x.address = Some(address_line())).is_some(),
                    b"N4" => b
                        .related
                        .last_mut()
                        .and_then(|x| x.address.as_mut())
                        .map(|a| (a.city, a.state, a.zip) = (s(0), s(1), s(2)))
                        .is_some(),
                    b"PER" => b.related.last_mut().map(|x| x.contacts.push(contact())).is_some(),
                    b"LE" => {
                        self.at = Some(At::Benefit);
                        true
                    }
                    _ => false,
                }
            }
            _ => false,
        };
        self.last_loop = match (self.at.unwrap_or(At::Header), id) {
            (At::Header | At::Done, _) | (_, b"SE") => "",
            (At::Source, b"HL") => "2000A",
            (At::Source, _) => "2100A",
            (At::Receiver, b"HL") => "2000B",
            (At::Receiver, _) => "2100B",
            (At::Subscriber, b"HL" | b"TRN") => "2000C",
            (At::Subscriber, _) => "2100C",
            (At::Benefit, _) => "2110C",
            (At::Related, b"LS") => "2110C",
            (At::Related, _) => "2120C",
        };
        if r.subscriber.as_ref().is_some_and(|s| *s == Subscriber271::default()) && self.at != Some(At::Subscriber) {
            r.subscriber = None;
        }
        if !ok {
            self.errors.push(SegmentError {
                segment_id: String::from_utf8_lossy(&id[..id.len().min(3)]).into_owned(),
                position: self.position,
                loop_id: None,
                code: SegmentErrorCode::UnexpectedSegment,
                context: Vec::new(),
                elements: Vec::new(),
                detail: format!("{} is not expected here in a 271", String::from_utf8_lossy(&id[..id.len().min(3)])),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_are_written_as_before() {
        for n in (0..2000).chain([9999, 10_000, u32::MAX]) {
            assert_eq!(number_text(n), n.to_string(), "{n}");
        }
        assert!(matches!(number_text(999), Cow::Borrowed("999")));
        let mut values: Vec<f64> = (0..20_000).map(|c| f64::from(c) / 10.0).collect();
        values.extend([-0.0, -1.0, 0.005, 999.0, 999.5, 1000.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300]);
        for v in values {
            assert_eq!(decimal_text(v), crate::format_decimal(v), "{v}");
        }
    }

    #[test]
    fn dates_keep_their_order_and_read_like_a_list() {
        let d = |day| ResponseDate::single("193", Date { year: 2026, month: 1, day });
        let list: Vec<ResponseDate> = (1..=4).map(d).collect();
        let dates: Dates = list.clone().into();
        assert_eq!(dates.len(), 4);
        assert_eq!(dates.first(), list.first());
        assert!(dates.iter().eq(&list));
        assert_eq!(format!("{dates:?}"), format!("{list:?}"));
        assert_eq!(serde_json::to_string(&dates).ok(), serde_json::to_string(&list).ok());
        assert_eq!(dates, list.iter().cloned().collect::<Dates>());
        assert_ne!(dates, list[..3].iter().cloned().collect::<Dates>());
        assert!(Dates::default().is_empty());
    }
}
