//! Zero-copy tokenizer: segments, elements, repetitions and components are slices of the input.

use crate::Delimiters;
use memchr::memchr;

/// The first `b` in `hay`. Elements and components are a few bytes long, where a plain loop
/// beats `memchr`'s vector set-up; segments are found with `memchr` over the whole input.
#[inline]
fn find_byte(b: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&x| x == b)
}

/// One segment: its bytes (without the terminator), the delimiters, and where it starts.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    raw: &'a [u8],
    delims: Delimiters,
    /// Byte offset of the segment in the input, for error reports.
    offset: usize,
}

impl<'a> Segment<'a> {
    pub fn new(raw: &'a [u8], delims: Delimiters, offset: usize) -> Self {
        Segment { raw, delims, offset }
    }

    /// The segment bytes without the terminator.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn delimiters(&self) -> Delimiters {
        self.delims
    }

    /// The segment identifier (the bytes before the first element separator).
    pub fn id(&self) -> &'a [u8] {
        match find_byte(self.delims.element, self.raw) {
            Some(i) => &self.raw[..i],
            None => self.raw,
        }
    }

    /// Iterates the data elements after the id: element 1, 2, ...
    pub fn elements(&self) -> ElementIter<'a> {
        let rest = find_byte(self.delims.element, self.raw).map(|i| &self.raw[i + 1..]);
        ElementIter { rest, sep: self.delims.element, delims: self.delims }
    }

    /// Element `n` (1-based, as X12 counts); empty when absent.
    pub fn element(&self, n: usize) -> Element<'a> {
        self.elements().nth(n.wrapping_sub(1)).unwrap_or(Element { raw: b"", delims: self.delims })
    }

    /// Splits into a fixed array of the first `N` elements (absent ones empty) and the number of
    /// elements actually present. No allocation.
    /// Fills `out` with the first `out.len()` elements (absent ones empty) and returns the number
    /// of elements present. The in-place form of [`Segment::fields`] for hot paths.
    #[inline]
    pub fn fill(&self, out: &mut [&'a [u8]]) -> usize {
        let mut count = 0;
        for (i, e) in self.elements().enumerate() {
            if let Some(slot) = out.get_mut(i) {
                *slot = e.raw;
            }
            count = i + 1;
        }
        count
    }

    #[inline]
    pub fn fields<const N: usize>(&self) -> ([&'a [u8]; N], usize) {
        let mut out: [&'a [u8]; N] = [b""; N];
        let mut count = 0;
        for (i, e) in self.elements().enumerate() {
            if i < N {
                out[i] = e.raw;
            }
            count = i + 1;
        }
        (out, count)
    }
}

/// One data element: simple, composite or repeated. Its bytes exclude separators.
#[derive(Clone, Copy, Debug)]
pub struct Element<'a> {
    raw: &'a [u8],
    delims: Delimiters,
}

impl<'a> Element<'a> {
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The repetitions of this element (one when it does not repeat).
    pub fn repetitions(&self) -> impl Iterator<Item = Element<'a>> + 'a {
        let delims = self.delims;
        split(self.raw, delims.repetition).map(move |raw| Element { raw, delims })
    }

    /// The components of this (composite) element.
    pub fn components(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        split(self.raw, self.delims.component)
    }
}

pub struct ElementIter<'a> {
    rest: Option<&'a [u8]>,
    sep: u8,
    delims: Delimiters,
}

impl<'a> Iterator for ElementIter<'a> {
    type Item = Element<'a>;

    #[inline]
    fn next(&mut self) -> Option<Element<'a>> {
        let rest = self.rest?;
        match find_byte(self.sep, rest) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(Element { raw: &rest[..i], delims: self.delims })
            }
            None => {
                self.rest = None;
                Some(Element { raw: rest, delims: self.delims })
            }
        }
    }
}

fn split(raw: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(raw);
    std::iter::from_fn(move || {
        let r = rest?;
        match find_byte(sep, r) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Elements kept by [`Fields`]: the most a 270 segment may carry (INS has 17), plus one to
/// see that there are too many.
pub(crate) const MAX_FIELDS: usize = 18;

/// One segment split at its element separators once, for the validator and the decoder both
/// (each used to split it again). Reused from segment to segment: only the first `count`
/// elements belong to the current segment, so nothing is cleared between segments.
pub(crate) struct Fields<'a> {
    raw: &'a [u8],
    /// The segment identifier and its [`id_key`].
    pub id: &'a [u8],
    pub key: u32,
    /// Where each piece ends (piece 0 is the id, piece 1 element 1...): a separator's position,
    /// or the segment's length for the last piece. Piece `k` starts after piece `k - 1`'s end.
    /// Only positions are written while splitting; slices are cut when read.
    ends: [usize; MAX_FIELDS + 1],
    /// Elements present (may exceed `MAX_FIELDS`).
    pub count: usize,
    /// The input from the segment's first byte on, when the split had it (else the segment):
    /// the validator's scan reads a short segment's bytes as one word from here.
    pub tail: &'a [u8],
    /// Set by the caller when it knows the segment to be X12 characters only, without a
    /// repetition or component separator (see [`CleanSpans`]): the validator then skips its
    /// scan of the segment's bytes. Never set by a split.
    pub clean: bool,
}

impl<'a> Default for Fields<'a> {
    fn default() -> Self {
        Fields { raw: b"", id: b"", key: 0, ends: [0; MAX_FIELDS + 1], count: 0, tail: b"", clean: false }
    }
}

/// What one pass over the segments' bytes tells about each segment: where the input's first
/// repetition or component separator is, and whether the input before it is X12 characters
/// only. A segment that ends before that separator is then clean, which is most of a 270's
/// (the separators first come in its EQs): one vectorised pass and one search instead of a
/// scan per segment.
pub(crate) struct CleanSpans {
    /// Segments ending here or before are clean (0 when the input up to the first separator
    /// is not all printable: CR/LF between segments, or a control or non-ASCII byte, make every
    /// segment take its scan).
    clean: usize,
}

impl CleanSpans {
    pub fn new(input: &[u8], delims: Delimiters) -> CleanSpans {
        let first = memchr::memchr2(delims.repetition, delims.component, input).unwrap_or(input.len());
        // Trailing line breaks after the IEA are no segment's bytes.
        let body = input.get(..first).unwrap_or(input).trim_ascii_end();
        // One fold the compiler vectorises (straight words of sixteen lanes did worse here).
        let printable = body.iter().fold(true, |ok, &b| ok & (0x20..=0x7e).contains(&b));
        CleanSpans { clean: if printable { body.len() } else { 0 } }
    }

    /// Whether the segment of `len` bytes at `start` is clean.
    #[inline]
    pub fn covers(&self, start: usize, len: usize) -> bool {
        start + len <= self.clean
    }
}

impl<'a> Fields<'a> {
    /// Splits `raw` (one segment without its terminator) at `sep`.
    ///
    /// Eight bytes at a time: a word's separators come out of one bit trick, so the cost is per
    /// word and per element rather than per byte (a byte loop here cost more than the rest of
    /// the element checks).
    #[inline]
    pub fn split(&mut self, raw: &'a [u8], sep: u8) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let pattern = ONES * u64::from(sep);
        // Separators found so far.
        let mut n = 0;
        let mut base = 0;
        let mut words = raw.chunks_exact(8);
        for word in &mut words {
            let Ok(bytes) = <[u8; 8]>::try_from(word) else { break };
            let mut marks = zero_bytes(u64::from_le_bytes(bytes) ^ pattern);
            while marks != 0 {
                if let Some(end) = self.ends.get_mut(n) {
                    *end = base + (marks.trailing_zeros() / 8) as usize;
                }
                n += 1;
                marks &= marks - 1;
            }
            base += 8;
        }
        for (k, &b) in words.remainder().iter().enumerate() {
            if b == sep {
                if let Some(end) = self.ends.get_mut(n) {
                    *end = base + k;
                }
                n += 1;
            }
        }
        if let Some(end) = self.ends.get_mut(n) {
            *end = raw.len();
        }
        self.raw = raw;
        self.tail = raw;
        self.count = n;
        self.id = raw.get(..self.ends[0]).unwrap_or(raw);
        self.key = id_key(self.id);
    }

    /// Finds the segment that starts at `start` in `input` (it ends at the first `terminator`
    /// or with the input) and splits it at `sep`, as [`Fields::split`] does, in the same pass:
    /// the terminator's search over the input was a `memchr` call per segment, which for
    /// segments of a few dozen bytes cost as much as the split, and the split's byte loop over
    /// a segment's last bytes is spared (the words read on past the segment's end are the
    /// input's, and what lies beyond the terminator is masked off). Returns where the segment
    /// ends, as an offset in `input`.
    #[inline]
    pub fn split_next(&mut self, input: &'a [u8], start: usize, sep: u8, terminator: u8) -> usize {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let rest = input.get(start..).unwrap_or(b"");
        let separators = ONES * u64::from(sep);
        let terminators = ONES * u64::from(terminator);
        // Separators found so far.
        let mut n = 0;
        let mut base = 0;
        // One word: its separators recorded (only those before the terminator, when it holds
        // one), and where the segment ends when it does.
        let mut word = |x: u64, base: usize, n: &mut usize| -> Option<usize> {
            let marks = zero_bytes(x ^ separators);
            // Whether the word holds the terminator, and the lowest one: the cheap zero-byte
            // test may mark a byte above a real match, never one below, so its lowest mark is
            // exact.
            let t = x ^ terminators;
            let stop = t.wrapping_sub(ONES) & !t & HIGH;
            if stop != 0 {
                // Separators past the terminator belong to later segments. (Only in the last
                // word: masking every word cost a few instructions a word for nothing.)
                let at = stop.trailing_zeros();
                record(&mut self.ends, n, base, marks & ((1 << at) - 1));
                return Some(base + (at / 8) as usize);
            }
            record(&mut self.ends, n, base, marks);
            None
        };
        let mut len = None;
        // Two words a round (the loop's own count and bounds once for both).
        let mut pairs = rest.chunks_exact(16);
        for pair in &mut pairs {
            let (Some(a), Some(b)) = (pair.first_chunk::<8>(), pair.last_chunk::<8>()) else { break };
            len = word(u64::from_le_bytes(*a), base, &mut n);
            if len.is_some() {
                break;
            }
            len = word(u64::from_le_bytes(*b), base + 8, &mut n);
            if len.is_some() {
                break;
            }
            base += 16;
        }
        let mut tail = pairs.remainder();
        if len.is_none()
            && let Some((a, more)) = tail.split_first_chunk::<8>()
        {
            len = word(u64::from_le_bytes(*a), base, &mut n);
            base += 8;
            tail = more;
        }
        let len = match len {
            Some(len) => len,
            None => {
                // The input's last bytes, fewer than a word.
                let mut len = rest.len();
                for (k, &b) in tail.iter().enumerate() {
                    if b == terminator {
                        len = base + k;
                        break;
                    }
                    if b == sep {
                        if let Some(end) = self.ends.get_mut(n) {
                            *end = base + k;
                        }
                        n += 1;
                    }
                }
                len
            }
        };
        if let Some(end) = self.ends.get_mut(n) {
            *end = len;
        }
        let raw = rest.get(..len).unwrap_or(rest);
        self.raw = raw;
        self.tail = rest;
        self.count = n;
        self.id = raw.get(..self.ends[0]).unwrap_or(raw);
        self.key = id_key(self.id);
        start + len
    }

    /// Only the segment's id and its key: no element is read (each reads empty) until a
    /// [`Fields::split`].
    #[inline]
    pub fn split_id(&mut self, raw: &'a [u8], sep: u8) {
        self.raw = raw;
        self.tail = raw;
        self.count = 0;
        self.id = match find_byte(sep, raw) {
            Some(i) => &raw[..i],
            None => raw,
        };
        self.key = id_key(self.id);
    }

    /// Element `n` (0-based: 0 is element 1); empty when absent or past [`MAX_FIELDS`].
    #[inline]
    pub fn get(&self, n: usize) -> &'a [u8] {
        match self.range(n) {
            Some((start, end)) => self.raw.get(start..end).unwrap_or(b""),
            None => b"",
        }
    }

    /// The segment as split.
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The ends of the pieces kept (the id and each element present, up to [`MAX_FIELDS`]):
    /// element `n` lies between `ends[n] + 1` and `ends[n + 1]`.
    #[inline]
    pub fn element_ends(&self) -> &[usize] {
        self.ends.get(..=self.count.min(MAX_FIELDS)).unwrap_or_default()
    }

    /// Where element `n` (0-based) lies in the segment.
    #[inline]
    fn range(&self, n: usize) -> Option<(usize, usize)> {
        if n >= self.count {
            return None;
        }
        let start = *self.ends.get(n)? + 1;
        let end = *self.ends.get(n + 1)?;
        Some((start, end))
    }

    /// Element `n` as text, given a text that holds the segment's bytes from offset `at` on
    /// (the interchange's text and the segment's offset in it, or the segment's text and 0).
    #[inline]
    pub fn text_at(&self, text: &'a str, at: usize, n: usize) -> &'a str {
        match self.range(n) {
            // An empty element (a third of those a 270 reads) is told by its ends alone: the
            // cut's bounds and char boundary checks would only give an empty text too.
            Some((start, end)) if start < end => text.get(at + start..at + end).unwrap_or(""),
            _ => "",
        }
    }

    /// Element `n` as text, given the segment as text (`seg_text` is the same bytes as the
    /// `raw` that was split, so the element's offsets hold for it).
    #[inline]
    pub fn text(&self, seg_text: &'a str, n: usize) -> &'a str {
        match self.range(n) {
            Some((start, end)) => seg_text.get(start..end).unwrap_or(""),
            None => "",
        }
    }
}

/// Records the separators marked in one word (the high bit of each separator byte) as piece
/// ends, from `base` on, counting them in `n`.
#[inline(always)]
fn record(ends: &mut [usize; MAX_FIELDS + 1], n: &mut usize, base: usize, mut marks: u64) {
    while marks != 0 {
        if let Some(end) = ends.get_mut(*n) {
            *end = base + (marks.trailing_zeros() / 8) as usize;
        }
        *n += 1;
        marks &= marks - 1;
    }
}

/// The high bit of each byte of `x` that is zero, and no other bit. Exact for every byte (the
/// plain `(x - 0x01..) & !x & 0x80..` trick may also mark a byte above a zero one).
#[inline(always)]
fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// A segment id packed into a `u32` (bytes and length), so that the schema search compares one
/// integer per candidate instead of two slices. Ids longer than three bytes (none in X12) get
/// 0, which no schema id has.
#[inline]
pub(crate) const fn id_key(id: &[u8]) -> u32 {
    match *id {
        [a] => (1 << 24) | a as u32,
        [a, b] => (2 << 24) | (b as u32) << 8 | a as u32,
        [a, b, c] => (3 << 24) | (c as u32) << 16 | (b as u32) << 8 | a as u32,
        _ => 0,
    }
}

/// Splits `input` into segments. Line breaks (CR, LF) between a terminator and the next segment
/// are skipped, as senders often add them for readability. A trailing fragment without a
/// terminator is returned as a last segment; the envelope check reports it.
pub fn tokenize(input: &[u8], delims: Delimiters) -> Segments<'_> {
    Segments { input, pos: 0, delims }
}

/// Iterator over the segments of an input.
#[derive(Clone)]
pub struct Segments<'a> {
    input: &'a [u8],
    pos: usize,
    delims: Delimiters,
}

impl<'a> Segments<'a> {
    /// True when the last segment returned was not closed by a terminator.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Segments<'a> {
    /// The next segment, split at `sep` into `fields` by the pass that finds its end (see
    /// [`Fields::split_next`]): [`Iterator::next`] followed by [`Fields::split`], in one.
    #[inline]
    pub(crate) fn next_split(&mut self, fields: &mut Fields<'a>, sep: u8) -> Option<Segment<'a>> {
        let input = self.input;
        let start = self.skip_line_breaks();
        if start >= input.len() {
            self.pos = input.len();
            return None;
        }
        let end = fields.split_next(input, start, sep, self.delims.segment);
        self.pos = if end < input.len() { end + 1 } else { input.len() };
        Some(Segment { raw: fields.raw, delims: self.delims, offset: start })
    }

    /// Where the next segment starts: past the line breaks after the last terminator.
    #[inline]
    fn skip_line_breaks(&self) -> usize {
        let input = self.input;
        let mut start = self.pos;
        while start < input.len() && matches!(input[start], b'\r' | b'\n') && input[start] != self.delims.segment {
            start += 1;
        }
        start
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    #[inline]
    fn next(&mut self) -> Option<Segment<'a>> {
        let input = self.input;
        let start = self.skip_line_breaks();
        if start >= input.len() {
            self.pos = input.len();
            return None;
        }
        let (end, next) = match memchr(self.delims.segment, &input[start..]) {
            Some(i) => (start + i, start + i + 1),
            None => (input.len(), input.len()),
        };
        self.pos = next;
        Some(Segment { raw: &input[start..end], delims: self.delims, offset: start })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_segments_elements_repetitions_components() {
        let d = Delimiters::default();
        let input = b"EQ*30^42^A7~\r\nEQ**HC|80061~";
        let segs: Vec<_> = tokenize(input, d).collect();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].id(), b"EQ");
        let reps: Vec<_> = segs[0].element(1).repetitions().map(|e| e.raw()).collect();
        assert_eq!(reps, vec![&b"30"[..], b"42", b"A7"]);
        assert!(segs[1].element(1).is_empty());
        let comps: Vec<_> = segs[1].element(2).components().collect();
        assert_eq!(comps, vec![&b"HC"[..], b"80061"]);
        let (f, n) = segs[1].fields::<4>();
        assert_eq!(n, 2);
        assert_eq!(f[1], b"HC|80061");
        assert_eq!(segs[1].offset(), 14);
    }

    #[test]
    fn fields_split_like_the_element_iterator() {
        let d = Delimiters::default();
        // Every arrangement of separators over lengths either side of the eight-byte words,
        // including more elements than `MAX_FIELDS`.
        let mut cases: Vec<Vec<u8>> = vec![b"".to_vec(), b"ST".to_vec(), b"*".to_vec(), b"**".to_vec()];
        for len in 0..40usize {
            for stride in 1..6usize {
                let raw: Vec<u8> =
                    (0..len).map(|i| if i % stride == stride - 1 { b'*' } else { b'A' + (i % 26) as u8 }).collect();
                cases.push(raw);
            }
        }
        cases.push([b"INS".as_slice(), &b"*Y".repeat(25)].concat());
        cases.push(vec![0x80, b'*', 0xff, 0x2a, 0xaa, b'*', 0x00, b'*', 0x2a ^ 0x80]);
        let mut f = Fields::default();
        for raw in &cases {
            let seg = Segment::new(raw, d, 0);
            f.split(raw, d.element);
            assert_eq!(f.id, seg.id(), "{raw:?}");
            assert_eq!(f.key, id_key(seg.id()), "{raw:?}");
            let want: Vec<&[u8]> = seg.elements().map(|e| e.raw()).collect();
            assert_eq!(f.count, want.len(), "{raw:?}");
            for (i, w) in want.iter().enumerate().take(MAX_FIELDS) {
                assert_eq!(f.get(i), *w, "{raw:?} {i}");
                let text = String::from_utf8_lossy(raw);
                if text.len() == raw.len() {
                    assert_eq!(f.text(&text, i).as_bytes(), *w, "{raw:?} {i}");
                }
            }
            assert_eq!(f.get(want.len()), b"");
            assert_eq!(f.get(MAX_FIELDS + 3), b"");
        }
    }

    /// Finding and splitting a segment in one pass gives what finding it and then splitting it
    /// gives: for every segment length around the word size, separators and terminators at
    /// every position, line breaks between segments, and an input that ends without one.
    #[test]
    fn one_pass_split_agrees_with_find_then_split() {
        let d = Delimiters::default();
        let mut inputs: Vec<Vec<u8>> = vec![b"".to_vec(), b"~".to_vec(), b"~~".to_vec(), b"\r\n".to_vec()];
        for len in 0..40usize {
            for stride in 1..6usize {
                for term_every in [3usize, 7, 8, 9, 17, 100] {
                    let raw: Vec<u8> = (0..len)
                        .map(|i| match i {
                            _ if i % term_every == term_every - 1 => b'~',
                            _ if i % stride == stride - 1 => b'*',
                            _ if i % 11 == 10 => b'\n',
                            _ => b'A' + (i % 26) as u8,
                        })
                        .collect();
                    inputs.push(raw);
                }
            }
        }
        inputs.push([b"INS".as_slice(), &b"*Y".repeat(25), b"~SE*1~"].concat());
        inputs.push(vec![0x80, b'*', 0xff, 0x2a, 0xaa, b'*', 0x00, b'~', 0x7e ^ 0x80, b'*', 0x7f, b'~', 0x2a]);
        inputs.push(b"A*\x01~*\x7f*\x2b~\x7f\x7e\x7d*".to_vec());
        for input in &inputs {
            let mut one = tokenize(input, d);
            let mut two = tokenize(input, d);
            let mut f1 = Fields::default();
            let mut f2 = Fields::default();
            loop {
                let a = one.next_split(&mut f1, d.element);
                let b = two.next();
                match (a, b) {
                    (None, None) => break,
                    (Some(a), Some(b)) => {
                        f2.split(b.raw(), d.element);
                        assert_eq!((a.raw(), a.offset()), (b.raw(), b.offset()), "{input:?}");
                        assert_eq!((f1.id, f1.key, f1.count), (f2.id, f2.key, f2.count), "{input:?}");
                        for i in 0..MAX_FIELDS + 2 {
                            assert_eq!(f1.get(i), f2.get(i), "{input:?} {i}");
                        }
                    }
                    (a, b) => panic!("{input:?}: {a:?} {b:?}"),
                }
                assert_eq!(one.position(), two.position(), "{input:?}");
            }
        }
    }

    /// A segment said clean is X12 characters only, without a repetition or component
    /// separator, for separators, controls and line breaks anywhere.
    #[test]
    fn clean_spans_only_cover_clean_segments() {
        let d = Delimiters::default();
        let base = b"ST*270*1~BHT*0022*13~EQ*30^42~EQ**HC|X~SE*5*1~GE*1*1~".to_vec();
        let mut covered = 0;
        for at in 0..base.len() {
            for odd in [b'^', b'|', b'\n', 0x01, 0x7f, 0xc3, b'A', b'~', b'*'] {
                let mut input = base.clone();
                input[at] = odd;
                for tail in [&b""[..], b"\r\n", b" x"] {
                    let mut input = input.clone();
                    input.extend_from_slice(tail);
                    let spans = CleanSpans::new(&input, d);
                    for seg in tokenize(&input, d) {
                        if spans.covers(seg.offset(), seg.raw().len()) {
                            covered += 1;
                            assert!(
                                seg.raw().iter().all(|&b| (0x20..=0x7e).contains(&b) && b != b'^' && b != b'|'),
                                "{input:?} {:?}",
                                seg.raw()
                            );
                        }
                    }
                }
            }
        }
        assert!(covered > 1000);
    }

    #[test]
    fn unterminated_tail_is_a_segment() {
        let segs: Vec<_> = tokenize(b"SE*3*0001~GE*1", Delimiters::default()).collect();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[1].raw(), b"GE*1");
    }
}
