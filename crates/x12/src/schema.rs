//! The 005010X279A1 270 as tables: loops, segments, elements. The validator walks these; the
//! decoder learns from the matched [`Slot`] what each segment means.

use crate::codes::SERVICE_TYPES;
use crate::segment::id_key;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    Required,
    Situational,
    NotUsed,
}

/// X12 data element types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// String (basic and extended character sets).
    An,
    /// Identifier from a code list.
    Id,
    /// Date CCYYMMDD.
    Dt,
    /// Time HHMM[SS[D[D]]].
    Tm,
    /// Integer without implied decimals.
    N0,
    /// Decimal number.
    R,
}

/// One simple element, or one component of a composite.
#[derive(Debug)]
pub struct El {
    pub usage: Usage,
    pub ty: Ty,
    pub min: u16,
    pub max: u16,
    /// Data element reference number (IK402).
    pub reference: u16,
    /// Allowed codes; empty means any value of the type.
    pub codes: &'static [&'static str],
    /// `codes` packed for the value check.
    pub keys: CodeKeys,
    /// A used, simple, non-repeating string or identifier: a present value of it is valid when
    /// its length is in range and its code (if any) in the list, given a segment without
    /// repetition or component separators and of X12 characters only.
    pub simple: bool,
    /// A used, non-repeating element of a type other than string or identifier (date, time,
    /// number): a present value of it is valid when the validator's value check finds no fault,
    /// given a segment without repetition or component separators and of X12 characters only.
    pub scalar: bool,
    /// How many repetitions are allowed (1 = does not repeat).
    pub repeat: u8,
    /// Components, when this element is a composite.
    pub components: &'static [El],
    /// One past the last required component (0 when none is): a composite with at least this
    /// many components misses none that is required.
    pub required_components: u8,
}

/// One past the last required element of `elements` (0 when none is).
const fn required_prefix(elements: &[El]) -> u8 {
    let mut n = elements.len();
    while n > 0 {
        if matches!(elements[n - 1].usage, Usage::Required) {
            break;
        }
        n -= 1;
    }
    n as u8
}

const fn el(usage: Usage, ty: Ty, min: u16, max: u16, reference: u16, codes: &'static [&'static str]) -> El {
    let simple = !matches!(usage, Usage::NotUsed) && matches!(ty, Ty::An | Ty::Id);
    let scalar = !matches!(usage, Usage::NotUsed) && !matches!(ty, Ty::An | Ty::Id);
    El {
        usage,
        ty,
        min,
        max,
        reference,
        codes,
        keys: CodeKeys::pack(codes),
        simple,
        scalar,
        repeat: 1,
        components: &[],
        required_components: 0,
    }
}

/// Codes kept by [`CodeKeys`]: the longest list the value checks meet often has 16.
const MAX_KEYS: usize = 16;

/// A code list as [`id_key`]s, for the check of each coded value: the value's key against a
/// fixed array, all compared without a branch (a few vector compares), where a search of the
/// list compared strings one code at a time and cost more than the rest of the element check.
/// A list with more than [`MAX_KEYS`] codes or a code longer than three bytes is not packed and
/// is searched as before.
#[derive(Debug)]
pub struct CodeKeys {
    packed: bool,
    /// The codes' keys; unused slots are 0, which no value's key is.
    keys: [u32; MAX_KEYS],
}

impl CodeKeys {
    const fn pack(codes: &[&str]) -> CodeKeys {
        let unpacked = CodeKeys { packed: false, keys: [0; MAX_KEYS] };
        if codes.len() > MAX_KEYS {
            return unpacked;
        }
        let mut keys = [0; MAX_KEYS];
        let mut i = 0;
        while i < codes.len() {
            let key = id_key(codes[i].as_bytes());
            if key == 0 {
                return unpacked;
            }
            keys[i] = key;
            i += 1;
        }
        CodeKeys { packed: true, keys }
    }
}

impl El {
    /// True when `value` is one of the element's codes (`codes` must not be empty).
    // Always inlined: it runs inside the validator's element loop for every coded value.
    #[inline(always)]
    pub fn allows(&self, value: &[u8]) -> bool {
        if self.keys.packed {
            // A value of four bytes or more has key 0 and matches no code of a packed list.
            let key = id_key(value);
            key != 0 && self.keys.keys.iter().fold(false, |hit, &k| hit | (k == key))
        } else {
            crate::codes::in_list(self.codes, value)
        }
    }
}
const fn req(ty: Ty, min: u16, max: u16, reference: u16) -> El {
    el(Usage::Required, ty, min, max, reference, &[])
}
const fn sit(ty: Ty, min: u16, max: u16, reference: u16) -> El {
    el(Usage::Situational, ty, min, max, reference, &[])
}
const fn req_id(reference: u16, min: u16, max: u16, codes: &'static [&'static str]) -> El {
    el(Usage::Required, Ty::Id, min, max, reference, codes)
}
const fn sit_id(reference: u16, min: u16, max: u16, codes: &'static [&'static str]) -> El {
    el(Usage::Situational, Ty::Id, min, max, reference, codes)
}
const fn unused(reference: u16) -> El {
    el(Usage::NotUsed, Ty::An, 0, 0, reference, &[])
}
const fn composite(usage: Usage, reference: u16, components: &'static [El]) -> El {
    El {
        usage,
        ty: Ty::An,
        min: 0,
        max: 0,
        reference,
        codes: &[],
        keys: CodeKeys::pack(&[]),
        simple: false,
        scalar: false,
        repeat: 1,
        components,
        required_components: required_prefix(components),
    }
}

/// Which decoded field a segment fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    St,
    Bht,
    Se,
    Hl2000A,
    Nm1Source,
    Hl2000B,
    Nm1Receiver,
    RefReceiver,
    N3Receiver,
    N4Receiver,
    PrvReceiver,
    Hl2000C,
    Trn,
    Nm1Subscriber,
    RefSubscriber,
    N3Subscriber,
    N4Subscriber,
    PrvSubscriber,
    Dmg,
    Ins,
    Hi,
    DtpSubscriber,
    Eq,
    AmtSpendDown,
    AmtBilled,
    Iii,
    RefInquiry,
    DtpInquiry,
    /// A segment of a loop this implementation refuses (2000D); validated for structure only.
    Refused,
}

#[derive(Debug)]
pub struct Seg {
    pub id: &'static str,
    pub elements: &'static [El],
    pub slot: Slot,
    /// When two entries share a segment id in one loop (AMT), the element and codes that tell
    /// them apart.
    pub qualifier: Option<(usize, &'static [&'static str])>,
}

#[derive(Debug)]
pub struct Entry {
    pub seg: &'static Seg,
    /// `seg.id` packed by [`id_key`], for the search that places each segment.
    pub key: u32,
    pub usage: Usage,
    /// Maximum use of the segment, or maximum repeat of the loop it starts.
    pub max: u16,
    /// Set when this entry is a loop started by `seg`.
    pub child: Option<&'static LoopDef>,
    /// One past the segment's last required element: a segment with at least this many
    /// elements misses none that is required.
    pub required_elements: u8,
}

#[derive(Debug)]
pub struct LoopDef {
    pub id: &'static str,
    pub entries: &'static [Entry],
    /// False for loops the implementation refuses as a whole: their content is not checked
    /// element by element, the refusal is reported once at the loop's first segment.
    pub check_elements: bool,
    /// Bit `j` is set when entry `j` is required: the validator's search for required entries
    /// that never occurred looks at its loops' masks first, and most searches end there.
    pub required: u16,
    /// `next[s][id_slot(key)]`: the first entry at or after `s` whose segment has that key, or
    /// [`NO_ENTRY`]. The validator's forward search is one look-up per loop level instead of a
    /// walk over the entries.
    pub next: [[u8; ID_SLOTS]; 16],
}

/// In [`LoopDef::next`]: no entry.
pub const NO_ENTRY: u8 = u8::MAX;

/// Slots of the segment id hash: each id of [`SEGMENT_IDS_270`] has one of its own.
pub const ID_SLOTS: usize = 32;

/// A segment id's [`id_key`] to its slot. The multiplier was searched for so that the 270's
/// seventeen ids land in distinct slots ([`SLOT_KEYS`] checks it when compiled).
#[inline]
pub const fn id_slot(key: u32) -> usize {
    (key.wrapping_mul(0x6be3_02d5) >> 27) as usize
}

/// The key of the id in each slot (0 for a slot no id has): a segment whose key is not in its
/// slot is no segment of the 270.
pub static SLOT_KEYS: [u32; ID_SLOTS] = {
    let mut keys = [0; ID_SLOTS];
    let mut i = 0;
    while i < SEGMENT_IDS_270.len() {
        let key = schema_key(SEGMENT_IDS_270[i]);
        assert!(keys[id_slot(key)] == 0, "two segment ids share a slot: pick another multiplier");
        keys[id_slot(key)] = key;
        i += 1;
    }
    keys
};

impl LoopDef {
    const fn new(id: &'static str, check_elements: bool, entries: &'static [Entry]) -> LoopDef {
        assert!(entries.len() <= 16, "a loop's required mask has sixteen bits");
        let mut required = 0;
        let mut j = 0;
        while j < entries.len() {
            if matches!(entries[j].usage, Usage::Required) {
                required |= 1 << j;
            }
            j += 1;
        }
        let mut next = [[NO_ENTRY; ID_SLOTS]; 16];
        let mut from = entries.len();
        while from > 0 {
            from -= 1;
            // From `from` on, as from `from + 1` on, except for the entry at `from` itself.
            if from + 1 < 16 {
                next[from] = next[from + 1];
            }
            let key = entries[from].key;
            assert!(SLOT_KEYS[id_slot(key)] == key, "every schema segment id is in SEGMENT_IDS_270");
            next[from][id_slot(key)] = from as u8;
        }
        LoopDef { id, entries, check_elements, required, next }
    }
}

const fn seg(seg: &'static Seg, usage: Usage, max: u16) -> Entry {
    let required_elements = required_prefix(seg.elements);
    Entry { seg, key: schema_key(seg.id), usage, max, child: None, required_elements }
}
const fn lp(seg: &'static Seg, usage: Usage, max: u16, child: &'static LoopDef) -> Entry {
    let required_elements = required_prefix(seg.elements);
    Entry { seg, key: schema_key(seg.id), usage, max, child: Some(child), required_elements }
}
/// The key of the HL entries, whose numbering the validator checks.
pub const HL_KEY: u32 = schema_key("HL");
const fn schema_key(id: &str) -> u32 {
    let key = id_key(id.as_bytes());
    assert!(key != 0, "schema segment ids are one to three bytes");
    key
}

use Ty::*;
use Usage::*;

// ---- header and trailer -------------------------------------------------------------------
pub static ST: Seg = Seg {
    id: "ST",
    slot: Slot::St,
    qualifier: None,
    elements: &[req_id(143, 3, 3, &["270"]), req(An, 4, 9, 329), req_id(1705, 1, 35, &["005010X279A1"])],
};
pub static BHT: Seg = Seg {
    id: "BHT",
    slot: Slot::Bht,
    qualifier: None,
    elements: &[
        req_id(1005, 4, 4, &["0022"]),
        req_id(353, 2, 2, &["01", "13"]),
        sit(An, 1, 50, 127),
        req(Dt, 8, 8, 373),
        req(Tm, 4, 8, 337),
        sit_id(640, 2, 2, &["RT"]),
    ],
};
pub static SE: Seg =
    Seg { id: "SE", slot: Slot::Se, qualifier: None, elements: &[req(N0, 1, 10, 96), req(An, 4, 9, 329)] };

// ---- hierarchical levels ------------------------------------------------------------------
macro_rules! hl {
    ($name:ident, $slot:expr, $parent:expr, $level:literal, $child:expr) => {
        pub static $name: Seg = Seg {
            id: "HL",
            slot: $slot,
            qualifier: Some((3, &[$level])),
            elements: &[
                req(An, 1, 12, 628),
                el($parent, An, 1, 12, 734, &[]),
                req_id(735, 1, 2, &[$level]),
                req_id(736, 1, 1, $child),
            ],
        };
    };
}
hl!(HL_2000A, Slot::Hl2000A, NotUsed, "20", &["1"]);
hl!(HL_2000B, Slot::Hl2000B, Required, "21", &["1"]);
hl!(HL_2000C, Slot::Hl2000C, Required, "22", &["0", "1"]);
hl!(HL_2000D, Slot::Refused, Required, "23", &["0"]);

// ---- names ---------------------------------------------------------------------------------
macro_rules! nm1 {
    ($name:ident, $slot:expr, $entities:expr, $types:expr, $last:expr, $idq:expr, $id_usage:expr) => {
        pub static $name: Seg = Seg {
            id: "NM1",
            slot: $slot,
            qualifier: None,
            elements: &[
                req_id(98, 2, 3, $entities),
                req_id(1065, 1, 1, $types),
                el($last, An, 1, 60, 1035, &[]),
                sit(An, 1, 35, 1036),
                sit(An, 1, 25, 1037),
                unused(1038),
                sit(An, 1, 10, 1039),
                el($id_usage, Id, 1, 2, 66, $idq),
                el($id_usage, An, 2, 80, 67, &[]),
                unused(706),
                unused(98),
                unused(1035),
            ],
        };
    };
}
nm1!(
    NM1_2100A,
    Slot::Nm1Source,
    &["2B", "36", "GP", "P5", "PR"],
    &["1", "2"],
    Required,
    &["24", "46", "FI", "NI", "PI", "XV", "XX"],
    Required
);
nm1!(
    NM1_2100B,
    Slot::Nm1Receiver,
    &["1P", "2B", "36", "80", "FA", "GP", "P5", "PR"],
    &["1", "2"],
    Situational,
    &["24", "34", "FI", "PI", "PP", "SV", "XV", "XX"],
    Required
);
nm1!(NM1_2100C, Slot::Nm1Subscriber, &["IL"], &["1", "2"], Situational, &["II", "MI"], Situational);

macro_rules! reference {
    ($name:ident, $slot:expr, $codes:expr, $ref03:expr) => {
        pub static $name: Seg = Seg {
            id: "REF",
            slot: $slot,
            qualifier: None,
            elements: &[req_id(128, 2, 3, $codes), req(An, 1, 50, 127), el($ref03, An, 1, 80, 352, &[]), unused(0)],
        };
    };
}
reference!(
    REF_2100B,
    Slot::RefReceiver,
    &["0B", "1C", "1D", "1J", "4A", "CT", "EL", "EO", "HPI", "JD", "N5", "N7", "Q4", "SY", "TJ"],
    Situational
);
reference!(
    REF_2100C,
    Slot::RefSubscriber,
    &["18", "1L", "1W", "3H", "6P", "CT", "EA", "EJ", "F6", "GH", "HJ", "IG", "N6", "NQ", "SY", "Y4"],
    NotUsed
);
reference!(REF_2110C, Slot::RefInquiry, &["9F", "G1"], NotUsed);

macro_rules! address {
    ($n3:ident, $n4:ident, $s3:expr, $s4:expr) => {
        pub static $n3: Seg =
            Seg { id: "N3", slot: $s3, qualifier: None, elements: &[req(An, 1, 55, 166), sit(An, 1, 55, 166)] };
        pub static $n4: Seg = Seg {
            id: "N4",
            slot: $s4,
            qualifier: None,
            elements: &[
                req(An, 2, 30, 19),
                sit(Id, 2, 2, 156),
                sit(Id, 3, 15, 116),
                sit(Id, 2, 3, 26),
                unused(309),
                unused(310),
                sit(Id, 1, 3, 1715),
            ],
        };
    };
}
address!(N3_2100B, N4_2100B, Slot::N3Receiver, Slot::N4Receiver);
address!(N3_2100C, N4_2100C, Slot::N3Subscriber, Slot::N4Subscriber);

const PRV_CODES: &[&str] =
    &["AD", "AT", "BI", "CO", "CV", "H", "HH", "LA", "OT", "P1", "P2", "PC", "PE", "R", "RF", "SB", "SK", "SU"];
pub static PRV_2100B: Seg = Seg {
    id: "PRV",
    slot: Slot::PrvReceiver,
    qualifier: None,
    elements: &[
        req_id(1221, 1, 3, PRV_CODES),
        sit_id(128, 2, 3, &["PXC"]),
        sit(An, 1, 50, 127),
        unused(156),
        unused(0),
        unused(1223),
    ],
};
pub static PRV_2100C: Seg = Seg {
    id: "PRV",
    slot: Slot::PrvSubscriber,
    qualifier: None,
    elements: &[
        req_id(
            1221,
            1,
            3,
            &["AD", "AT", "BI", "CO", "CV", "H", "HH", "LA", "OT", "P1", "P2", "PC", "PE", "R", "RF", "SK", "SU"],
        ),
        sit_id(128, 2, 3, &["9K", "D3", "EI", "HPI", "PXC", "SY", "TJ"]),
        sit(An, 1, 50, 127),
        unused(156),
        unused(0),
        unused(1223),
    ],
};

// ---- subscriber ----------------------------------------------------------------------------
pub static TRN_2000C: Seg = Seg {
    id: "TRN",
    slot: Slot::Trn,
    qualifier: None,
    elements: &[req_id(481, 1, 2, &["1"]), req(An, 1, 50, 127), req(An, 10, 10, 509), sit(An, 1, 50, 127)],
};
pub static DMG_2100C: Seg = Seg {
    id: "DMG",
    slot: Slot::Dmg,
    qualifier: None,
    elements: &[
        sit_id(1250, 2, 3, &["D8"]),
        // DMG02 is AN in the TR3; whether it is a real date is a business question (AAA 58).
        sit(An, 1, 35, 1251),
        sit_id(1068, 1, 1, &["F", "M"]),
        unused(1067),
        unused(0),
        unused(1066),
        unused(26),
        unused(659),
        unused(380),
        unused(1270),
        unused(1271),
    ],
};
pub static INS_2100C: Seg = Seg {
    id: "INS",
    slot: Slot::Ins,
    qualifier: None,
    elements: &[
        req_id(1073, 1, 1, &["Y"]),
        req_id(1069, 2, 2, &["18"]),
        unused(875),
        unused(1203),
        unused(1216),
        unused(0),
        unused(1219),
        unused(584),
        unused(1220),
        unused(1073),
        unused(1250),
        unused(1251),
        unused(1165),
        unused(19),
        unused(156),
        unused(26),
        req(N0, 1, 9, 1470),
    ],
};
const HI_PRINCIPAL: &[El] = &[req_id(1270, 1, 3, &["ABK", "BK"]), req(An, 1, 30, 1271)];
const HI_OTHER: &[El] = &[req_id(1270, 1, 3, &["ABF", "BF"]), req(An, 1, 30, 1271)];
pub static HI_2100C: Seg = Seg {
    id: "HI",
    slot: Slot::Hi,
    qualifier: None,
    elements: &[
        composite(Required, 0, HI_PRINCIPAL),
        composite(Situational, 0, HI_OTHER),
        composite(Situational, 0, HI_OTHER),
        composite(Situational, 0, HI_OTHER),
        composite(Situational, 0, HI_OTHER),
        composite(Situational, 0, HI_OTHER),
        composite(Situational, 0, HI_OTHER),
        composite(Situational, 0, HI_OTHER),
        unused(0),
        unused(0),
        unused(0),
        unused(0),
    ],
};
pub static DTP_2100C: Seg = Seg {
    id: "DTP",
    slot: Slot::DtpSubscriber,
    qualifier: None,
    // DTP03 is AN in the TR3; an impossible date is a business answer (AAA 57), not a 999.
    elements: &[req_id(374, 3, 3, &["102", "291"]), req_id(1250, 2, 3, &["D8", "RD8"]), req(An, 1, 35, 1251)],
};

// ---- inquiry -------------------------------------------------------------------------------
const EQ01: El = El {
    usage: Situational,
    ty: Id,
    min: 1,
    max: 2,
    reference: 1365,
    codes: SERVICE_TYPES,
    keys: CodeKeys::pack(SERVICE_TYPES),
    simple: false,
    scalar: false,
    repeat: 99,
    components: &[],
    required_components: 0,
};
const EQ02: &[El] = &[
    req_id(235, 2, 2, &["AD", "CJ", "HC", "ID", "IV", "N4", "ZZ"]),
    req(An, 1, 48, 234),
    sit(An, 2, 2, 1339),
    sit(An, 2, 2, 1339),
    sit(An, 2, 2, 1339),
    sit(An, 2, 2, 1339),
    unused(352),
    unused(234),
];
const EQ05: &[El] = &[req(N0, 1, 2, 1328), sit(N0, 1, 2, 1328), sit(N0, 1, 2, 1328), sit(N0, 1, 2, 1328)];
pub static EQ_2110C: Seg = Seg {
    id: "EQ",
    slot: Slot::Eq,
    qualifier: None,
    elements: &[
        EQ01,
        composite(Situational, 0, EQ02),
        sit_id(1207, 3, 3, &["FAM"]),
        unused(1336),
        composite(Situational, 0, EQ05),
    ],
};
pub static AMT_R: Seg = Seg {
    id: "AMT",
    slot: Slot::AmtSpendDown,
    qualifier: Some((1, &["R"])),
    elements: &[req_id(522, 1, 3, &["R"]), req(R, 1, 18, 782), unused(478)],
};
pub static AMT_PB: Seg = Seg {
    id: "AMT",
    slot: Slot::AmtBilled,
    qualifier: Some((1, &["PB"])),
    elements: &[req_id(522, 1, 3, &["PB"]), req(R, 1, 18, 782), unused(478)],
};
pub static III_2110C: Seg = Seg {
    id: "III",
    slot: Slot::Iii,
    qualifier: None,
    elements: &[
        req_id(1270, 1, 3, &["ZZ"]),
        req(An, 1, 30, 1271),
        unused(1136),
        unused(933),
        unused(380),
        unused(0),
        unused(752),
        unused(752),
        unused(752),
    ],
};
pub static DTP_2110C: Seg = Seg {
    id: "DTP",
    slot: Slot::DtpInquiry,
    qualifier: None,
    elements: &[req_id(374, 3, 3, &["291"]), req_id(1250, 2, 3, &["D8", "RD8"]), req(An, 1, 35, 1251)],
};

// ---- loops ---------------------------------------------------------------------------------
pub static LOOP_2110C: LoopDef = LoopDef::new(
    "2110C",
    true,
    &[
        seg(&EQ_2110C, Required, 1),
        seg(&AMT_R, Situational, 1),
        seg(&AMT_PB, Situational, 1),
        seg(&III_2110C, Situational, 1),
        seg(&REF_2110C, Situational, 1),
        seg(&DTP_2110C, Situational, 1),
    ],
);
pub static LOOP_2100C: LoopDef = LoopDef::new(
    "2100C",
    true,
    &[
        seg(&NM1_2100C, Required, 1),
        seg(&REF_2100C, Situational, 9),
        seg(&N3_2100C, Situational, 1),
        seg(&N4_2100C, Situational, 1),
        seg(&PRV_2100C, Situational, 1),
        seg(&DMG_2100C, Situational, 1),
        seg(&INS_2100C, Situational, 1),
        seg(&HI_2100C, Situational, 1),
        seg(&DTP_2100C, Situational, 2),
        // The TR3 makes 2110C situational: "required when the subscriber is the patient". Under
        // D1 there is no 2000D, so the subscriber always is the patient and the loop is required.
        lp(&EQ_2110C, Required, 99, &LOOP_2110C),
    ],
);
pub static LOOP_2000C: LoopDef = LoopDef::new(
    "2000C",
    true,
    &[seg(&HL_2000C, Required, 1), seg(&TRN_2000C, Situational, 2), lp(&NM1_2100C, Required, 1, &LOOP_2100C)],
);
pub static LOOP_2110D: LoopDef = LoopDef::new("2110D", false, LOOP_2110C.entries);
pub static LOOP_2100D: LoopDef = LoopDef::new(
    "2100D",
    false,
    &[
        seg(&NM1_2100C, Required, 1),
        seg(&REF_2100C, Situational, 9),
        seg(&N3_2100C, Situational, 1),
        seg(&N4_2100C, Situational, 1),
        seg(&PRV_2100C, Situational, 1),
        seg(&DMG_2100C, Situational, 1),
        seg(&INS_2100C, Situational, 1),
        seg(&HI_2100C, Situational, 1),
        seg(&DTP_2100C, Situational, 2),
        lp(&EQ_2110C, Situational, 99, &LOOP_2110D),
    ],
);
pub static LOOP_2000D: LoopDef = LoopDef::new(
    "2000D",
    false,
    &[seg(&HL_2000D, Required, 1), seg(&TRN_2000C, Situational, 2), lp(&NM1_2100C, Required, 1, &LOOP_2100D)],
);
pub static LOOP_2100B: LoopDef = LoopDef::new(
    "2100B",
    true,
    &[
        seg(&NM1_2100B, Required, 1),
        seg(&REF_2100B, Situational, 9),
        seg(&N3_2100B, Situational, 1),
        seg(&N4_2100B, Situational, 1),
        seg(&PRV_2100B, Situational, 1),
    ],
);
pub static LOOP_2000B: LoopDef =
    LoopDef::new("2000B", true, &[seg(&HL_2000B, Required, 1), lp(&NM1_2100B, Required, 1, &LOOP_2100B)]);
pub static LOOP_2100A: LoopDef = LoopDef::new("2100A", true, &[seg(&NM1_2100A, Required, 1)]);
pub static LOOP_2000A: LoopDef =
    LoopDef::new("2000A", true, &[seg(&HL_2000A, Required, 1), lp(&NM1_2100A, Required, 1, &LOOP_2100A)]);

/// The whole transaction set. The HL loops repeat in the TR3; this implementation takes one
/// information source, one receiver and one subscriber (decision D1), and no dependent.
pub static TRANSACTION_270: LoopDef = LoopDef::new(
    "",
    true,
    &[
        seg(&ST, Required, 1),
        seg(&BHT, Required, 1),
        lp(&HL_2000A, Required, 1, &LOOP_2000A),
        lp(&HL_2000B, Required, 1, &LOOP_2000B),
        lp(&HL_2000C, Required, 1, &LOOP_2000C),
        lp(&HL_2000D, NotUsed, 0, &LOOP_2000D),
        seg(&SE, Required, 1),
    ],
);

/// Every segment id the 270 uses, to tell "unexpected here" from "not in this set".
pub const SEGMENT_IDS_270: &[&str] =
    &["ST", "BHT", "HL", "NM1", "REF", "N3", "N4", "PRV", "TRN", "DMG", "INS", "HI", "DTP", "EQ", "AMT", "III", "SE"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::MAX_FIELDS;

    /// The validator checks elements from a split that keeps `MAX_FIELDS` of them: every
    /// segment of the tables must have fewer, so that one more still shows "too many".
    #[test]
    fn every_segment_fits_the_split() {
        fn walk(def: &LoopDef) {
            for e in def.entries {
                assert!(e.seg.elements.len() < MAX_FIELDS, "{} has {} elements", e.seg.id, e.seg.elements.len());
                assert_eq!(e.key, id_key(e.seg.id.as_bytes()));
                if let Some(child) = e.child {
                    walk(child);
                }
            }
        }
        walk(&TRANSACTION_270);
    }

    /// The packed code lists answer as the lists do: for each code, each code cut short or made
    /// longer, and every value of up to two bytes.
    #[test]
    fn packed_codes_agree_with_the_lists() {
        fn check(el: &El) {
            for c in el.components {
                check(c);
            }
            if el.codes.is_empty() {
                return;
            }
            let mut values: Vec<Vec<u8>> = vec![];
            for c in el.codes {
                let c = c.as_bytes();
                values.push(c.to_vec());
                values.push(c[..c.len() - 1].to_vec());
                values.push([c, b"0"].concat());
                values.push([b"0", c].concat());
            }
            for a in 0..=255u8 {
                values.push(vec![a]);
                for b in [0u8, b'0', b'1', b'8', b'9', b'A', b'B', b'D', b'I', b'K', b'P', b'X', b'Z', 0x80, 0xff] {
                    values.push(vec![a, b]);
                    values.push(vec![b, a]);
                }
            }
            for v in &values {
                assert_eq!(el.allows(v), crate::codes::in_list(el.codes, v), "{:?} {v:?}", el.codes);
            }
        }
        fn walk(def: &LoopDef) {
            for e in def.entries {
                e.seg.elements.iter().for_each(check);
                if let Some(child) = e.child {
                    walk(child);
                }
            }
        }
        walk(&TRANSACTION_270);
    }
}
