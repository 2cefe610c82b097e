//! The typed 270 (005010X279A1). Strings borrow from the input; nothing is copied.

use crate::schema::Slot;
use crate::segment::{Fields, Segment};
use serde::Serialize;

/// One NM1: an entity's name and identifier. Empty strings are elements that were not sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Name<'a> {
    /// NM101 entity identifier code (`PR`, `1P`, `IL`...).
    pub entity: &'a str,
    /// NM102 `1` person, `2` non-person.
    pub entity_type: &'a str,
    /// NM103 last or organization name.
    pub last: &'a str,
    pub first: &'a str,
    pub middle: &'a str,
    pub suffix: &'a str,
    /// NM108 identification code qualifier (`PI`, `XX`, `MI`...).
    pub id_qualifier: &'a str,
    pub id: &'a str,
}

pub type Source<'a> = Name<'a>;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Reference<'a> {
    pub qualifier: &'a str,
    pub value: &'a str,
    pub description: &'a str,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Address<'a> {
    pub line1: &'a str,
    pub line2: &'a str,
    pub city: &'a str,
    pub state: &'a str,
    pub zip: &'a str,
    pub country: &'a str,
    pub country_subdivision: &'a str,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProviderInfo<'a> {
    pub code: &'a str,
    pub qualifier: &'a str,
    pub id: &'a str,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Receiver<'a> {
    pub name: Name<'a>,
    pub references: Vec<Reference<'a>>,
    pub address: Option<Address<'a>>,
    pub provider: Option<ProviderInfo<'a>>,
}

/// TRN: a trace number the information source must echo (TRN01 `1` in, `2` out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Trace<'a> {
    pub kind: &'a str,
    pub reference: &'a str,
    pub originator: &'a str,
    pub supplemental: &'a str,
}

/// DMG as sent. The birth date stays text: whether it is a real date is the eligibility
/// engine's call (AAA 58), not a syntax error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Demographics<'a> {
    pub format: &'a str,
    pub birth_date: &'a str,
    pub gender: &'a str,
}

/// A DTP as sent (`291*D8*20240101` or `291*RD8*20240101-20240131`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InquiryDate<'a> {
    pub qualifier: &'a str,
    pub format: &'a str,
    pub value: &'a str,
}

impl InquiryDate<'_> {
    /// The period as dates, or `None` when the value does not fit its format or is no date.
    pub fn period(&self) -> Option<(crate::Date, crate::Date)> {
        let v = self.value.as_bytes();
        match self.format {
            "D8" => crate::Date::parse_ccyymmdd(v).map(|d| (d, d)),
            "RD8" if v.len() == 17 && v[8] == b'-' => {
                Some((crate::Date::parse_ccyymmdd(&v[..8])?, crate::Date::parse_ccyymmdd(&v[9..])?))
            }
            _ => None,
        }
    }
}

/// EQ02 / EB13: a procedure code (`HC|G0439|26`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProcedureCode<'a> {
    pub qualifier: &'a str,
    pub code: &'a str,
    pub modifiers: Vec<&'a str>,
}

/// One 2110C loop: what is asked about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BenefitInquiry<'a> {
    pub service_types: Vec<&'a str>,
    pub procedure: Option<ProcedureCode<'a>>,
    /// EQ03 coverage level.
    pub coverage_level: &'a str,
    /// EQ05 diagnosis code pointers.
    pub diagnosis_pointers: Vec<&'a str>,
    /// AMT*R spend-down and AMT*PB billed amounts.
    pub spend_down: &'a str,
    pub billed: &'a str,
    /// III02 facility type code.
    pub facility_type: &'a str,
    pub reference: Option<Reference<'a>>,
    pub date: Option<InquiryDate<'a>>,
}

/// 2000C/2100C: the subscriber, who under Medicare is always the patient.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Subscriber<'a> {
    /// HL04 of 2000C.
    pub child_code: &'a str,
    pub traces: Vec<Trace<'a>>,
    pub name: Name<'a>,
    pub references: Vec<Reference<'a>>,
    pub address: Option<Address<'a>>,
    pub provider: Option<ProviderInfo<'a>>,
    pub demographics: Option<Demographics<'a>>,
    /// INS17 multiple birth sequence number.
    pub birth_sequence: &'a str,
    /// HI: diagnosis codes as (qualifier, code).
    pub diagnoses: Vec<(&'a str, &'a str)>,
    pub dates: Vec<InquiryDate<'a>>,
    pub inquiries: Vec<BenefitInquiry<'a>>,
}

/// A decoded 270 transaction set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Inquiry270<'a> {
    /// ST02.
    pub control_number: &'a str,
    /// BHT02 (`13` request, `01` cancellation), BHT03 (submitter's reference), BHT04, BHT05,
    /// BHT06.
    pub purpose: &'a str,
    pub reference: &'a str,
    pub date: &'a str,
    pub time: &'a str,
    pub transaction_type: &'a str,
    pub source: Source<'a>,
    pub receiver: Receiver<'a>,
    pub subscriber: Subscriber<'a>,
}

/// Fills an [`Inquiry270`] from placed segments. Only called for segments the validator
/// placed; element syntax has been checked, so values are taken as they are.
/// `fields` is `seg` already split (by the validator's caller), `text` a text the segment is
/// part of (the interchange, or the segment itself) and where in it the segment starts, when
/// it is UTF-8.
pub(crate) fn apply<'a>(
    inq: &mut Inquiry270<'a>,
    slot: Slot,
    seg: &Segment<'a>,
    fields: &Fields<'a>,
    text: Option<(&'a str, usize)>,
) {
    // Elements are cut as text when read: an HL or an SE reads one or none of theirs.
    let s = |i: usize| -> &'a str { element_text(fields, text, i) };
    let name = || name_of(s);
    let reference = || Reference { qualifier: s(0), value: s(1), description: s(2) };
    let provider = || ProviderInfo { code: s(0), qualifier: s(1), id: s(2) };
    let sub = &mut inq.subscriber;
    match slot {
        Slot::St => inq.control_number = s(1),
        Slot::Bht => {
            inq.purpose = s(1);
            inq.reference = s(2);
            inq.date = s(3);
            inq.time = s(4);
            inq.transaction_type = s(5);
        }
        Slot::Nm1Source => inq.source = name(),
        Slot::Nm1Receiver => inq.receiver.name = name(),
        Slot::RefReceiver => inq.receiver.references.push(reference()),
        Slot::N3Receiver => set_street(&mut inq.receiver.address, s(0), s(1)),
        Slot::N4Receiver => set_city(&mut inq.receiver.address, [s(0), s(1), s(2), s(3), s(6)]),
        Slot::PrvReceiver => inq.receiver.provider = Some(provider()),
        Slot::Hl2000C => sub.child_code = s(3),
        Slot::Trn => {
            // Sized at once for the most the loop allows: an empty vector's first push goes
            // through the general growth path, which costs more than the allocation.
            if sub.traces.capacity() == 0 {
                sub.traces = Vec::with_capacity(2);
            }
            sub.traces.push(Trace { kind: s(0), reference: s(1), originator: s(2), supplemental: s(3) });
        }
        Slot::Nm1Subscriber => sub.name = name(),
        Slot::RefSubscriber => sub.references.push(reference()),
        Slot::N3Subscriber => set_street(&mut sub.address, s(0), s(1)),
        Slot::N4Subscriber => set_city(&mut sub.address, [s(0), s(1), s(2), s(3), s(6)]),
        Slot::PrvSubscriber => sub.provider = Some(provider()),
        Slot::Dmg => sub.demographics = Some(Demographics { format: s(0), birth_date: s(1), gender: s(2) }),
        Slot::Ins => sub.birth_sequence = element_text(fields, text, 16),
        Slot::Hi => {
            for i in 0..fields.count.min(8) {
                let mut c = fields.get(i).split(|&b| b == seg.delimiters().component);
                let q = c.next().and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("");
                let v = c.next().and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("");
                if !q.is_empty() {
                    sub.diagnoses.push((q, v));
                }
            }
        }
        Slot::DtpSubscriber => {
            // As for the traces: the most the loop allows, at once.
            if sub.dates.capacity() == 0 {
                sub.dates = Vec::with_capacity(2);
            }
            sub.dates.push(InquiryDate { qualifier: s(0), format: s(1), value: s(2) });
        }
        Slot::Eq => {
            // EQ01, EQ02 and EQ05 as text (`f`), split without another UTF-8 check.
            let d = seg.delimiters();
            let f = [s(0), s(1), "", "", s(4)];
            let mut eq = BenefitInquiry { coverage_level: s(2), ..Default::default() };
            if !f[0].is_empty() {
                // Sized once: the CMS sample asks for 13 service types in one EQ01.
                let n = 1 + f[0].bytes().filter(|&b| b == d.repetition).count();
                let bytes = f[0].as_bytes();
                // The usual EQ01, two-character codes only (`30^42^A7`): the `n - 1` separators
                // counted are every third byte, so the codes are cut at fixed offsets, without
                // a walk over the bytes, and collected from a range (no capacity check per code).
                if bytes.len() + 1 == 3 * n && (1..n).all(|k| bytes.get(3 * k - 1) == Some(&d.repetition)) {
                    eq.service_types = (0..n).map(|k| f[0].get(3 * k..3 * k + 2).unwrap_or("")).collect();
                } else {
                    let mut types = Vec::with_capacity(n);
                    // A plain loop over the bytes: `split_text`'s iterator searched again from
                    // each piece's start and cost half as much again per code.
                    let mut from = 0;
                    for (i, &b) in bytes.iter().enumerate() {
                        if b == d.repetition {
                            types.push(f[0].get(from..i).unwrap_or(""));
                            from = i + 1;
                        }
                    }
                    types.push(f[0].get(from..).unwrap_or(""));
                    eq.service_types = types;
                }
            }
            if !f[1].is_empty() {
                let mut c = split_text(f[1], d.component);
                let qualifier = c.next().unwrap_or("");
                let code = c.next().unwrap_or("");
                // Pushed one by one: most procedure codes carry no modifier, and collecting an
                // empty iterator still went through the general collect.
                let mut modifiers = Vec::new();
                for m in c.take(4) {
                    if m.is_empty() {
                        break;
                    }
                    modifiers.push(m);
                }
                eq.procedure = Some(ProcedureCode { qualifier, code, modifiers });
            }
            if !f[4].is_empty() {
                eq.diagnosis_pointers = split_text(f[4], d.component).filter(|p| !p.is_empty()).collect();
            }
            // Three at once (the CMS sample's EQs): four of them are just over a kilobyte, past
            // the allocator's per-thread cache, and that allocation and its free cost several
            // times what three cost.
            if sub.inquiries.capacity() == 0 {
                sub.inquiries = Vec::with_capacity(3);
            }
            sub.inquiries.push(eq);
        }
        Slot::AmtSpendDown | Slot::AmtBilled | Slot::Iii | Slot::RefInquiry | Slot::DtpInquiry => {
            if let Some(eq) = sub.inquiries.last_mut() {
                match slot {
                    Slot::AmtSpendDown => eq.spend_down = s(1),
                    Slot::AmtBilled => eq.billed = s(1),
                    Slot::Iii => eq.facility_type = s(1),
                    Slot::RefInquiry => eq.reference = Some(reference()),
                    _ => eq.date = Some(InquiryDate { qualifier: s(0), format: s(1), value: s(2) }),
                }
            }
        }
        Slot::Se | Slot::Hl2000A | Slot::Hl2000B | Slot::Refused => {}
    }
}

/// An NM1's name from its elements (`s(i)` is element `i + 1`). A function always inlined: as
/// a closure shared by the three NM1s, the compiler kept it out of line, and the call cost
/// more than the eight cuts.
#[inline(always)]
fn name_of<'a>(s: impl Fn(usize) -> &'a str) -> Name<'a> {
    Name {
        entity: s(0),
        entity_type: s(1),
        last: s(2),
        first: s(3),
        middle: s(4),
        suffix: s(6),
        id_qualifier: s(7),
        id: s(8),
    }
}

/// Splits text at an ASCII delimiter. The positions of an ASCII byte are char boundaries, so
/// `get` cannot fail (the ISA check makes every delimiter ASCII). A plain loop: `str::split`'s
/// searcher costs a `memchr` call per piece, and EQ01 has a dozen two-byte pieces.
fn split_text(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = Some(0);
    std::iter::from_fn(move || {
        let from = start?;
        let rest = bytes.get(from..).unwrap_or(b"");
        let end = match rest.iter().position(|&b| b == sep) {
            Some(i) => {
                start = Some(from + i + 1);
                from + i
            }
            None => {
                start = None;
                bytes.len()
            }
        };
        Some(text.get(from..end).unwrap_or(""))
    })
}

/// Element `i` (0-based) as text, cut from the segment's text at the offset the split found:
/// no second split and no UTF-8 check per element, as this runs for every element read of
/// every request. A segment that is not UTF-8 (reported by the validator) gives what of each
/// element reads as text.
#[inline]
fn element_text<'a>(fields: &Fields<'a>, text: Option<(&'a str, usize)>, i: usize) -> &'a str {
    match text {
        Some((text, at)) => fields.text_at(text, at, i),
        None => std::str::from_utf8(fields.get(i)).unwrap_or(""),
    }
}

fn set_street<'a>(a: &mut Option<Address<'a>>, line1: &'a str, line2: &'a str) {
    let a = a.get_or_insert_with(Address::default);
    a.line1 = line1;
    a.line2 = line2;
}

fn set_city<'a>(a: &mut Option<Address<'a>>, v: [&'a str; 5]) {
    let a = a.get_or_insert_with(Address::default);
    [a.city, a.state, a.zip, a.country, a.country_subdivision] = v;
}
