//! The acknowledgements: TA1 (interchange) and 999 (005010X231A1, functional group and
//! transaction set). These are models; `writer` turns them into bytes.

use serde::Serialize;

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $code:literal : $text:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
        pub enum $name { $($(#[$vm])* $variant,)* }

        impl $name {
            /// The X12 code value.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)* }
            }
            /// The X12 code's meaning.
            pub fn description(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
            /// Every value, in code-list order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];
            /// The value for an X12 code.
            pub fn from_code(code: &str) -> Option<$name> {
                match code { $($code => Some($name::$variant),)* _ => None }
            }
        }
    };
}

code_enum! {
    /// TA105, Interchange Note Code (I18): why an interchange was refused.
    Ta1Code {
        NoError = "000": "No error",
        ControlNumberMismatch = "001": "The Interchange Control Number in the Header and Trailer Do Not Match",
        StandardNotSupported = "002": "This Standard as Noted in the Control Standards Identifier is Not Supported",
        VersionNotSupported = "003": "This Version of the Controls is Not Supported",
        SegmentTerminatorInvalid = "004": "The Segment Terminator is Invalid",
        SenderQualifierInvalid = "005": "Invalid Interchange ID Qualifier for Sender",
        SenderIdInvalid = "006": "Invalid Interchange Sender ID",
        ReceiverQualifierInvalid = "007": "Invalid Interchange ID Qualifier for Receiver",
        ReceiverIdInvalid = "008": "Invalid Interchange Receiver ID",
        ReceiverIdUnknown = "009": "Unknown Interchange Receiver ID",
        AuthorizationQualifierInvalid = "010": "Invalid Authorization Information Qualifier Value",
        AuthorizationInvalid = "011": "Invalid Authorization Information Value",
        SecurityQualifierInvalid = "012": "Invalid Security Information Qualifier Value",
        SecurityInvalid = "013": "Invalid Security Information Value",
        DateInvalid = "014": "Invalid Interchange Date Value",
        TimeInvalid = "015": "Invalid Interchange Time Value",
        StandardsIdInvalid = "016": "Invalid Interchange Standards Identifier Value",
        VersionIdInvalid = "017": "Invalid Interchange Version ID Value",
        ControlNumberInvalid = "018": "Invalid Interchange Control Number Value",
        AckRequestedInvalid = "019": "Invalid Acknowledgment Requested Value",
        TestIndicatorInvalid = "020": "Invalid Test Indicator Value",
        GroupCountInvalid = "021": "Invalid Number of Included Groups Value",
        ControlStructureInvalid = "022": "Invalid Control Structure",
        PrematureEnd = "023": "Improper (Premature) End-of-File (Transmission)",
        ContentInvalid = "024": "Invalid Interchange Content (e.g., Invalid GS Segment)",
        DuplicateControlNumber = "025": "Duplicate Interchange Control Number",
        ElementSeparatorInvalid = "026": "Invalid Data Element Separator",
        ComponentSeparatorInvalid = "027": "Invalid Component Element Separator",
    }
}

code_enum! {
    /// AK905..AK909, Functional Group Syntax Error Code (716).
    GroupErrorCode {
        NotSupported = "1": "Functional Group Not Supported",
        VersionNotSupported = "2": "Functional Group Version Not Supported",
        TrailerMissing = "3": "Functional Group Trailer Missing",
        ControlNumberMismatch = "4": "Group Control Number in the Functional Group Header and Trailer Do Not Agree",
        SetCountMismatch = "5": "Number of Included Transaction Sets Does Not Match Actual Count",
        ControlNumberSyntax = "6": "Group Control Number Violates Syntax",
    }
}

code_enum! {
    /// IK502..IK506, Implementation Transaction Set Syntax Error Code (618).
    SetErrorCode {
        NotSupported = "1": "Transaction Set Not Supported",
        TrailerMissing = "2": "Transaction Set Trailer Missing",
        ControlNumberMismatch = "3": "Transaction Set Control Number in Header and Trailer Do Not Match",
        SegmentCountMismatch = "4": "Number of Included Segments Does Not Match Actual Count",
        SegmentsInError = "5": "One or More Segments in Error",
        IdentifierInvalid = "6": "Missing or Invalid Transaction Set Identifier",
        ControlNumberInvalid = "7": "Missing or Invalid Transaction Set Control Number",
        ConventionReferenceInvalid = "19": "Invalid Transaction Set Implementation Convention Reference",
        ControlNumberNotUnique = "23": "Transaction Set Control Number Not Unique within the Functional Group",
        ImplementationSegmentsInError = "I5": "Implementation One or More Segments In Error",
        ConventionNotSupported = "I6": "Implementation Convention Not Supported",
    }
}

code_enum! {
    /// IK304, Implementation Segment Syntax Error Code (620).
    SegmentErrorCode {
        UnrecognizedSegmentId = "1": "Unrecognized segment ID",
        UnexpectedSegment = "2": "Unexpected segment",
        RequiredSegmentMissing = "3": "Required Segment Missing",
        LoopOverMaximum = "4": "Loop Occurs Over Maximum Times",
        SegmentOverMaximum = "5": "Segment Exceeds Maximum Use",
        NotInTransactionSet = "6": "Segment Not in Defined Transaction Set",
        OutOfSequence = "7": "Segment Not in Proper Sequence",
        ElementErrors = "8": "Segment Has Data Element Errors",
        NotUsedSegmentPresent = "I4": "Implementation \"Not Used\" Segment Present",
        DependentSegmentMissing = "I6": "Implementation Dependent Segment Missing",
        LoopUnderMinimum = "I7": "Implementation Loop Occurs Under Minimum Times",
        SegmentUnderMinimum = "I8": "Implementation Segment Below Minimum Use",
        DependentNotUsedSegmentPresent = "I9": "Implementation Dependent \"Not Used\" Segment Present",
    }
}

code_enum! {
    /// IK403, Implementation Data Element Syntax Error Code (621).
    ElementErrorCode {
        RequiredMissing = "1": "Required Data Element Missing",
        ConditionalMissing = "2": "Conditional Required Data Element Missing",
        TooManyElements = "3": "Too Many Data Elements",
        TooShort = "4": "Data Element Too Short",
        TooLong = "5": "Data Element Too Long",
        InvalidCharacter = "6": "Invalid Character In Data Element",
        InvalidCode = "7": "Invalid Code Value",
        InvalidDate = "8": "Invalid Date",
        InvalidTime = "9": "Invalid Time",
        ExclusionViolated = "10": "Exclusion Condition Violated",
        TooManyRepetitions = "12": "Too Many Repetitions",
        TooManyComponents = "13": "Too Many Components",
        NotUsedPresent = "I10": "Implementation \"Not Used\" Data Element Present",
        TooFewRepetitions = "I11": "Implementation Too Few Repetitions",
        PatternMismatch = "I12": "Implementation Pattern Match Failure",
        DependentNotUsedPresent = "I13": "Implementation Dependent \"Not Used\" Data Element Present",
        CodeNotUsed = "I6": "Code Value Not Used in Implementation",
        DependentMissing = "I9": "Implementation Dependent Data Element Missing",
    }
}

/// IK501 / AK901: the verdict on a transaction set or group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AckCode {
    Accepted,
    AcceptedWithErrors,
    PartiallyAccepted,
    Rejected,
}

impl AckCode {
    pub fn code(self) -> &'static str {
        match self {
            AckCode::Accepted => "A",
            AckCode::AcceptedWithErrors => "E",
            AckCode::PartiallyAccepted => "P",
            AckCode::Rejected => "R",
        }
    }
}

/// A TA1: the interchange was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ta1 {
    /// TA101: the refused interchange's ISA13 (`000000000` when it could not be read).
    pub control_number: String,
    /// TA102 (YYMMDD) and TA103 (HHMM): the refused interchange's ISA09/ISA10.
    pub date: String,
    pub time: String,
    /// TA105.
    pub code: Ta1Code,
    /// A readable detail for logs and reports (never sent in the TA1 itself).
    pub detail: String,
}

/// IK401: where in the segment an element error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ElementPosition {
    pub element: u8,
    pub component: Option<u8>,
    pub repetition: Option<u8>,
}

impl ElementPosition {
    pub fn element(n: u8) -> Self {
        ElementPosition { element: n, component: None, repetition: None }
    }
}

/// One IK4 (loop 2110).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ElementError {
    pub position: ElementPosition,
    /// IK402: the data element reference number.
    pub reference: Option<u16>,
    pub code: ElementErrorCode,
    /// IK404: a copy of the bad value, when it is printable and short.
    pub bad_value: Option<String>,
}

/// A CTX "SITUATIONAL TRIGGER" or business-unit context for an IK3.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentContext {
    /// CTX01-1 (e.g. `SITUATIONAL TRIGGER`, or a business unit name such as `TRN02`).
    pub name: String,
    /// CTX01-2 (the business unit value); empty for a situational trigger.
    pub reference: Option<String>,
    /// CTX02..CTX04: the segment that triggered the situation, when the context names one.
    pub segment_id: Option<String>,
    pub segment_position: Option<u32>,
    pub loop_id: Option<String>,
}

/// One IK3 (loop 2100) with its IK4s.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentError {
    pub segment_id: String,
    /// IK302: position in the transaction set, ST = 1.
    pub position: u32,
    /// IK303: the TR3 loop the segment is in.
    pub loop_id: Option<String>,
    pub code: SegmentErrorCode,
    pub context: Vec<SegmentContext>,
    pub elements: Vec<ElementError>,
    /// A readable explanation for the human report (not sent in the 999).
    pub detail: String,
}

/// AK2 loop: the verdict on one transaction set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SetAck {
    /// AK201, AK202, AK203.
    pub set_id: String,
    pub control_number: String,
    pub convention: Option<String>,
    pub segments: Vec<SegmentError>,
    pub code: AckCode,
    pub errors: Vec<SetErrorCode>,
}

/// A 999 for one functional group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ack999 {
    /// AK101..AK103.
    pub functional_id: String,
    pub group_control_number: String,
    pub version: Option<String>,
    pub sets: Vec<SetAck>,
    /// AK901..AK909.
    pub code: AckCode,
    pub included: u32,
    pub received: u32,
    pub accepted: u32,
    pub errors: Vec<GroupErrorCode>,
}

impl Ack999 {
    /// True when nothing was rejected (a real-time interchange then gets its 271, not a 999).
    pub fn is_accepted(&self) -> bool {
        self.code == AckCode::Accepted
    }
}
