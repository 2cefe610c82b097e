//! Bytes out: a segment writer that never emits trailing empty elements, and the writers of the
//! 270, 271, 999 and TA1 on top of it.

use crate::ack::{Ack999, Ta1};
use crate::date::{Date, Time, push_num};
use crate::delimiters::Delimiters;
use crate::envelope::OutboundEnvelope;
use crate::inquiry::{Address, Inquiry270, Name, ProcedureCode, Reference};

/// Writes segments into a buffer. Empty elements are held back and only written when a later
/// element of the same segment has a value, so no segment ends in separators.
pub struct SegmentWriter<'b> {
    out: &'b mut Vec<u8>,
    d: Delimiters,
    pending: usize,
    count: u32,
    /// What each byte of data is written as: itself when printable and not a delimiter, else a
    /// space. One lookup per byte, and no separate check pass before the copy.
    map: [u8; 256],
}

/// [`SegmentWriter::map`] before the delimiters are blanked: printable ASCII as itself,
/// everything else a space. Built at compile time so that a writer only patches four bytes.
const PRINTABLE: [u8; 256] = {
    let mut m = [b' '; 256];
    let mut c = 0x20;
    while c <= 0x7e {
        m[c] = c as u8;
        c += 1;
    }
    m
};

impl<'b> SegmentWriter<'b> {
    pub fn new(out: &'b mut Vec<u8>, d: Delimiters) -> Self {
        let mut map = PRINTABLE;
        for c in [d.element, d.repetition, d.component, d.segment] {
            map[usize::from(c)] = b' ';
        }
        SegmentWriter { out, d, pending: 0, count: 0, map }
    }

    /// Segments ended since the counter was last reset.
    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn reset_count(&mut self) {
        self.count = 0;
    }

    pub fn delimiters(&self) -> Delimiters {
        self.d
    }

    /// Starts a segment.
    #[inline]
    pub fn seg(&mut self, id: &str) -> &mut Self {
        self.out.extend_from_slice(id.as_bytes());
        self.pending = 0;
        self
    }

    /// Writes the separators the element needs: the held-back empties' and its own.
    #[inline]
    fn open(&mut self) {
        self.held_back();
        self.out.push(self.d.element);
    }

    /// Writes the separators of the empty elements held back, which a value now follows.
    #[inline]
    fn held_back(&mut self) {
        // A loop of pushes, not `repeat_n`: the count is mostly zero, and `extend` turns
        // `repeat_n` into a `memset` call.
        for _ in 0..std::mem::take(&mut self.pending) {
            self.out.push(self.d.element);
        }
    }

    /// `lead`, then `v` as data (see [`SegmentWriter::el`]). Separator and value go out
    /// through one `extend`, which checks the capacity once for both: a 271 is hundreds of
    /// short values, and per-byte pushes cost more than the bytes.
    #[inline]
    fn put(&mut self, lead: u8, v: &[u8]) {
        let map = &self.map;
        self.out.extend(std::iter::once(lead).chain(v.iter().map(|&c| map[usize::from(c)])));
    }

    /// Like [`SegmentWriter::put`] for bytes this writer made (digits), which go out as they are.
    #[inline]
    fn put_raw(&mut self, lead: u8, v: &[u8]) {
        self.out.extend(std::iter::once(lead).chain(v.iter().copied()));
    }

    /// A simple element. Characters a receiver would read as a delimiter, and anything outside
    /// the X12 character sets, become spaces: data must never change the structure.
    #[inline]
    pub fn el(&mut self, v: &str) -> &mut Self {
        if v.is_empty() {
            self.pending += 1;
            return self;
        }
        self.held_back();
        self.put(self.d.element, v.as_bytes());
        self
    }

    /// An element left empty.
    #[inline]
    pub fn skip(&mut self, n: usize) -> &mut Self {
        self.pending += n;
        self
    }

    /// A date element, CCYYMMDD.
    #[inline]
    pub fn date(&mut self, d: Date) -> &mut Self {
        match d.ccyymmdd_bytes() {
            Some(b) => {
                self.held_back();
                self.put_raw(self.d.element, &b);
            }
            None => {
                self.open();
                d.write_ccyymmdd(self.out);
            }
        }
        self
    }

    /// A period element, RD8: CCYYMMDD-CCYYMMDD. The hyphen is part of the value, not a
    /// separator.
    #[inline]
    pub(crate) fn date_range(&mut self, from: Date, to: Date) -> &mut Self {
        match (from.ccyymmdd_bytes(), to.ccyymmdd_bytes()) {
            (Some(a), Some(b)) => {
                let mut v = [b'-'; 17];
                v[..8].copy_from_slice(&a);
                v[9..].copy_from_slice(&b);
                self.held_back();
                self.put_raw(self.d.element, &v);
            }
            _ => {
                self.open();
                from.write_ccyymmdd(self.out);
                self.out.push(b'-');
                to.write_ccyymmdd(self.out);
            }
        }
        self
    }

    /// A time element, HHMMSSDD.
    pub fn time_hhmmssdd(&mut self, t: Time) -> &mut Self {
        self.open();
        t.write_hhmmssdd(self.out);
        self
    }

    /// A number element.
    pub fn num(&mut self, n: u32) -> &mut Self {
        self.open();
        push_num(self.out, n, 1);
        self
    }

    /// A repeated element (EQ01, EB03).
    pub fn reps<S: AsRef<str>>(&mut self, values: &[S]) -> &mut Self {
        if values.iter().all(|v| v.as_ref().is_empty()) {
            self.pending += 1;
            return self;
        }
        // The first value goes out behind the element separators, the others each behind a
        // repetition separator.
        self.held_back();
        let mut lead = self.d.element;
        for v in values {
            self.put(lead, v.as_ref().as_bytes());
            lead = self.d.repetition;
        }
        self
    }

    /// A composite element; trailing empty components are dropped.
    #[inline]
    pub fn comp<S: AsRef<str>>(&mut self, parts: &[S]) -> &mut Self {
        // Most composites sent are absent (EB13 of all but a few EBs): held back here, without
        // the call.
        if parts.is_empty() {
            self.pending += 1;
            return self;
        }
        self.components(parts)
    }

    fn components<S: AsRef<str>>(&mut self, parts: &[S]) -> &mut Self {
        let n = parts.iter().rposition(|p| !p.as_ref().is_empty()).map_or(0, |i| i + 1);
        if n == 0 {
            self.pending += 1;
            return self;
        }
        self.held_back();
        let mut lead = self.d.element;
        for p in &parts[..n] {
            self.put(lead, p.as_ref().as_bytes());
            lead = self.d.component;
        }
        self
    }

    /// Ends the segment.
    #[inline]
    pub fn end(&mut self) {
        self.out.push(self.d.segment);
        self.pending = 0;
        self.count += 1;
    }

    /// The raw buffer, for the fixed-width ISA.
    fn raw(&mut self) -> &mut Vec<u8> {
        self.out
    }
}

fn pad(out: &mut Vec<u8>, v: &str, width: usize) {
    let b = v.as_bytes();
    let n = b.len().min(width);
    out.extend(b[..n].iter().map(|&c| if (0x20..=0x7e).contains(&c) { c } else { b' ' }));
    out.extend(std::iter::repeat_n(b' ', width - n));
}

/// Writes ISA (and GS when `group` names a functional identifier and version), calls `body`
/// to write the transaction sets, then the trailers.
pub(crate) fn interchange(
    out: &mut Vec<u8>,
    env: &OutboundEnvelope<'_>,
    group: Option<(&str, &str)>,
    body: impl FnOnce(&mut SegmentWriter<'_>) -> u32,
) {
    let d = env.delimiters;
    out.reserve(1024);
    let mut w = SegmentWriter::new(out, d);
    {
        let o = w.raw();
        let e = d.element;
        o.extend_from_slice(b"ISA");
        for v in [("00", 2), ("", 10), ("00", 2), ("", 10)] {
            o.push(e);
            pad(o, v.0, v.1);
        }
        o.push(e);
        pad(o, env.sender_qualifier, 2);
        o.push(e);
        pad(o, env.sender_id, 15);
        o.push(e);
        pad(o, env.receiver_qualifier, 2);
        o.push(e);
        pad(o, env.receiver_id, 15);
        o.push(e);
        env.date.write_yymmdd(o);
        o.push(e);
        env.time.write_hhmm(o);
        o.push(e);
        o.push(d.repetition);
        o.push(e);
        o.extend_from_slice(b"00501");
        o.push(e);
        push_num(o, env.control_number % 1_000_000_000, 9);
        o.push(e);
        o.push(b'0');
        o.push(e);
        o.extend_from_slice(if env.usage == "T" { b"T" } else { b"P" });
        o.push(e);
        o.push(d.component);
        o.push(d.segment);
    }
    let groups = match group {
        Some((functional_id, version)) => {
            w.seg("GS").el(functional_id).el(env.sender_id).el(env.receiver_id).date(env.date);
            w.open();
            env.time.write_hhmmssdd(w.raw());
            w.num(env.control_number % 1_000_000_000).el("X").el(version).end();
            let sets = body(&mut w);
            w.seg("GE").num(sets).num(env.control_number % 1_000_000_000).end();
            1
        }
        None => {
            body(&mut w);
            0
        }
    };
    w.seg("IEA").num(groups);
    w.open();
    push_num(w.raw(), env.control_number % 1_000_000_000, 9);
    w.end();
}

/// ST, then `body`, then SE with the counted segments. Returns nothing; counts itself.
pub(crate) fn transaction_set(
    w: &mut SegmentWriter<'_>,
    id: &str,
    control: &str,
    convention: &str,
    body: impl FnOnce(&mut SegmentWriter<'_>),
) {
    w.reset_count();
    w.seg("ST").el(id).el(control).el(convention).end();
    body(w);
    let n = w.count() + 1;
    w.seg("SE").num(n).el(control).end();
}

pub(crate) fn write_name(w: &mut SegmentWriter<'_>, n: &Name<'_>) {
    w.seg("NM1")
        .el(n.entity)
        .el(n.entity_type)
        .el(n.last)
        .el(n.first)
        .el(n.middle)
        .skip(1)
        .el(n.suffix)
        .el(n.id_qualifier)
        .el(n.id)
        .end();
}

pub(crate) fn write_ref(w: &mut SegmentWriter<'_>, r: &Reference<'_>) {
    w.seg("REF").el(r.qualifier).el(r.value).el(r.description).end();
}

pub(crate) fn write_address(w: &mut SegmentWriter<'_>, a: &Address<'_>) {
    w.seg("N3").el(a.line1).el(a.line2).end();
    w.seg("N4").el(a.city).el(a.state).el(a.zip).el(a.country).skip(2).el(a.country_subdivision).end();
}

pub(crate) fn procedure_parts<'p>(p: &'p ProcedureCode<'_>) -> [&'p str; 6] {
    let m = |i: usize| p.modifiers.get(i).copied().unwrap_or("");
    [p.qualifier, p.code, m(0), m(1), m(2), m(3)]
}

/// Writes a 270 interchange (ISA..IEA) around `inq`. The HL numbering is 1, 2, 3.
pub fn write_270(inq: &Inquiry270<'_>, env: &OutboundEnvelope<'_>, out: &mut Vec<u8>) {
    interchange(out, env, Some(("HS", "005010X279A1")), |w| {
        transaction_set(w, "270", inq.control_number, "005010X279A1", |w| {
            w.seg("BHT")
                .el("0022")
                .el(inq.purpose)
                .el(inq.reference)
                .el(inq.date)
                .el(inq.time)
                .el(inq.transaction_type)
                .end();
            w.seg("HL").el("1").skip(1).el("20").el("1").end();
            write_name(w, &inq.source);
            w.seg("HL").el("2").el("1").el("21").el("1").end();
            let r = &inq.receiver;
            write_name(w, &r.name);
            for x in &r.references {
                write_ref(w, x);
            }
            if let Some(a) = &r.address {
                write_address(w, a);
            }
            if let Some(p) = &r.provider {
                w.seg("PRV").el(p.code).el(p.qualifier).el(p.id).end();
            }
            let s = &inq.subscriber;
            w.seg("HL").el("3").el("2").el("22").el(s.child_code).end();
            for t in &s.traces {
                w.seg("TRN").el(t.kind).el(t.reference).el(t.originator).el(t.supplemental).end();
            }
            write_name(w, &s.name);
            for x in &s.references {
                write_ref(w, x);
            }
            if let Some(a) = &s.address {
                write_address(w, a);
            }
            if let Some(p) = &s.provider {
                w.seg("PRV").el(p.code).el(p.qualifier).el(p.id).end();
            }
            if let Some(d) = &s.demographics {
                w.seg("DMG").el(d.format).el(d.birth_date).el(d.gender).end();
            }
            if !s.birth_sequence.is_empty() {
                w.seg("INS").el("Y").el("18").skip(14).el(s.birth_sequence).end();
            }
            if !s.diagnoses.is_empty() {
                w.seg("HI");
                for (q, c) in &s.diagnoses {
                    w.comp(&[q, c]);
                }
                w.end();
            }
            for d in &s.dates {
                w.seg("DTP").el(d.qualifier).el(d.format).el(d.value).end();
            }
            for eq in &s.inquiries {
                w.seg("EQ").reps(&eq.service_types);
                match &eq.procedure {
                    Some(p) => w.comp(&procedure_parts(p)),
                    None => w.skip(1),
                };
                w.el(eq.coverage_level).skip(1);
                let ptr = |i: usize| eq.diagnosis_pointers.get(i).copied().unwrap_or("");
                w.comp(&[ptr(0), ptr(1), ptr(2), ptr(3)]).end();
                if !eq.spend_down.is_empty() {
                    w.seg("AMT").el("R").el(eq.spend_down).end();
                }
                if !eq.billed.is_empty() {
                    w.seg("AMT").el("PB").el(eq.billed).end();
                }
                if !eq.facility_type.is_empty() {
                    w.seg("III").el("ZZ").el(eq.facility_type).end();
                }
                if let Some(r) = &eq.reference {
                    write_ref(w, r);
                }
                if let Some(d) = &eq.date {
                    w.seg("DTP").el(d.qualifier).el(d.format).el(d.value).end();
                }
            }
        });
        1
    });
}

impl Ta1 {
    /// Writes the TA1 interchange: ISA, TA1, IEA with no functional group.
    pub fn write(&self, env: &OutboundEnvelope<'_>, out: &mut Vec<u8>) {
        interchange(out, env, None, |w| {
            w.seg("TA1").el(&self.control_number);
            // An unreadable ISA has no date or time to quote: the TA1 then carries its own.
            if self.date.is_empty() {
                w.open();
                env.date.write_yymmdd(w.raw());
            } else {
                w.el(&self.date);
            }
            if self.time.is_empty() {
                w.open();
                env.time.write_hhmm(w.raw());
            } else {
                w.el(&self.time);
            }
            w.el("R").el(self.code.code()).end();
            0
        });
    }
}

impl Ack999 {
    /// Writes the 999 interchange (005010X231A1).
    pub fn write(&self, env: &OutboundEnvelope<'_>, out: &mut Vec<u8>) {
        interchange(out, env, Some(("FA", "005010X231A1")), |w| {
            transaction_set(w, "999", "0001", "005010X231A1", |w| {
                w.seg("AK1")
                    .el(&self.functional_id)
                    .el(&self.group_control_number)
                    .el(self.version.as_deref().unwrap_or(""))
                    .end();
                for set in &self.sets {
                    w.seg("AK2")
                        .el(&set.set_id)
                        .el(&set.control_number)
                        .el(set.convention.as_deref().unwrap_or(""))
                        .end();
                    for e in &set.segments {
                        w.seg("IK3").el(&e.segment_id);
                        w.open();
                        push_num(w.raw(), e.position, 1);
                        w.el(loop_code(e.loop_id.as_deref())).el(e.code.code()).end();
                        for c in &e.context {
                            w.seg("CTX").comp(&[&c.name, c.reference.as_deref().unwrap_or("")]);
                            w.el(c.segment_id.as_deref().unwrap_or(""));
                            match c.segment_position {
                                Some(p) => w.num(p),
                                None => w.skip(1),
                            };
                            w.el(loop_code(c.loop_id.as_deref())).end();
                        }
                        for el in &e.elements {
                            let mut pos = [String::new(), String::new(), String::new()];
                            pos[0] = el.position.element.to_string();
                            if let Some(c) = el.position.component {
                                pos[1] = c.to_string();
                            }
                            if let Some(r) = el.position.repetition {
                                pos[2] = r.to_string();
                            }
                            w.seg("IK4").comp(&[&pos[0], &pos[1], &pos[2]]);
                            match el.reference {
                                Some(r) => w.num(r as u32),
                                None => w.skip(1),
                            };
                            w.el(el.code.code()).el(el.bad_value.as_deref().unwrap_or("")).end();
                        }
                    }
                    w.seg("IK5").el(set.code.code());
                    for c in set.errors.iter().take(5) {
                        w.el(c.code());
                    }
                    w.end();
                }
                w.seg("AK9").el(self.code.code()).num(self.included).num(self.received).num(self.accepted);
                for c in self.errors.iter().take(5) {
                    w.el(c.code());
                }
                w.end();
            });
            1
        });
    }
}

/// IK303/CTX04 carry a Loop Identifier Code (data element 447), which is at most four
/// characters: the TR3 loop `2100C` is reported as `2100`.
fn loop_code(id: Option<&str>) -> &str {
    let id = id.unwrap_or("");
    &id[..id.len().min(4)]
}

/// Formats a money amount the way the CMS samples do: no leading zero, no trailing zeros
/// (`1736`, `144.5`, `.2`, `0`).
pub fn format_decimal(value: f64) -> String {
    if !value.is_finite() {
        return "0".into();
    }
    // Whole amounts (most deductibles, zero) skip float formatting: `{:.2}` of a whole number
    // below 2^53 is its integer digits and ".00", which the trimming below drops. Negative
    // zero keeps the general path ("-0").
    if value.fract() == 0.0 && value.abs() < 9.0e15 && !(value == 0.0 && value.is_sign_negative()) {
        return (value as i64).to_string();
    }
    if let Some(s) = positive_hundredths(value) {
        return s;
    }
    // Trimmed in place: one allocation per amount (a 271 carries dozens).
    let mut s = format!("{value:.2}");
    // `{:.2}` always writes a point, so trimming zeros stops at it.
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if s.starts_with("0.") {
        s.remove(0);
    } else if s.starts_with("-0.") {
        s.remove(1);
    }
    if s.is_empty() || s == "-" { "0".into() } else { s }
}

/// [`format_decimal`] of a positive amount that is, to well within a millionth of a cent, a
/// whole number of cents (money and rates: `144.5`, `.2`), without `format!("{:.2}")`, which
/// cost some 500 instructions an amount. `None` for anything else, which takes the general path.
fn positive_hundredths(value: f64) -> Option<String> {
    let hundredths = value * 100.0;
    let cents = hundredths.round();
    // The product is within half an ulp of the exact 100 × value, so an exact value this close
    // to a whole number of cents is nowhere near a rounding tie: `{:.2}` writes those cents.
    if !(value > 0.0 && cents < 1e15 && (hundredths - cents).abs() < 1e-6) {
        return None;
    }
    let cents = cents as u64;
    let (whole, fraction) = (cents / 100, cents % 100);
    // Written from the end: the trailing zeros of the fraction, and its point when nothing is
    // left of it, are not written, nor a lone leading zero.
    let mut digits = [0u8; 24];
    let mut at = digits.len();
    let mut put = |digits: &mut [u8; 24], c: u8| {
        at -= 1;
        digits[at] = c;
        at
    };
    let digit = |d: u64| b'0' + (d % 10) as u8;
    let mut first = digits.len();
    match (fraction % 10, fraction / 10) {
        (0, 0) => {}
        (0, tenths) => {
            put(&mut digits, digit(tenths));
            first = put(&mut digits, b'.');
        }
        (hundredth, tenths) => {
            put(&mut digits, digit(hundredth));
            put(&mut digits, digit(tenths));
            first = put(&mut digits, b'.');
        }
    }
    let mut w = whole;
    while w > 0 {
        first = put(&mut digits, digit(w));
        w /= 10;
    }
    if first == digits.len() {
        // Rounded to no cents at all: `{:.2}` wrote "0.00".
        first = put(&mut digits, b'0');
    }
    Some(digits[first..].iter().map(|&b| char::from(b)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_empties_are_dropped() {
        let mut out = Vec::new();
        let mut w = SegmentWriter::new(&mut out, Delimiters::default());
        w.seg("EB").el("1").skip(1).reps(&["30", "42"]).el("MA").el("").el("").end();
        w.seg("NM1").el("PR").el("2").el("CMS").skip(2).el("").skip(1).el("PI").el("CMS").end();
        assert_eq!(out, b"EB*1**30^42*MA~NM1*PR*2*CMS*****PI*CMS~");
    }

    #[test]
    fn delimiters_in_data_become_spaces() {
        let mut out = Vec::new();
        let mut w = SegmentWriter::new(&mut out, Delimiters::default());
        w.seg("N3").el("12*MAIN~ST^A|B").end();
        assert_eq!(out, b"N3*12 MAIN ST A B~");
    }

    #[test]
    fn decimals() {
        assert_eq!(format_decimal(1736.0), "1736");
        assert_eq!(format_decimal(144.5), "144.5");
        assert_eq!(format_decimal(0.2), ".2");
        assert_eq!(format_decimal(0.0), "0");
        assert_eq!(format_decimal(209.5), "209.5");
        assert_eq!(format_decimal(-0.5), "-.5");
        assert_eq!(format_decimal(-0.001), "-0");
        assert_eq!(format_decimal(f64::NAN), "0");
    }

    /// The trimming by string slices that `format_decimal` replaced (two allocations).
    fn format_decimal_by_slices(value: f64) -> String {
        if !value.is_finite() {
            return "0".into();
        }
        let s = format!("{:.2}", value);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        let s = if let Some(rest) = s.strip_prefix("0.") {
            format!(".{rest}")
        } else if let Some(rest) = s.strip_prefix("-0.") {
            format!("-.{rest}")
        } else {
            s.to_string()
        };
        if s.is_empty() || s == "-" { "0".into() } else { s }
    }

    #[test]
    fn decimals_are_trimmed_as_before() {
        let edges = [
            0.0,
            -0.0,
            0.005,
            0.015,
            0.125,
            -0.125,
            1e15,
            -1e-9,
            99.995,
            100.0,
            0.1,
            0.01,
            1e-9,
            0.004999,
            0.0049999999,
            2.999,
            2.995,
            2.9949999,
            9.99e14,
            9.99e14 + 0.25,
            1e13 + 0.01,
            0.07,
            0.29,
            0.57,
            1.005,
            1.015,
            8.675,
            1e-300,
            f64::MIN_POSITIVE,
            4503599627370495.5,
            0.995,
            0.9949999999,
            10.1,
            1234.56,
        ];
        let wholes = [1676.0, -257.0, 8.9e15, 9.1e15, 1e300, -1e300, 4503599627370495.5];
        let mut values: Vec<f64> = edges.iter().chain(&wholes).copied().collect();
        values.extend((-3000..3000).map(f64::from));
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            // xorshift: money amounts, rates and odd values alike.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let cents = (x % 2_000_000) as f64 / 100.0;
            values.push(if x & 1 == 0 { cents } else { -cents / 7.0 });
            // Positive amounts near and between whole cents, ties at half a cent among them.
            values.push(if x & 2 == 0 { cents / 7.0 } else { (x % 2_000_000) as f64 / 1000.0 });
        }
        for v in values {
            assert_eq!(format_decimal(v), format_decimal_by_slices(v), "{v}");
        }
    }
}
