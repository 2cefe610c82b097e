//! Walks the segments of one transaction set against the [`schema`](crate::schema) tables and
//! reports each problem the way a 999 locates it (IK3 segment, IK4 element).

use crate::ack::{ElementError, ElementErrorCode as E, ElementPosition, SegmentError, SegmentErrorCode as S};
use crate::codes::SERVICE_TYPES;
use crate::date::{Date, Time};
use crate::schema::{
    El, Entry, HL_KEY, LoopDef, NO_ENTRY, SEGMENT_IDS_270, SLOT_KEYS, Seg, Slot, TRANSACTION_270, Ty, Usage, id_slot,
};
use crate::segment::{Fields, Segment, id_key};

/// Past this many IK3s a set is hopeless; more would only bloat the 999.
const MAX_SEGMENT_ERRORS: usize = 100;
const MAX_DEPTH: usize = 4;
const MAX_ENTRIES: usize = 16;

#[derive(Clone, Copy)]
struct Frame {
    def: &'static LoopDef,
    /// Index of the entry last matched.
    idx: usize,
    counts: [u16; MAX_ENTRIES],
    /// Bit `j` set when entry `j` has occurred (`counts[j] > 0`), to compare with the loop's
    /// required mask.
    seen: u16,
}

impl Frame {
    fn new(def: &'static LoopDef) -> Frame {
        Frame { def, idx: 0, counts: [0; MAX_ENTRIES], seen: 0 }
    }
}

/// What the validator learned about one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Matched {
    pub slot: Slot,
    pub loop_id: &'static str,
}

pub struct SetValidator {
    stack: [Frame; MAX_DEPTH],
    depth: usize,
    position: u32,
    errors: Vec<SegmentError>,
    /// After an HL whose level code is unknown, its loop's segments cannot be placed; they are
    /// passed over until the next HL so one mistake gives one error.
    skip_until_hl: bool,
    /// HL01 values of the levels seen, for HL02 parent checks.
    hl_ids: [u32; 4],
    hl_count: u32,
}

impl Default for SetValidator {
    fn default() -> Self {
        Self::new()
    }
}

impl SetValidator {
    pub fn new() -> Self {
        let root = Frame::new(&TRANSACTION_270);
        SetValidator {
            stack: [root; MAX_DEPTH],
            depth: 1,
            position: 0,
            errors: Vec::new(),
            skip_until_hl: false,
            hl_ids: [0; 4],
            hl_count: 0,
        }
    }

    pub fn take_errors(&mut self) -> Vec<SegmentError> {
        std::mem::take(&mut self.errors)
    }

    /// Records an IK3; returns it for IK4s to be added, or `None` past the cap.
    fn error(&mut self, id: &[u8], loop_id: &'static str, code: S, detail: String) -> Option<&mut SegmentError> {
        if self.errors.len() >= MAX_SEGMENT_ERRORS {
            return None;
        }
        self.errors.push(SegmentError {
            segment_id: String::from_utf8_lossy(&id[..id.len().min(3)]).into_owned(),
            position: self.position,
            loop_id: (!loop_id.is_empty()).then(|| loop_id.to_string()),
            code,
            context: Vec::new(),
            elements: Vec::new(),
            detail,
        });
        self.errors.last_mut()
    }

    /// Places one segment. Returns what it is when it could be placed.
    pub fn step(&mut self, seg: &Segment<'_>) -> Option<Matched> {
        let mut fields = Fields::default();
        fields.split(seg.raw(), seg.delimiters().element);
        self.step_fields(seg, &fields)
    }

    /// [`SetValidator::step`] for a segment its caller has already split (and will read again).
    #[inline]
    pub(crate) fn step_fields(&mut self, seg: &Segment<'_>, fields: &Fields<'_>) -> Option<Matched> {
        self.position += 1;
        let id = fields.id;
        if self.skip_until_hl {
            if id != b"HL" && id != b"SE" {
                return None;
            }
            self.skip_until_hl = false;
        }
        // The id's slot in the loops' look-up tables, or `None` for an id no entry has.
        let slot = id_slot(fields.key);
        let slot = (SLOT_KEYS[slot] == fields.key).then_some(slot);
        // Forward in the current loop, then outward through the enclosing loops.
        for depth in (0..self.depth).rev() {
            if let Some(i) = find_forward(&self.stack[depth], fields, slot) {
                self.close_to(depth + 1);
                return Some(self.enter(depth, i, seg, fields, false));
            }
        }
        self.step_elsewhere(seg, fields)
    }

    /// [`SetValidator::step_fields`] for a segment that is not next in any open loop: a repeat,
    /// or one out of place. Cold and out of line, so that the usual step does not carry its
    /// second copy of `enter` and its reports.
    #[cold]
    #[inline(never)]
    fn step_elsewhere(&mut self, seg: &Segment<'_>, fields: &Fields<'_>) -> Option<Matched> {
        let id = fields.id;
        // Backward: a segment or loop that already had its turn.
        for depth in (0..self.depth).rev() {
            if let Some(i) = find(&self.stack[depth], fields, false) {
                let def = self.stack[depth].def;
                let entry = &def.entries[i];
                if entry.child.is_some() {
                    // Another instance of a loop that may not repeat here (D1: one subscriber).
                    self.close_to(depth + 1);
                    return Some(self.enter(depth, i, seg, fields, true));
                }
                let loop_id = def.id;
                self.error(
                    id,
                    loop_id,
                    S::OutOfSequence,
                    format!("{} is not in proper sequence in loop {}", show(id), show_loop(loop_id)),
                );
                return None;
            }
        }
        let loop_id = self.stack[self.depth - 1].def.id;
        if id == b"HL" {
            let level = fields.get(2);
            let code = if level.is_empty() { E::RequiredMissing } else { E::InvalidCode };
            let bad = printable(level);
            if let Some(e) = self.error(
                id,
                loop_id,
                S::ElementErrors,
                "HL03 is not a hierarchical level this transaction uses".into(),
            ) {
                e.elements.push(ElementError {
                    position: ElementPosition::element(3),
                    reference: Some(735),
                    code,
                    bad_value: bad,
                });
            }
            self.skip_until_hl = true;
            return None;
        }
        if crate::codes::in_list(SEGMENT_IDS_270, id) {
            self.error(id, loop_id, S::UnexpectedSegment, format!("{} is not expected here", show(id)));
        } else if looks_like_segment_id(id) {
            self.error(id, loop_id, S::NotInTransactionSet, format!("{} is not a segment of the 270", show(id)));
        } else {
            self.error(id, loop_id, S::UnrecognizedSegmentId, "unrecognized segment identifier".into());
        }
        None
    }

    /// Ends the set: every loop still open is closed and its missing segments reported.
    pub fn finish(&mut self) {
        self.close_to(1);
        let root = self.stack[0];
        // SE itself is reported by the envelope check (IK5 code 2), not as an IK3.
        let last = root.def.entries.len() - 1;
        let from = if root.counts[root.idx] > 0 { root.idx + 1 } else { root.idx };
        self.report_missing(0, from, last);
    }

    // Always inlined (into `step_fields`, itself inlined into the 270 reader's step): as a call
    // of its own, its 800-byte frame was set up and its arguments spilled for every segment,
    // about 35 instructions more per segment than the inlined body costs.
    #[inline(always)]
    fn enter(
        &mut self,
        depth: usize,
        i: usize,
        seg: &Segment<'_>,
        fields: &Fields<'_>,
        repeat_of_done_loop: bool,
    ) -> Matched {
        // Only the parts of the frame needed: copying a whole `Frame` per segment shows.
        let (def, idx) = (self.stack[depth].def, self.stack[depth].idx);
        let entry: &'static Entry = &def.entries[i];
        let id = fields.id;
        // Required entries passed over on the way to this one.
        let idx_seen = self.stack[depth].counts[idx] > 0;
        let from = if idx_seen { idx + 1 } else { idx };
        if (i > idx || !idx_seen) && from < i {
            self.report_missing(depth, from, i);
        }
        let f = &mut self.stack[depth];
        f.idx = i;
        f.counts[i] = f.counts[i].saturating_add(1);
        f.seen |= 1 << i;
        let count = f.counts[i];
        let (loop_id, check) = match entry.child {
            Some(child) => (child.id, child.check_elements),
            None => (def.id, def.check_elements),
        };
        // Only the code here; the report's text is made out of line, when there is one.
        let structural = if entry.usage == Usage::NotUsed {
            Some(S::NotUsedSegmentPresent)
        } else if count > entry.max || repeat_of_done_loop {
            Some(if entry.child.is_some() { S::LoopOverMaximum } else { S::SegmentOverMaximum })
        } else {
            None
        };
        if let Some(child) = entry.child {
            self.depth = depth + 2;
            let mut nf = Frame::new(child);
            nf.counts[0] = 1;
            nf.seen = 1;
            self.stack[depth + 1] = nf;
        }
        let mut elements = Vec::new();
        if check && structural.is_none() {
            check_segment(seg, fields, entry.seg, entry.required_elements, &mut elements);
        }
        if entry.key == HL_KEY && structural.is_none() {
            self.check_hl(fields, entry.seg.slot, &mut elements);
        }
        if let Some(code) = structural {
            self.report_structural(id, loop_id, entry.max, code);
        } else if !elements.is_empty() {
            self.report_elements(id, loop_id, elements);
        }
        Matched { slot: entry.seg.slot, loop_id }
    }

    /// The IK3 of a segment or loop that may not be here, or not this many times. Cold and
    /// out of line, as is [`SetValidator::report_elements`]: their text building inlined into
    /// the step cost the valid segments a few instructions each.
    #[cold]
    #[inline(never)]
    fn report_structural(&mut self, id: &[u8], loop_id: &'static str, max: u16, code: S) {
        let detail = match code {
            S::NotUsedSegmentPresent => format!("loop {} is not used by this implementation", show_loop(loop_id)),
            S::LoopOverMaximum => format!("loop {} occurs more than {} time(s)", show_loop(loop_id), max),
            _ => format!("{} occurs more than {} time(s)", show(id), max),
        };
        self.error(id, loop_id, code, detail);
    }

    /// The IK3 of a segment with data element errors, and its IK4s.
    #[cold]
    #[inline(never)]
    fn report_elements(&mut self, id: &[u8], loop_id: &'static str, elements: Vec<ElementError>) {
        let detail = format!("{} has data element errors", show(id));
        if let Some(e) = self.error(id, loop_id, S::ElementErrors, detail) {
            e.elements = elements;
        }
    }

    /// HL01 counts up from 1; HL02 names the parent level's HL01.
    // Always inlined, as `enter` is: a call for these few compares cost as much as they do.
    #[inline(always)]
    fn check_hl(&mut self, fields: &Fields<'_>, slot: Slot, out: &mut Vec<ElementError>) {
        self.hl_count += 1;
        let f = [fields.get(0), fields.get(1)];
        let id = crate::date::digits(f[0]);
        if id != Some(self.hl_count) && !f[0].is_empty() {
            out.push(ElementError {
                position: ElementPosition::element(1),
                reference: Some(628),
                code: E::PatternMismatch,
                bad_value: printable(f[0]),
            });
        }
        let level = match slot {
            Slot::Hl2000A => 0,
            Slot::Hl2000B => 1,
            Slot::Hl2000C => 2,
            _ => 3,
        };
        self.hl_ids[level] = id.unwrap_or(0);
        if level > 0 && !f[1].is_empty() && crate::date::digits(f[1]) != Some(self.hl_ids[level - 1]) {
            out.push(ElementError {
                position: ElementPosition::element(2),
                reference: Some(734),
                code: E::PatternMismatch,
                bad_value: printable(f[1]),
            });
        }
    }

    #[inline]
    fn close_to(&mut self, depth: usize) {
        while self.depth > depth {
            let top = self.depth - 1;
            let (def, idx) = (self.stack[top].def, self.stack[top].idx);
            if idx + 1 < def.entries.len() {
                self.report_missing(top, idx + 1, def.entries.len());
            }
            self.depth -= 1;
        }
    }

    /// Reports the required entries in `from..to` of the frame at `depth` that never occurred.
    // Inlined, with the report itself out of line: the masks settle nearly every call in a few
    // instructions, fewer than the call's own.
    #[inline(always)]
    fn report_missing(&mut self, depth: usize, from: usize, to: usize) {
        let def = self.stack[depth].def;
        // Entries `from..to` (a loop has at most sixteen) that are required and never occurred:
        // usually none, told by the masks without visiting the entries.
        let range = (1u32 << to.min(16)).wrapping_sub(1) & !((1u32 << from.min(16)).wrapping_sub(1));
        if u32::from(def.required & !self.stack[depth].seen) & range == 0 {
            return;
        }
        self.report_missing_entries(depth, from, to);
    }

    #[cold]
    #[inline(never)]
    fn report_missing_entries(&mut self, depth: usize, from: usize, to: usize) {
        let def = self.stack[depth].def;
        for j in from..to.min(def.entries.len()) {
            let e = &def.entries[j];
            if e.usage == Usage::Required && self.stack[depth].counts[j] == 0 {
                let loop_id = e.child.map_or(def.id, |c| c.id);
                let detail = format!("required {} (loop {}) is missing", e.seg.id, show_loop(loop_id));
                self.error(e.seg.id.as_bytes(), loop_id, S::RequiredSegmentMissing, detail);
            }
        }
    }
}

/// [`find`] forward, starting from the loop's look-up table: the first entry from the current
/// one on with the segment's id is where the search would first stop; unless that entry tells
/// apart segments of one id by a qualifier (HL, AMT), it is the answer.
#[inline(always)]
fn find_forward(frame: &Frame, fields: &Fields<'_>, slot: Option<usize>) -> Option<usize> {
    let slot = slot?;
    let first = usize::from(!std::ptr::eq(frame.def, &TRANSACTION_270));
    let from = frame.idx.max(first);
    let i = *frame.def.next.get(from)?.get(slot)?;
    if i == NO_ENTRY {
        return None;
    }
    let i = usize::from(i);
    match frame.def.entries.get(i) {
        Some(e) if e.seg.qualifier.is_none() => Some(i),
        _ => find_from(frame, fields, i),
    }
}

/// Finds the entry of `frame` that `seg` is: forward from the current one, or (when `forward`
/// is false) among those before it.
// Always inlined: it runs for every loop level of every segment, and a call costs as much as
// the search on these few entries.
#[inline(always)]
fn find(frame: &Frame, fields: &Fields<'_>, forward: bool) -> Option<usize> {
    let entries = frame.def.entries;
    // A loop's first segment starts a new instance of that loop in the parent, never a repeat
    // inside the instance it opened.
    let first = usize::from(!std::ptr::eq(frame.def, &TRANSACTION_270));
    let range = if forward { frame.idx.max(first)..entries.len() } else { first..frame.idx };
    search(entries, fields, range)
}

/// [`find`] forward from entry `from` on. Out of line: only the HLs (three a 270) and AMTs
/// come here, and inlined into the step it cost every segment registers.
#[inline(never)]
fn find_from(frame: &Frame, fields: &Fields<'_>, from: usize) -> Option<usize> {
    search(frame.def.entries, fields, from..frame.def.entries.len())
}

/// The entry in `range` that the segment is.
#[inline(always)]
fn search(entries: &[Entry], fields: &Fields<'_>, range: std::ops::Range<usize>) -> Option<usize> {
    let mut fallback = None;
    for i in range {
        let e = &entries[i];
        if e.key != fields.key {
            continue;
        }
        match e.seg.qualifier {
            None => return Some(i),
            Some((n, codes)) => {
                let q = fields.get(n.wrapping_sub(1));
                // One code (each HL level, each AMT): compared as packed keys, which for a code
                // of one to three bytes is byte equality, without the list search.
                let hit = match codes {
                    [code] if (1..=3).contains(&code.len()) => id_key(code.as_bytes()) == id_key(q),
                    _ => crate::codes::in_list(codes, q),
                };
                if hit {
                    return Some(i);
                }
                // An unknown AMT qualifier still is an AMT of this loop; HL levels are not
                // guessed (an unknown level code is reported on its own).
                if e.key != HL_KEY && fallback.is_none() {
                    fallback = Some(i);
                }
            }
        }
    }
    fallback
}

/// What one pass over a segment's bytes tells about all its elements, so that the common case
/// (printable, no repetitions, no composites) skips the per-value scans.
#[derive(Clone, Copy)]
struct Scan {
    /// 1: a byte outside the X12 characters; 2: the repetition separator; 4: the component
    /// separator. Kept as the one byte the scan folds to: taking it apart into three flags
    /// cost more than reading a bit where one is wanted.
    flags: u8,
}

/// `LANE_MASKS[n]`: all ones in the first `n` lanes of a vector word, zero in the others.
const LANE_MASKS: [[u8; 16]; 17] = {
    let mut masks = [[0; 16]; 17];
    let mut n = 0;
    while n <= 16 {
        let mut k = 0;
        while k < n {
            masks[n][k] = 0xff;
            k += 1;
        }
        n += 1;
    }
    masks
};

impl Scan {
    /// `tail` is the input from the segment's first byte on, when the caller has it (or the
    /// segment itself): a segment shorter than a vector word is then read as the first
    /// sixteen bytes of `tail`, the bytes past the segment masked off, instead of being
    /// copied into a padded word (a `memcpy` call per segment).
    // Inlined for the short segment read in place (half of them), which costs less than the
    // call; the general scan stays out of line.
    #[inline(always)]
    fn of(seg: &Segment<'_>, tail: &[u8]) -> Scan {
        let d = seg.delimiters();
        let raw = seg.raw();
        if raw.len() < 16
            && !raw.is_empty()
            && let Some(window) = tail.first_chunk::<16>()
            && std::ptr::eq(window.as_ptr(), raw.as_ptr())
        {
            let flag =
                |b: u8| u8::from(!is_x12_char(b)) | u8::from(b == d.repetition) << 1 | u8::from(b == d.component) << 2;
            let mut lanes = [0u8; 16];
            let mask = LANE_MASKS.get(raw.len()).unwrap_or(&[0; 16]);
            for ((lane, &b), &m) in lanes.iter_mut().zip(window).zip(mask) {
                *lane = flag(b) & m;
            }
            return Scan { flags: lanes.iter().fold(0, |a, &l| a | l) };
        }
        Scan::of_any(seg, tail)
    }

    /// A segment of sixteen bytes or more (or a short one not read in place).
    #[inline(never)]
    fn of_any(seg: &Segment<'_>, tail: &[u8]) -> Scan {
        let d = seg.delimiters();
        let raw = seg.raw();
        let (Some(first), Some(last)) = (raw.first_chunk::<16>(), raw.last_chunk::<16>()) else {
            return Scan::of_short(seg, tail);
        };
        // Per byte lane, the flags seen: the first and the last sixteen bytes (overlapping when
        // the segment is shorter than 32; bytes seen twice change nothing), and the words
        // between them. Written as straight-line words for segments of up to 64 bytes rather
        // than one loop over all the words: the compiler vectorised that loop across words,
        // gathering one byte of each, which for the usual two to four words cost more.
        let flag =
            |b: u8| u8::from(!is_x12_char(b)) | u8::from(b == d.repetition) << 1 | u8::from(b == d.component) << 2;
        let mut lanes = [0u8; 16];
        for ((lane, &x), &y) in lanes.iter_mut().zip(first).zip(last) {
            *lane = flag(x) | flag(y);
        }
        for at in [16, 32] {
            if at + 16 < raw.len()
                && let Some(w) = raw.get(at..).and_then(|r| r.first_chunk::<16>())
            {
                for (lane, &x) in lanes.iter_mut().zip(w) {
                    *lane |= flag(x);
                }
            }
        }
        if raw.len() > 64 {
            lanes = Scan::add_middle(lanes, raw, d);
        }
        Scan { flags: lanes.iter().fold(0, |a, &l| a | l) }
    }

    /// `lanes` with the flags of the words of `raw` from byte 48 on, short of its last sixteen
    /// bytes, or-ed in. Out of line: only segments over 64 bytes need it, and the loop inlined
    /// was vectorised across words again, and made the usual scan save and restore registers.
    #[inline(never)]
    fn add_middle(mut lanes: [u8; 16], raw: &[u8], d: crate::Delimiters) -> [u8; 16] {
        let mut at = 48;
        while at + 16 < raw.len() {
            if let Some(w) = raw.get(at..).and_then(|r| r.first_chunk::<16>()) {
                for (lane, &b) in lanes.iter_mut().zip(w) {
                    *lane |=
                        u8::from(!is_x12_char(b)) | u8::from(b == d.repetition) << 1 | u8::from(b == d.component) << 2;
                }
            }
            at += 16;
        }
        lanes
    }

    /// A segment shorter than sixteen bytes: read in place from `tail` when that holds a whole
    /// word from the segment's start, or else padded with its own first byte (rare: the last
    /// segment of an input, or a caller without the input). Apart, so that the usual scan of a
    /// long segment does not carry this one's stack copy.
    #[cold]
    #[inline(never)]
    fn of_short(seg: &Segment<'_>, tail: &[u8]) -> Scan {
        let d = seg.delimiters();
        let raw = seg.raw();
        let flag =
            |b: u8| u8::from(!is_x12_char(b)) | u8::from(b == d.repetition) << 1 | u8::from(b == d.component) << 2;
        let mut lanes = [0u8; 16];
        match tail.first_chunk::<16>() {
            Some(window) if std::ptr::eq(window.as_ptr(), raw.as_ptr()) => {
                let mask = LANE_MASKS.get(raw.len()).unwrap_or(&[0; 16]);
                for ((lane, &b), &m) in lanes.iter_mut().zip(window).zip(mask) {
                    *lane = flag(b) & m;
                }
            }
            _ => {
                if let Some(&first) = raw.first() {
                    let mut w = [first; 16];
                    if let Some(head) = w.get_mut(..raw.len()) {
                        head.copy_from_slice(raw);
                    }
                    for (lane, &b) in lanes.iter_mut().zip(&w) {
                        *lane = flag(b);
                    }
                }
            }
        }
        Scan { flags: lanes.iter().fold(0, |a, &l| a | l) }
    }

    fn printable(self) -> bool {
        self.flags & 1 == 0
    }

    fn repetition(self) -> bool {
        self.flags & 2 != 0
    }

    fn component(self) -> bool {
        self.flags & 4 != 0
    }
}

/// [`Scan::of`] out of line: most segments of a 270 are known clean without a scan (see
/// `CleanSpans`), and the scan inlined for the few others cost the step registers.
#[inline(never)]
fn scan_of(seg: &Segment<'_>, tail: &[u8]) -> Scan {
    Scan::of(seg, tail)
}

// Always inlined: with `enter` inlined into the step, the compiler kept this out of line, and
// the call with its spills cost more than it saved.
#[inline(always)]
fn check_segment(seg: &Segment<'_>, fields: &Fields<'_>, spec: &Seg, required: u8, out: &mut Vec<ElementError>) {
    let scan = if fields.clean { Scan { flags: 0 } } else { scan_of(seg, fields.tail) };
    let present = fields.count;
    let clean = scan.flags == 0;
    // Every schema segment has fewer than `MAX_FIELDS` elements, so each one checked was kept.
    // Each element is cut between two neighbouring piece ends (what `Fields::get` does, less
    // its checks of the index, which the pairs make needless).
    let seg_raw = fields.raw();
    for (i, (def, ends)) in spec.elements.iter().zip(fields.element_ends().windows(2)).enumerate() {
        let raw = match *ends {
            [end, next] => seg_raw.get(end + 1..next).unwrap_or_default(),
            _ => b"",
        };
        // Most elements are settled here in a few compares, without the general check's series
        // of tests for each kind of element: an absent one that may be absent, and a valid
        // simple value in a clean segment (see `El::simple`). Anything else, errors included,
        // goes through `check_element`.
        if raw.is_empty() {
            if def.usage != Usage::Required {
                continue;
            }
        } else if clean
            && def.simple
            && raw.len() >= usize::from(def.min)
            && raw.len() <= usize::from(def.max)
            && (def.codes.is_empty() || def.allows(raw))
        {
            continue;
        }
        // A date, time or number (BHT04, BHT05, SE01) in a clean segment: valid when its value
        // checks out, which is all the general check would find; the call into it cost more
        // than the check.
        if clean && !raw.is_empty() && def.scalar && scalar_valid(raw, def) {
            continue;
        }
        // Likewise EQ01's service types (the CMS sample asks for thirteen) when every one is
        // valid: the checks `check_element` makes before it comes to them, without the call.
        if scan.flags & !2 == 0
            && def.repeat > 1
            && std::ptr::eq(def.codes, SERVICE_TYPES)
            && def.max <= 2
            && def.usage != Usage::NotUsed
            && def.components.is_empty()
            && !raw.is_empty()
            && service_types_valid(raw, seg.delimiters().repetition, def)
        {
            continue;
        }
        // Likewise a composite (EQ02, `HC|80061`) whose every component is valid, in a segment
        // of X12 characters without repetition separators.
        if scan.flags & !4 == 0
            && !def.components.is_empty()
            && !raw.is_empty()
            && def.usage != Usage::NotUsed
            && def.repeat >= 1
            && components_valid(raw, seg.delimiters().component, def)
        {
            continue;
        }
        check_element(raw, seg, scan, def, (i + 1) as u8, out);
    }
    if present > spec.elements.len() {
        out.push(ElementError {
            position: ElementPosition::element((spec.elements.len() + 1).min(99) as u8),
            reference: None,
            code: E::TooManyElements,
            bad_value: None,
        });
        return;
    }
    // Usually settled by the entry's count of required elements, without a walk over the
    // elements that were not sent.
    if present >= usize::from(required) {
        return;
    }
    for (i, def) in spec.elements.iter().enumerate().skip(present) {
        if def.usage == Usage::Required {
            out.push(ElementError {
                position: ElementPosition::element((i + 1) as u8),
                reference: Some(def.reference),
                code: E::RequiredMissing,
                bad_value: None,
            });
        }
    }
}

// Out of line: since most elements are settled by the element loop's few compares, this is the
// slow path, and inlined into the validator it left the loop short of registers (its counters
// and bounds spilled to the stack on every element).
#[inline(never)]
fn check_element(raw: &[u8], seg: &Segment<'_>, scan: Scan, def: &El, pos: u8, out: &mut Vec<ElementError>) {
    let d = seg.delimiters();
    let at = ElementPosition::element(pos);
    let reference = (def.reference != 0).then_some(def.reference);
    if raw.is_empty() {
        if def.usage == Usage::Required {
            out.push(ElementError { position: at, reference, code: E::RequiredMissing, bad_value: None });
        }
        return;
    }
    if def.usage == Usage::NotUsed {
        out.push(ElementError { position: at, reference, code: E::NotUsedPresent, bad_value: None });
        return;
    }
    // A repeated simple value (EQ01: the CMS sample asks for thirteen service types) whose
    // every repetition is valid, the usual case, is settled by one pass over its bytes. Any
    // other goes the general way below, which finds each problem and where it is.
    if def.repeat > 1
        && scan.printable()
        && def.components.is_empty()
        && matches!(def.ty, Ty::An | Ty::Id)
        && !(scan.component() && raw.contains(&d.component))
        && repetitions_valid(raw, d.repetition, def)
    {
        return;
    }
    let repetitions = if scan.repetition() { raw.iter().filter(|&&b| b == d.repetition).count() + 1 } else { 1 };
    if repetitions > def.repeat as usize {
        out.push(ElementError { position: at, reference, code: E::TooManyRepetitions, bad_value: None });
        return;
    }
    if !def.components.is_empty() {
        let mut n = 0;
        for (ci, c) in raw.split(|&b| b == d.component).enumerate() {
            n = ci + 1;
            let cpos = ElementPosition { element: pos, component: Some((ci + 1).min(99) as u8), repetition: None };
            let Some(cdef) = def.components.get(ci) else {
                out.push(ElementError { position: cpos, reference, code: E::TooManyComponents, bad_value: None });
                return;
            };
            let cref = (cdef.reference != 0).then_some(cdef.reference);
            if c.is_empty() {
                if cdef.usage == Usage::Required {
                    out.push(ElementError {
                        position: cpos,
                        reference: cref,
                        code: E::RequiredMissing,
                        bad_value: None,
                    });
                }
            } else if cdef.usage == Usage::NotUsed {
                out.push(ElementError { position: cpos, reference: cref, code: E::NotUsedPresent, bad_value: None });
            } else if let Some(code) = check_value(c, cdef, scan.printable()) {
                out.push(ElementError { position: cpos, reference: cref, code, bad_value: bad_copy(code, c) });
            }
        }
        for (ci, cdef) in def.components.iter().enumerate().skip(n) {
            if cdef.usage == Usage::Required {
                let cpos = ElementPosition { element: pos, component: Some((ci + 1) as u8), repetition: None };
                out.push(ElementError {
                    position: cpos,
                    reference: (cdef.reference != 0).then_some(cdef.reference),
                    code: E::RequiredMissing,
                    bad_value: None,
                });
            }
        }
        return;
    }
    if scan.component() && raw.contains(&d.component) {
        out.push(ElementError { position: at, reference, code: E::TooManyComponents, bad_value: None });
        return;
    }
    if def.repeat > 1 {
        for (ri, r) in raw.split(|&b| b == d.repetition).enumerate() {
            let rpos = ElementPosition { element: pos, component: None, repetition: Some((ri + 1).min(99) as u8) };
            if r.is_empty() {
                out.push(ElementError { position: rpos, reference, code: E::RequiredMissing, bad_value: None });
            } else if let Some(code) = check_value(r, def, scan.printable()) {
                out.push(ElementError { position: rpos, reference, code, bad_value: bad_copy(code, r) });
            }
        }
        return;
    }
    if let Some(code) = check_value(raw, def, scan.printable()) {
        out.push(ElementError { position: at, reference, code, bad_value: bad_copy(code, raw) });
    }
}

/// True when `raw`, a value of a date, time or number element in a segment of X12 characters
/// only, checks out. Out of line, and small, so that the element loop stays as tight as it is.
#[inline(never)]
fn scalar_valid(raw: &[u8], def: &El) -> bool {
    check_value(raw, def, true).is_none()
}

/// True when the composite `raw` (present, of a used element, in a segment of X12 characters
/// without repetition separators) has no more components than `components` and each is
/// valid: present where used, absent where not, each value checked out, none required
/// missing. What the general check of a composite finds no error in. Out of line and small,
/// as `scalar_valid`.
#[inline(never)]
fn components_valid(raw: &[u8], sep: u8, def: &El) -> bool {
    let components = def.components;
    // A simple component (see `El::simple`) by the element loop's few compares, which is what
    // the value check comes to for it; any other by the value check.
    #[inline(always)]
    fn valid(cdef: Option<&El>, c: &[u8]) -> bool {
        match cdef {
            None => false,
            Some(cdef) if c.is_empty() => cdef.usage != Usage::Required,
            Some(cdef) if cdef.simple => {
                c.len() >= usize::from(cdef.min)
                    && c.len() <= usize::from(cdef.max)
                    && (cdef.codes.is_empty() || cdef.allows(c))
            }
            Some(cdef) => cdef.usage != Usage::NotUsed && check_value(c, cdef, true).is_none(),
        }
    }
    // Component by component, each found with a search from the last one's end: the loop over
    // all the bytes with an index kept beside them cost three times as much per byte.
    let mut ok = true;
    let mut ci = 0;
    let mut rest = raw;
    loop {
        let (c, next) = match rest.iter().position(|&b| b == sep) {
            Some(i) => (rest.get(..i).unwrap_or_default(), rest.get(i + 1..)),
            None => (rest, None),
        };
        ok &= valid(components.get(ci), c);
        match next {
            Some(next) => {
                rest = next;
                ci += 1;
            }
            None => break,
        }
    }
    ok && ci + 1 >= usize::from(def.required_components)
}

/// True when `raw` has at most `def.repeat` repetitions and each is a valid value of `def` (a
/// string or identifier, in a segment of X12 characters only): what the general check of a
/// repeated element finds no error in.
#[inline]
fn repetitions_valid(raw: &[u8], sep: u8, def: &El) -> bool {
    if std::ptr::eq(def.codes, SERVICE_TYPES) && def.max <= 2 {
        return service_types_valid(raw, sep, def);
    }
    let valid = |v: &[u8]| {
        !v.is_empty()
            && v.len() >= usize::from(def.min)
            && v.len() <= usize::from(def.max)
            && (def.codes.is_empty() || def.allows(v))
    };
    let mut ok = true;
    let mut count = 1;
    let mut from = 0;
    for (i, &b) in raw.iter().enumerate() {
        if b == sep {
            ok &= valid(raw.get(from..i).unwrap_or(b""));
            count += 1;
            from = i + 1;
        }
    }
    ok && valid(raw.get(from..).unwrap_or(b"")) && count <= usize::from(def.repeat)
}

/// [`repetitions_valid`] for service type codes (EQ01), which are at most two characters: each
/// repetition's last two bytes are kept as the bytes go by and looked up in the code table
/// when it ends, instead of cutting each repetition out and matching it as a slice (which cost
/// three times as much per code). The segment is X12 characters only, so every byte is ASCII
/// and none is zero, as the table's look-up needs.
#[inline]
fn service_types_valid(raw: &[u8], sep: u8, def: &El) -> bool {
    let min = usize::from(def.min).max(1);
    let max = usize::from(def.max);
    // Two-byte codes only (the usual EQ01), three bytes at a time: a separator can be no
    // code's byte (it is no letter or digit), so when each pair is a code and each third byte
    // the separator, the walk below would find the same.
    if raw.len() % 3 == 2 && min <= 2 && max >= 2 && raw.len().div_ceil(3) <= usize::from(def.repeat) {
        let mut ok = true;
        for c in raw.chunks(3) {
            ok &= match *c {
                [a, b, s] => s == sep && crate::codes::is_service_type_pair(a, b),
                [a, b] => crate::codes::is_service_type_pair(a, b),
                _ => false,
            };
        }
        if ok {
            return true;
        }
    }
    // One repetition's length and last two bytes (`a` stays 0 for a one-byte code).
    let valid = |a: u8, b: u8, len: usize| len >= min && len <= max && crate::codes::is_service_type_pair(a, b);
    let (mut a, mut b, mut len) = (0, 0, 0);
    let mut ok = true;
    let mut count = 1;
    for &c in raw {
        if c == sep {
            ok &= valid(a, b, len);
            count += 1;
            (a, b, len) = (0, 0, 0);
        } else {
            (a, b, len) = (b, c, len + 1);
        }
    }
    ok && valid(a, b, len) && count <= usize::from(def.repeat)
}

/// Checks one non-empty value against its type, length and code list. `printable` says the
/// caller has already seen that every byte is an X12 character.
// Always inlined (into `check_element`): the compiler kept it out of line, where the call and
// the spills around it cost more than most of the checks.
#[inline(always)]
pub(crate) fn check_value(v: &[u8], def: &El, printable: bool) -> Option<E> {
    if !printable && !v.iter().all(|&b| is_x12_char(b)) {
        return Some(E::InvalidCharacter);
    }
    let len = match def.ty {
        Ty::An | Ty::Id => v.len(),
        Ty::Dt => {
            return (v.len() != 8 || Date::parse_ccyymmdd(v).is_none()).then_some(E::InvalidDate);
        }
        Ty::Tm => return Time::parse(v).is_none().then_some(E::InvalidTime),
        Ty::N0 => {
            let digits = v.strip_prefix(b"-").unwrap_or(v);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Some(E::InvalidCharacter);
            }
            digits.len()
        }
        Ty::R => {
            let body = v.strip_prefix(b"-").unwrap_or(v);
            let dots = body.iter().filter(|&&b| b == b'.').count();
            if body.is_empty() || dots > 1 || !body.iter().all(|&b| b.is_ascii_digit() || b == b'.') || body == b"." {
                return Some(E::InvalidCharacter);
            }
            body.len() - dots
        }
    };
    if len < def.min as usize {
        return Some(E::TooShort);
    }
    if len > def.max as usize {
        return Some(E::TooLong);
    }
    if !def.codes.is_empty() && !def.allows(v) {
        return Some(E::InvalidCode);
    }
    None
}

/// X12 basic and extended character sets: printable 7-bit ASCII.
#[inline]
pub(crate) fn is_x12_char(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

fn bad_copy(code: E, v: &[u8]) -> Option<String> {
    match code {
        E::InvalidCharacter | E::RequiredMissing => None,
        _ => printable(v),
    }
}

pub(crate) fn printable(v: &[u8]) -> Option<String> {
    (!v.is_empty() && v.len() <= 99 && v.iter().all(|&b| is_x12_char(b)))
        .then(|| String::from_utf8_lossy(v).into_owned())
}

fn looks_like_segment_id(id: &[u8]) -> bool {
    (2..=3).contains(&id.len())
        && id[0].is_ascii_uppercase()
        && id.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn show(id: &[u8]) -> String {
    match printable(id) {
        Some(s) if s.len() <= 3 => s,
        _ => "segment".to_string(),
    }
}

fn show_loop(id: &str) -> &str {
    if id.is_empty() { "header" } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Delimiters;

    /// The forward search from the loops' look-up tables finds what the walk over the entries
    /// finds: in every loop, from every entry, for every segment id of the 270 and some that
    /// are not, with known, unknown and missing qualifiers.
    #[test]
    fn table_search_agrees_with_the_walk() {
        let d = Delimiters::default();
        let mut loops: Vec<&'static LoopDef> = vec![];
        fn walk(def: &'static LoopDef, out: &mut Vec<&'static LoopDef>) {
            out.push(def);
            for e in def.entries {
                if let Some(child) = e.child {
                    walk(child, out);
                }
            }
        }
        walk(&TRANSACTION_270, &mut loops);
        let mut ids: Vec<&str> = SEGMENT_IDS_270.to_vec();
        ids.extend(["GS", "XYZ", "", "ABCD", "hl", "N"]);
        let tails = ["", "*R*1", "*PB*2", "*X*3", "*1**20*1", "*2*1*21*1", "*3*2*22*0", "*4*3*23*0", "*1**99*1", "*30"];
        for def in loops {
            for idx in 0..=def.entries.len() {
                let mut frame = Frame::new(def);
                frame.idx = idx;
                for id in &ids {
                    for tail in tails {
                        let raw = format!("{id}{tail}");
                        let mut fields = Fields::default();
                        fields.split(raw.as_bytes(), d.element);
                        let slot = id_slot(fields.key);
                        let slot = (SLOT_KEYS[slot] == fields.key).then_some(slot);
                        assert_eq!(
                            find_forward(&frame, &fields, slot),
                            find(&frame, &fields, true),
                            "{} {idx} {raw}",
                            def.id
                        );
                    }
                }
            }
        }
    }

    /// EQ01's check three bytes at a time agrees with the check of each repetition on its own,
    /// for lists of one- and two-byte codes, valid or not, with separators anywhere.
    #[test]
    fn service_types_agree_with_each_repetition() {
        let def = &crate::schema::EQ_2110C.elements[0];
        let sep = b'^';
        let pieces: &[&[u8]] = &[b"30", b"1", b"A7", b"ZZ", b"Q9", b"", b"3", b"300", b"^", b"BG", b"7"];
        let mut inputs: Vec<Vec<u8>> = vec![];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    inputs.push([*a, b"^", b, b"^", c].concat());
                    inputs.push([*a, *b, b"^", c].concat());
                    inputs.push([*a, b"^", b].concat());
                    inputs.push([*a, *b, *c].concat());
                }
            }
        }
        inputs.push([b"30^".repeat(98).as_slice(), b"30"].concat());
        inputs.push([b"30^".repeat(99).as_slice(), b"30"].concat());
        for raw in &inputs {
            let reps: Vec<&[u8]> = raw.split(|&b| b == sep).collect();
            let want = reps.len() <= usize::from(def.repeat)
                && reps.iter().all(|r| !r.is_empty() && r.len() <= 2 && crate::codes::is_service_type(r));
            assert_eq!(service_types_valid(raw, sep, def), want, "{}", String::from_utf8_lossy(raw));
        }
    }

    /// The word-at-a-time scan agrees with a byte loop for every length around the word size
    /// and every position of a separator, a control byte, DEL or a non-ASCII byte.
    #[test]
    fn scan_agrees_with_a_byte_loop() {
        let d = Delimiters::default();
        for len in 0..100usize {
            for at in 0..len.max(1) {
                for odd in [d.repetition, d.component, 0x00, 0x1f, 0x7f, 0x80, 0xff, b'A'] {
                    let mut raw: Vec<u8> = (0..len).map(|i| b'A' + (i % 26) as u8).collect();
                    if let Some(b) = raw.get_mut(at) {
                        *b = odd;
                    }
                    // Alone, and as the start of a longer input.
                    let seg = Segment::new(&raw, d, 0);
                    let mut input = raw.clone();
                    input.extend_from_slice(&[d.repetition, d.component, 0x00, 0xff].repeat(5));
                    let scan = Scan::of(&seg, &raw);
                    assert_eq!(scan.flags, Scan::of(&Segment::new(&input[..raw.len()], d, 0), &input).flags);
                    assert_eq!(scan.printable(), raw.iter().all(|&b| is_x12_char(b)), "{raw:?}");
                    assert_eq!(scan.repetition(), raw.contains(&d.repetition), "{raw:?}");
                    assert_eq!(scan.component(), raw.contains(&d.component), "{raw:?}");
                }
            }
        }
    }
}
