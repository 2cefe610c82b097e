use serde::Serialize;

/// The four separators of an interchange. They are read from the ISA and used again for every
/// answer to it, so a submitter gets its reply in the delimiters it chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Delimiters {
    pub element: u8,
    pub repetition: u8,
    pub component: u8,
    pub segment: u8,
}

impl Default for Delimiters {
    /// The delimiters of the CMS samples: `*`, `^`, `|`, `~`.
    fn default() -> Self {
        Delimiters { element: b'*', repetition: b'^', component: b'|', segment: b'~' }
    }
}

impl Delimiters {
    /// True when `b` may serve as a separator: not a letter, digit or space (data uses those),
    /// and 7-bit.
    pub fn usable(b: u8) -> bool {
        b.is_ascii() && !b.is_ascii_alphanumeric() && b != b' '
    }

    /// True when the four are distinct and each is usable.
    pub fn are_valid(&self) -> bool {
        let all = [self.element, self.repetition, self.component, self.segment];
        all.iter().enumerate().all(|(i, a)| Self::usable(*a) && !all[i + 1..].contains(a))
    }

    /// True when `b` is one of the four separators.
    #[inline]
    pub fn is_delimiter(&self, b: u8) -> bool {
        b == self.element || b == self.repetition || b == self.component || b == self.segment
    }
}
