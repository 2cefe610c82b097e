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

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    #[inline]
    fn next(&mut self) -> Option<Segment<'a>> {
        let input = self.input;
        let mut start = self.pos;
        while start < input.len() && matches!(input[start], b'\r' | b'\n') && input[start] != self.delims.segment {
            start += 1;
        }
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
    fn unterminated_tail_is_a_segment() {
        let segs: Vec<_> = tokenize(b"SE*3*0001~GE*1", Delimiters::default()).collect();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[1].raw(), b"GE*1");
    }
}
