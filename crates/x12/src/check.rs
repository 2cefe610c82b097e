//! One inbound interchange, checked from the ISA down: the verdict is a decoded transaction, a
//! TA1 (the interchange cannot be accepted) or a 999 (the transaction set is rejected).

use crate::ack::{Ack999, AckCode, GroupErrorCode, SegmentError, SetAck, SetErrorCode, Ta1, Ta1Code};
use crate::date::{Date, Time, digits};
use crate::envelope::{ISA_LEN, InterchangeHeader, read_isa_in, skip_preamble};
use crate::inquiry::{Inquiry270, apply};
use crate::response::{Reader271, Response271};
use crate::schema::Slot;
use crate::segment::{CleanSpans, Fields, Segment, Segments, id_key, tokenize};
use crate::validate::{SetValidator, is_x12_char};
use serde::Serialize;

/// What the receiving side insists on, beyond X12 syntax.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rules<'r> {
    /// ISA08 must be this (TA105 `009` otherwise).
    pub receiver_id: Option<&'r str>,
    /// ISA06 must be this (TA105 `006` otherwise): the authenticated submitter.
    pub sender_id: Option<&'r str>,
}

/// The GS of the accepted group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupHeader<'a> {
    pub functional_id: &'a str,
    pub sender: &'a str,
    pub receiver: &'a str,
    pub date: &'a str,
    pub time: &'a str,
    pub control_number: &'a str,
    pub version: &'a str,
}

/// The verdict on one interchange.
#[derive(Clone, Debug, Serialize)]
pub enum Checked<'a, T> {
    /// Envelope and transaction set are valid.
    Accepted { interchange: InterchangeHeader<'a>, group: GroupHeader<'a>, transaction: T },
    /// The interchange cannot be accepted: answer with this TA1. The header is there when the
    /// ISA could be read.
    Interchange { interchange: Option<InterchangeHeader<'a>>, ta1: Ta1 },
    /// A transaction set (or the group) is rejected: answer with this 999.
    Rejected { interchange: InterchangeHeader<'a>, ack: Ack999 },
}

impl<T> Checked<'_, T> {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Checked::Accepted { .. })
    }
}

/// A transaction-set reader: the 270 validator/decoder or the 271 reader.
trait SetReader<'a>: Sized {
    type Out: Default;
    const FUNCTIONAL_ID: &'static str;
    const SET_ID: &'static str;
    /// Whether `step` reads the split it is given: a reader that does not (the 271's, which
    /// reads each segment itself) is spared splitting every segment of its set.
    const READS_FIELDS: bool;
    /// `text` is the tokenised input as text, when all of it is UTF-8.
    fn new(text: Option<&'a str>) -> Self;
    /// `fields` is `seg` split at its element separators. `out` is the output being built: it
    /// is kept by the caller, not the reader, and goes into the verdict in one move (the typed
    /// 270 is over a kilobyte, and taking it out of its reader cost two copies and a reset).
    fn step(&mut self, out: &mut Self::Out, seg: &Segment<'a>, fields: &Fields<'a>);
    /// Ends the set and hands over its segment errors.
    fn finish(&mut self) -> Vec<SegmentError>;
    /// Completes `out` before it goes into the verdict (for a reader that builds it apart).
    fn complete(&mut self, out: &mut Self::Out);
}

struct Reader270<'a> {
    validator: SetValidator,
    /// The input after the ISA as text: one UTF-8 check for the whole interchange instead of
    /// one per segment.
    text: Option<&'a str>,
}

impl<'a> SetReader<'a> for Reader270<'a> {
    type Out = Inquiry270<'a>;
    const FUNCTIONAL_ID: &'static str = "HS";
    const SET_ID: &'static str = "270";
    const READS_FIELDS: bool = true;
    #[inline]
    fn new(text: Option<&'a str>) -> Self {
        Reader270 { validator: SetValidator::new(), text }
    }
    fn step(&mut self, out: &mut Inquiry270<'a>, seg: &Segment<'a>, fields: &Fields<'a>) {
        // Refused segments are not decoded, and the SE and the first two HLs fill nothing: the
        // call is spared for them.
        if let Some(m) = self.validator.step_fields(seg, fields)
            && !matches!(m.slot, Slot::Refused | Slot::Se | Slot::Hl2000A | Slot::Hl2000B)
        {
            // Elements are cut from the interchange's text at the segment's offset: cutting the
            // segment first checked two more char boundaries per segment, whether or not any
            // element of it is read.
            let seg_text = match self.text {
                Some(t) => Some((t, seg.offset())),
                None => std::str::from_utf8(seg.raw()).ok().map(|t| (t, 0)),
            };
            apply(out, m.slot, seg, fields, seg_text);
        }
    }
    fn finish(&mut self) -> Vec<SegmentError> {
        self.validator.finish();
        self.validator.take_errors()
    }
    #[inline]
    fn complete(&mut self, _out: &mut Inquiry270<'a>) {}
}

impl<'a> SetReader<'a> for Reader271 {
    type Out = Response271;
    const FUNCTIONAL_ID: &'static str = "HB";
    const SET_ID: &'static str = "271";
    const READS_FIELDS: bool = false;
    fn new(_text: Option<&'a str>) -> Self {
        Reader271::default()
    }
    fn step(&mut self, _out: &mut Response271, seg: &Segment<'a>, _fields: &Fields<'a>) {
        Reader271::step(self, seg);
    }
    fn finish(&mut self) -> Vec<SegmentError> {
        std::mem::take(&mut self.errors)
    }
    fn complete(&mut self, out: &mut Response271) {
        *out = std::mem::take(&mut self.response);
    }
}

/// Checks a 270 interchange and decodes its one transaction set.
pub fn check_270<'a>(input: &'a [u8], rules: &Rules<'_>) -> Checked<'a, Inquiry270<'a>> {
    check::<Reader270<'a>>(input, rules)
}

/// Checks a 271 interchange (as this system writes them) and reads it into the model.
pub fn check_271<'a>(input: &'a [u8]) -> Checked<'a, Response271> {
    check::<Reader271>(input, &Rules::default())
}

const CONVENTION: &str = "005010X279A1";

// The envelope segments by their `id_key`: each segment is told apart with integer compares on
// the key its split computed, instead of slice compares on an id searched for again.
const GS: u32 = id_key(b"GS");
const GE: u32 = id_key(b"GE");
const ST: u32 = id_key(b"ST");
const SE: u32 = id_key(b"SE");
const IEA: u32 = id_key(b"IEA");

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

fn check<'a, R: SetReader<'a>>(input: &'a [u8], rules: &Rules<'_>) -> Checked<'a, R::Out> {
    let body = &input[skip_preamble(input)..];
    // The interchange as text, when all of it is UTF-8: the ISA and the segments after it are
    // cut from it.
    let body_text = std::str::from_utf8(body).ok();
    let header = match read_isa_in(body, body_text) {
        Ok(h) => h,
        Err(f) => {
            let (control, date, time) = match &f.partial {
                Some(h) => (valid_control(h.control_number), valid_date(h.date), valid_time(h.time)),
                None => ("000000000".to_string(), String::new(), String::new()),
            };
            let ta1 = Ta1 { control_number: control, date, time, code: f.code, detail: f.detail };
            return Checked::Interchange { interchange: f.partial.map(|h| *h), ta1 };
        }
    };
    let refuse = |code: Ta1Code, detail: String| -> Checked<'a, R::Out> { refused(&header, code, detail) };
    if let Some(r) = rules.receiver_id
        && header.receiver_id != r
    {
        return refuse(Ta1Code::ReceiverIdUnknown, format!("ISA08 must be {r}"));
    }
    if let Some(s) = rules.sender_id
        && header.sender_id != s
    {
        return refuse(Ta1Code::SenderIdInvalid, "ISA06 is not the authenticated submitter".into());
    }

    let d = header.delimiters;
    let rest = &body[ISA_LEN..];
    // The ISA's terminator is ASCII (a checked delimiter), so the text after it starts at a
    // char boundary; without a text for all of the body, the rest may still be UTF-8.
    let rest_text = match body_text {
        Some(t) => t.get(ISA_LEN..),
        None => std::str::from_utf8(rest).ok(),
    };
    let mut segments = tokenize(rest, d);
    // Which segments need no character scan (only the 270's validator reads it).
    let spans = R::READS_FIELDS.then(|| CleanSpans::new(rest, d));
    let mut group: Option<GroupHeader<'a>> = None;
    let mut groups = 0u32;
    let mut group_errors: Vec<GroupErrorCode> = Vec::new();
    let mut group_closed = false;
    let mut set: Option<SetAck> = None;
    let mut decoded = false;
    let mut sets = 0u32;
    let mut ge_count: Option<u32> = None;
    // IEA01 and IEA02.
    let mut iea: Option<[&'a [u8]; 2]> = None;

    // The reader of the one transaction set, made once: a real-time interchange carries
    // exactly one set (a second ST is refused), so it is never reused. Its output is built in
    // `out`, which moves once, into the verdict. `open` is the acknowledgement of the set
    // being read.
    let mut reader = R::new(rest_text);
    let mut out = R::Out::default();
    let mut open: Option<SetAck> = None;
    let mut st_control: &'a [u8] = b"";
    let mut st_fields: [&'a [u8]; 3] = [b""; 3];
    let mut set_segments = 0u32;
    // Each segment is split once, here, for the envelope checks, the validator and the decoder.
    let mut fields = Fields::default();

    while let Some(seg) = next_segment::<R>(&mut segments, &mut fields, d.element) {
        let key = fields.key;
        fields.clean = spans.as_ref().is_some_and(|s| s.covers(seg.offset(), seg.raw().len()));
        if open.is_some() {
            set_segments += 1;
            if !matches!(key, SE | GE | IEA | GS | ST) {
                reader.step(&mut out, &seg, &fields);
                continue;
            }
        }
        if let Some(mut ack) = open.take() {
            if key == SE {
                reader.step(&mut out, &seg, &fields);
                let f = [fields.get(0), fields.get(1)];
                if digits(f[0]) != Some(set_segments) {
                    ack.errors.push(SetErrorCode::SegmentCountMismatch);
                }
                if f[1] != st_control {
                    ack.errors.push(SetErrorCode::ControlNumberMismatch);
                }
            } else {
                ack.errors.push(SetErrorCode::TrailerMissing);
            }
            let errors = reader.finish();
            finish_set(&mut ack, errors);
            decoded = true;
            set = Some(ack);
            if key == SE {
                continue;
            }
        }
        match key {
            GS if group.is_none() && groups == 0 => {
                groups += 1;
                let gs = &fields;
                let f: [&[u8]; 9] = std::array::from_fn(|i| gs.get(i));
                let n = gs.count;
                if let Some(problem) = gs_problem(&f, n, seg.raw(), fields.clean) {
                    return refuse(Ta1Code::ContentInvalid, problem);
                }
                // The group must name the same parties as the interchange that carries it: the
                // authenticated submitter (GS02) and this system (GS03).
                if let Some(s) = rules.sender_id
                    && f[1] != s.as_bytes()
                {
                    return refuse(Ta1Code::ContentInvalid, "GS02 is not the authenticated submitter".into());
                }
                if let Some(r) = rules.receiver_id
                    && f[2] != r.as_bytes()
                {
                    return refuse(Ta1Code::ContentInvalid, format!("GS03 must be {r}"));
                }
                if f[0] != R::FUNCTIONAL_ID.as_bytes() {
                    group_errors.push(GroupErrorCode::NotSupported);
                } else if f[7] != CONVENTION.as_bytes() {
                    group_errors.push(GroupErrorCode::VersionNotSupported);
                }
                // Cut from the interchange's text (one UTF-8 check for all of it) when there is one.
                let seg_text = rest_text.and_then(|t| t.get(seg.offset()..seg.offset() + seg.raw().len()));
                let t = |i: usize| match seg_text {
                    Some(st) => gs.text(st, i),
                    None => text(f[i]),
                };
                group = Some(GroupHeader {
                    functional_id: t(0),
                    sender: t(1),
                    receiver: t(2),
                    date: t(3),
                    time: t(4),
                    control_number: t(5),
                    version: t(7),
                });
            }
            GS => {
                return refuse(
                    Ta1Code::ContentInvalid,
                    "a real-time interchange carries exactly one functional group".into(),
                );
            }
            ST if group.is_some() && !group_closed && sets == 0 => {
                sets += 1;
                set_segments = 1;
                let f = [fields.get(0), fields.get(1), fields.get(2)];
                st_control = f[1];
                // The AK2 texts are filled in only if a 999 is written: an accepted set
                // never needs them.
                st_fields = [f[0], f[1], f[2]];
                let mut ack = SetAck {
                    set_id: String::new(),
                    control_number: String::new(),
                    convention: None,
                    segments: Vec::new(),
                    code: AckCode::Accepted,
                    errors: Vec::new(),
                };
                if f[0].is_empty() {
                    ack.errors.push(SetErrorCode::IdentifierInvalid);
                } else if f[0] != R::SET_ID.as_bytes() {
                    ack.errors.push(SetErrorCode::NotSupported);
                }
                if !(4..=9).contains(&f[1].len()) || !f[1].iter().all(|&b| is_x12_char(b)) {
                    ack.errors.push(SetErrorCode::ControlNumberInvalid);
                }
                if f[2] != CONVENTION.as_bytes() {
                    ack.errors.push(SetErrorCode::ConventionNotSupported);
                }
                reader.step(&mut out, &seg, &fields);
                open = Some(ack);
            }
            ST if group.is_some() && !group_closed => {
                return refuse(
                    Ta1Code::ContentInvalid,
                    "a real-time interchange carries exactly one transaction set".into(),
                );
            }
            GE if group.is_some() && !group_closed => {
                group_closed = true;
                let f = [fields.get(0), fields.get(1)];
                ge_count = digits(f[0]);
                if ge_count != Some(sets) {
                    group_errors.push(GroupErrorCode::SetCountMismatch);
                }
                if group.as_ref().map(|g| g.control_number.as_bytes()) != Some(f[1]) {
                    group_errors.push(GroupErrorCode::ControlNumberMismatch);
                }
            }
            IEA => {
                if group.is_some() && !group_closed {
                    group_errors.push(GroupErrorCode::TrailerMissing);
                }
                iea = Some([fields.get(0), fields.get(1)]);
                break;
            }
            _ => {
                let what = if group.is_none() || group_closed {
                    "outside a functional group"
                } else {
                    "outside a transaction set"
                };
                let id = fields.id;
                let name = crate::validate::printable(&id[..id.len().min(3)]).unwrap_or_else(|| "a segment".into());
                return refuse(Ta1Code::ContentInvalid, format!("{name} found {what}"));
            }
        }
    }
    let Some(f) = iea else {
        return refuse(Ta1Code::PrematureEnd, "the interchange ends without an IEA segment".into());
    };
    if f[1] != header.control_number.as_bytes() {
        return refuse(Ta1Code::ControlNumberMismatch, "IEA02 does not match ISA13".into());
    }
    if digits(f[0]) != Some(groups) {
        return refuse(
            Ta1Code::GroupCountInvalid,
            format!("IEA01 says {} group(s); the interchange has {groups}", text(f[0])),
        );
    }
    let rest = &body[ISA_LEN + segments.position()..];
    if rest.iter().any(|b| !b.is_ascii_whitespace()) {
        return refuse(Ta1Code::ControlStructureInvalid, "data follows the IEA segment".into());
    }
    let Some(group) = group else {
        return refuse(Ta1Code::ContentInvalid, "the interchange holds no functional group".into());
    };
    let set_ok = set.as_ref().is_some_and(|s| s.code == AckCode::Accepted);
    if group_errors.is_empty() && set_ok && decoded {
        reader.complete(&mut out);
        return Checked::Accepted { interchange: header, group, transaction: out };
    }
    if let Some(ack) = set.as_mut() {
        let [id, control, convention] = st_fields;
        ack.set_id = printable_or(id, R::SET_ID);
        ack.control_number = printable_or(control, "0001");
        ack.convention = (!convention.is_empty()).then(|| printable_or(convention, CONVENTION));
    }
    // A group of an unsupported functional id is not read at all: none of its sets is accepted.
    let accepted = u32::from(set_ok && !group_errors.contains(&GroupErrorCode::NotSupported));
    let ack = Ack999 {
        functional_id: printable_or(group.functional_id.as_bytes(), R::FUNCTIONAL_ID),
        group_control_number: printable_or(group.control_number.as_bytes(), "0"),
        version: (!group.version.is_empty()).then(|| printable_or(group.version.as_bytes(), CONVENTION)),
        sets: if group_errors.contains(&GroupErrorCode::NotSupported) { Vec::new() } else { set.into_iter().collect() },
        code: if group_errors.is_empty() && set_ok { AckCode::Accepted } else { AckCode::Rejected },
        included: ge_count.unwrap_or(sets),
        received: sets,
        accepted,
        errors: group_errors,
    };
    Checked::Rejected { interchange: header, ack }
}

/// The TA1 verdict on an interchange whose ISA was read. Cold and out of line: built in the
/// closure each refusal calls, its copies of the header's texts weighed on the segment loop of
/// every interchange, refused or not.
#[cold]
#[inline(never)]
fn refused<'a, T>(header: &InterchangeHeader<'a>, code: Ta1Code, detail: String) -> Checked<'a, T> {
    let ta1 = Ta1 {
        control_number: header.control_number.to_string(),
        date: header.date.to_string(),
        time: header.time.to_string(),
        code,
        detail,
    };
    Checked::Interchange { interchange: Some(header.clone()), ta1 }
}

/// The next segment, split for a reader: the envelope's own segments are read here, and every
/// segment by a reader that reads the split (found and split in one pass); for the others the
/// id is enough.
#[inline(always)]
fn next_segment<'a, R: SetReader<'a>>(
    segments: &mut Segments<'a>,
    fields: &mut Fields<'a>,
    sep: u8,
) -> Option<Segment<'a>> {
    if R::READS_FIELDS {
        return segments.next_split(fields, sep);
    }
    let seg = segments.next()?;
    fields.split_id(seg.raw(), sep);
    if matches!(fields.key, SE | GE | IEA | GS | ST) {
        fields.split(seg.raw(), sep);
    }
    Some(seg)
}

fn finish_set(ack: &mut SetAck, errors: Vec<SegmentError>) {
    if !errors.is_empty() {
        ack.errors.push(SetErrorCode::SegmentsInError);
    }
    ack.segments = errors;
    if !ack.errors.is_empty() {
        ack.code = AckCode::Rejected;
    }
}

/// GS syntax problems make the interchange content invalid (TA105 `024`).
/// `raw` is the whole segment: when all of it is printable (separators included), so is every
/// element, and one pass the compiler vectorises replaces nine short loops; `clean` says the
/// caller knows it printable.
fn gs_problem(f: &[&[u8]; 9], n: usize, raw: &[u8], clean: bool) -> Option<String> {
    let printable = |b: &[u8]| b.iter().all(|&c| is_x12_char(c));
    if n > 8 {
        return Some("GS has more than 8 elements".into());
    }
    // A segment known clean (see `CleanSpans`) is printable without a pass of its own.
    let all_printable = clean || raw.iter().fold(true, |ok, &c| ok & is_x12_char(c));
    if !all_printable && f.iter().any(|e| !printable(e)) {
        return Some("GS holds a character outside the X12 character sets".into());
    }
    if f[0].len() != 2 {
        return Some("GS01 is not a functional identifier code".into());
    }
    if !(2..=15).contains(&f[1].len()) || !(2..=15).contains(&f[2].len()) {
        return Some("GS02 and GS03 must be 2 to 15 characters".into());
    }
    if f[3].len() != 8 || Date::parse_ccyymmdd(f[3]).is_none() {
        return Some("GS04 is not a valid CCYYMMDD date".into());
    }
    if Time::parse(f[4]).is_none() {
        return Some("GS05 is not a valid time".into());
    }
    if digits(f[5]).is_none() {
        return Some("GS06 (group control number) must be 1 to 9 digits".into());
    }
    if f[6] != b"X" {
        return Some("GS07 must be X".into());
    }
    if f[7].is_empty() || f[7].len() > 12 {
        return Some("GS08 (version) is missing or too long".into());
    }
    None
}

fn printable_or(b: &[u8], fallback: &str) -> String {
    crate::validate::printable(b).unwrap_or_else(|| fallback.to_string())
}

fn valid_control(c: &str) -> String {
    if c.len() == 9 && c.bytes().all(|b| b.is_ascii_digit()) { c.to_string() } else { "000000000".to_string() }
}

fn valid_date(d: &str) -> String {
    if Date::parse_yymmdd(d.as_bytes()).is_some() { d.to_string() } else { String::new() }
}

fn valid_time(t: &str) -> String {
    if t.len() == 4 && Time::parse(t.as_bytes()).is_some() { t.to_string() } else { String::new() }
}
