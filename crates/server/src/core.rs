//! The CAQH CORE vC2.2.0 real-time envelopes: SOAP 1.2 and HTTP MIME multipart.
//!
//! This module is pure: bytes in, fields out, fields in, bytes out, plus the envelope checks
//! in their documented order ([`check`]). It knows nothing of HTTP statuses or the store; the
//! HTTP layer (`http`) maps [`ErrorCode`]s to statuses (D10) and authenticates.
//!
//! Interop (spec §3): the CORE element is accepted under any prefix and its children qualified
//! or not; the payload as CDATA or escaped text with surrounding whitespace; MIME parts in any
//! order, LF or CRLF line ends, the boundary quoted or not. What we emit is strict: unqualified
//! children, CDATA payloads, CRLF MIME with an exact length.

use quick_xml::events::Event;
use std::fmt::Write as _;

/// The CORE vC2.2.0 schema namespace of the envelope elements.
pub const CORE_NS: &str = "http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd";
/// SOAP 1.2.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// SOAP 1.1: answered with a SOAP `VersionMismatch` fault.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const WSSE_NS: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// The CORERuleVersion this endpoint speaks.
pub const RULE_VERSION: &str = "2.2.0";
/// The only request PayloadType of the real-time endpoints.
pub const REQUEST_PAYLOAD_TYPE: &str = "X12_270_Request_005010X279A1";
/// The PayloadType of an envelope-level error reply.
pub const ENVELOPE_ERROR_PAYLOAD_TYPE: &str = "CoreEnvelopeError";
pub const REAL_TIME: &str = "RealTime";

/// PayloadTypes CORE defines that this endpoint does not take: refused with a clearer message
/// than an unknown value.
const OTHER_CORE_PAYLOAD_TYPES: &[&str] = &[
    "X12_276_Request_005010X212",
    "X12_271_Response_005010X279A1",
    "X12_999_Response_005010X231A1",
    "X12_TA1_Response_00501X231A1",
    "X12_005010_Request_Batch_Results_271",
    "X12_999_RetrievalRequest_005010X231A1",
    "X12_999_SubmissionRequest_005010X231A1",
    "X12_TA1_RetrievalRequest_00501X231A1",
    "X12_TA1_SubmissionRequest_00501X231A1",
    "X12_834_Request_005010X220A1",
    "X12_820_Request_005010X218A1",
    "X12_837_Request_005010X222A1",
    "X12_837_Request_005010X223A1_2",
    "X12_837_Request_005010X224A1_2",
];

/// Envelope ErrorCodes (spec §1.5). The spellings live here only, so a correction is one edit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Success,
    PayloadTypeRequired,
    PayloadTypeIllegal,
    ProcessingModeRequired,
    ProcessingModeIllegal,
    PayloadIdRequired,
    PayloadIdIllegal,
    TimeStampRequired,
    TimeStampIllegal,
    SenderIdRequired,
    SenderIdIllegal,
    ReceiverIdRequired,
    ReceiverIdIllegal,
    CoreRuleVersionRequired,
    VersionMismatch,
    PayloadRequired,
    UnAuthorized,
    /// A server-side failure (CONNECT's `Receiver`).
    Receiver,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Success => "Success",
            ErrorCode::PayloadTypeRequired => "PayloadTypeRequired",
            ErrorCode::PayloadTypeIllegal => "PayloadTypeIllegal",
            ErrorCode::ProcessingModeRequired => "ProcessingModeRequired",
            ErrorCode::ProcessingModeIllegal => "ProcessingModeIllegal",
            ErrorCode::PayloadIdRequired => "PayloadIDRequired",
            ErrorCode::PayloadIdIllegal => "PayloadIDIllegal",
            ErrorCode::TimeStampRequired => "TimeStampRequired",
            ErrorCode::TimeStampIllegal => "TimeStampIllegal",
            ErrorCode::SenderIdRequired => "SenderIDRequired",
            ErrorCode::SenderIdIllegal => "SenderIDIllegal",
            ErrorCode::ReceiverIdRequired => "ReceiverIDRequired",
            ErrorCode::ReceiverIdIllegal => "ReceiverIDIllegal",
            ErrorCode::CoreRuleVersionRequired => "CORERuleVersionRequired",
            ErrorCode::VersionMismatch => "VersionMismatch",
            ErrorCode::PayloadRequired => "PayloadRequired",
            ErrorCode::UnAuthorized => "UnAuthorized",
            ErrorCode::Receiver => "Receiver",
        }
    }
}

/// The metadata of a real-time request, as sent (None: the field is absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestFields {
    pub payload_type: Option<String>,
    pub processing_mode: Option<String>,
    pub payload_id: Option<String>,
    pub time_stamp: Option<String>,
    pub sender_id: Option<String>,
    pub receiver_id: Option<String>,
    pub core_rule_version: Option<String>,
    pub payload: Option<String>,
    /// MIME only (SOAP carries credentials in the WS-Security header).
    pub user_name: Option<String>,
    pub password: Option<String>,
}

/// A CORE field this system reads (a SOAP child element or a MIME part).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    PayloadType,
    ProcessingMode,
    PayloadId,
    TimeStamp,
    SenderId,
    ReceiverId,
    CoreRuleVersion,
    Payload,
    UserName,
    Password,
}

impl Field {
    /// By its element or part name; others (batch-only fields, vendor extras) are not read.
    fn named(name: &[u8]) -> Option<Field> {
        Some(match name {
            b"PayloadType" => Field::PayloadType,
            b"ProcessingMode" => Field::ProcessingMode,
            b"PayloadID" => Field::PayloadId,
            b"TimeStamp" => Field::TimeStamp,
            b"SenderID" => Field::SenderId,
            b"ReceiverID" => Field::ReceiverId,
            b"CORERuleVersion" => Field::CoreRuleVersion,
            b"Payload" => Field::Payload,
            b"UserName" => Field::UserName,
            b"Password" => Field::Password,
            _ => return None,
        })
    }
}

impl RequestFields {
    fn set(&mut self, field: Field, value: String) {
        let slot = match field {
            Field::PayloadType => &mut self.payload_type,
            Field::ProcessingMode => &mut self.processing_mode,
            Field::PayloadId => &mut self.payload_id,
            Field::TimeStamp => &mut self.time_stamp,
            Field::SenderId => &mut self.sender_id,
            Field::ReceiverId => &mut self.receiver_id,
            Field::CoreRuleVersion => &mut self.core_rule_version,
            Field::Payload => &mut self.payload,
            Field::UserName => &mut self.user_name,
            Field::Password => &mut self.password,
        };
        // The first occurrence wins: a repeated field cannot override what was checked.
        if slot.is_none() {
            *slot = Some(value);
        }
    }
}

/// An envelope check that failed: the code and a message without PHI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeError {
    pub code: ErrorCode,
    pub message: String,
}

impl EnvelopeError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> EnvelopeError {
        EnvelopeError { code, message: message.into() }
    }
}

/// A request whose envelope passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checked {
    pub payload_id: String,
    pub sender_id: String,
    pub payload: String,
}

/// The envelope checks after authentication, in the documented order (spec §1.5): required
/// fields (in XSD order) → field syntax → CORERuleVersion → Sender/Receiver binding →
/// PayloadType → Payload. The first failure is reported. `authenticated` is the submitter the
/// credentials or certificate proved; a SenderID that is not it is `UnAuthorized` (403).
pub fn check<'f>(f: &'f RequestFields, authenticated: &str, receiver: &str) -> Result<Checked, EnvelopeError> {
    use ErrorCode::*;
    let required = [
        (&f.payload_type, PayloadTypeRequired, "PayloadType"),
        (&f.processing_mode, ProcessingModeRequired, "ProcessingMode"),
        (&f.payload_id, PayloadIdRequired, "PayloadID"),
        (&f.time_stamp, TimeStampRequired, "TimeStamp"),
        (&f.sender_id, SenderIdRequired, "SenderID"),
        (&f.receiver_id, ReceiverIdRequired, "ReceiverID"),
        (&f.core_rule_version, CoreRuleVersionRequired, "CORERuleVersion"),
    ];
    for (v, code, name) in required {
        if present(v).is_none() {
            return Err(EnvelopeError::new(code, format!("{name} is required")));
        }
    }
    let get = |v: &'f Option<String>| present(v).unwrap_or_default();
    let (payload_type, mode, payload_id) = (get(&f.payload_type), get(&f.processing_mode), get(&f.payload_id));
    let (time_stamp, sender, receiver_id, version) =
        (get(&f.time_stamp), get(&f.sender_id), get(&f.receiver_id), get(&f.core_rule_version));
    if mode != REAL_TIME {
        return Err(EnvelopeError::new(
            ProcessingModeIllegal,
            format!("ProcessingMode must be {REAL_TIME} on the real-time endpoint"),
        ));
    }
    if !is_uuid(payload_id) {
        return Err(EnvelopeError::new(
            PayloadIdIllegal,
            "PayloadID must be a UUID in hex notation (8-4-4-4-12 hex digits)",
        ));
    }
    if !is_timestamp(time_stamp) {
        return Err(EnvelopeError::new(TimeStampIllegal, "TimeStamp must be an ISO 8601 date and time"));
    }
    if version != RULE_VERSION {
        return Err(EnvelopeError::new(
            VersionMismatch,
            format!("CORERuleVersion {} is not supported; use {RULE_VERSION}", printable(version)),
        ));
    }
    if sender != authenticated {
        return Err(EnvelopeError::new(
            UnAuthorized,
            format!("SenderID {} is not the authenticated submitter {authenticated}", printable(sender)),
        ));
    }
    if receiver_id != receiver {
        return Err(EnvelopeError::new(ReceiverIdIllegal, format!("ReceiverID must be {receiver}")));
    }
    if payload_type != REQUEST_PAYLOAD_TYPE {
        let message = if OTHER_CORE_PAYLOAD_TYPES.contains(&payload_type) {
            format!(
                "PayloadType {payload_type} is not accepted here; the real-time endpoint takes {REQUEST_PAYLOAD_TYPE}"
            )
        } else {
            format!("unknown PayloadType; use {REQUEST_PAYLOAD_TYPE}")
        };
        return Err(EnvelopeError::new(PayloadTypeIllegal, message));
    }
    let payload = trim_payload(f.payload.as_deref().unwrap_or_default());
    if payload.is_empty() {
        return Err(EnvelopeError::new(PayloadRequired, "Payload is required: one X12 270 interchange"));
    }
    Ok(Checked { payload_id: payload_id.to_string(), sender_id: sender.to_string(), payload: payload.to_string() })
}

/// A field's value without surrounding whitespace; None when it is missing or blank.
fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A value echoed in a message: ids only, cut short, printable ASCII.
fn printable(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_graphic()).take(40).collect()
}

/// RFC 4122 hex notation: 8-4-4-4-12 hex digits (any version, any case).
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Lenient ISO 8601 (spec §1.8): a valid `YYYY-MM-DD`, `T` (or a space), `HH:MM`, then
/// anything made of digits, `:`, `.`, `Z` and signs: a fraction, an offset or none (UTC is
/// assumed). Odd forms such as `02:01:123Z` pass; only unparsable values are refused, and
/// clock skew never is.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 16 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' {
        return false;
    }
    let Some(date) = s.get(..10).and_then(x12::Date::parse_iso) else { return false };
    let _ = date;
    let two = |i: usize| -> Option<u8> {
        let (a, c) = (*b.get(i)?, *b.get(i + 1)?);
        (a.is_ascii_digit() && c.is_ascii_digit()).then(|| (a - b'0') * 10 + (c - b'0'))
    };
    matches!((two(11), two(14)), (Some(h), Some(m)) if h < 24 && m < 60)
        && b[16..].iter().all(|c| c.is_ascii_digit() || matches!(c, b':' | b'.' | b'Z' | b'z' | b'+' | b'-'))
}

/// The interchange without the XML or MIME whitespace around it. A trailing whitespace byte
/// that is the interchange's own segment terminator (ISA position 106) is kept.
pub fn trim_payload(p: &str) -> &str {
    let start = p.trim_start();
    let end = start.trim_end();
    let terminator = start.as_bytes().get(105).copied();
    match terminator {
        Some(t)
            if t.is_ascii_whitespace() && start.len() > end.len() && start.as_bytes().get(end.len()) == Some(&t) =>
        {
            start.get(..end.len() + 1).unwrap_or(end)
        }
        _ => end,
    }
}

/// The response envelope (both bindings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub payload_type: String,
    pub payload_id: String,
    pub time_stamp: String,
    /// This system (the request's ReceiverID): sender and receiver are swapped.
    pub sender_id: String,
    pub receiver_id: String,
    pub payload: Option<String>,
    pub error_code: ErrorCode,
    pub error_message: String,
}

impl Response {
    /// The reply to an envelope that failed a check: PayloadType `CoreEnvelopeError`, no
    /// payload, what could be read of the request echoed.
    pub fn error(f: &RequestFields, receiver: &str, time_stamp: String, e: &EnvelopeError) -> Response {
        Response {
            payload_type: ENVELOPE_ERROR_PAYLOAD_TYPE.into(),
            payload_id: f.payload_id.as_deref().map(printable).unwrap_or_default(),
            time_stamp,
            sender_id: receiver.into(),
            receiver_id: f.sender_id.as_deref().map(printable).unwrap_or_default(),
            payload: None,
            error_code: e.code,
            error_message: e.message.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SOAP

/// A SOAP 1.2 fault (spec §1.6): the SOAP layer refused the message before CORE could read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `VersionMismatch`, `MustUnderstand`, `Sender` or `Receiver`.
    pub code: &'static str,
    /// A qualified subcode such as `wsse:FailedAuthentication`.
    pub subcode: Option<&'static str>,
    pub reason: String,
}

impl Fault {
    pub fn sender(reason: impl Into<String>) -> Fault {
        Fault { code: "Sender", subcode: None, reason: reason.into() }
    }

    /// The HTTP status of the SOAP 1.2 HTTP binding: `Sender` → 400, the others → 500.
    pub fn status(&self) -> u16 {
        if self.code == "Sender" { 400 } else { 500 }
    }
}

/// A parsed SOAP request: the CORE fields and the UsernameToken, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SoapRequest {
    pub fields: RequestFields,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// The element whose text the SOAP reader is collecting.
#[derive(Clone, Copy)]
enum Reading {
    Core(Field),
    Username,
    Password,
}

/// Where the reader is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Top,
    Envelope,
    Header,
    Security,
    Token,
    Body,
    Core,
    Done,
}

/// The namespace declarations of the outer elements: the envelope, its header and body, and the
/// header blocks (depth 1 to 3). Only the envelope's and a header block's namespaces are asked
/// for (SOAP 1.2 or 1.1, WS-Security or another block); the CORE fields are matched by local
/// name. Tracking every element's scope and resolving every name, as `NsReader` does, cost
/// twice the reading itself (`benches/soap.rs`: a request read in 3.4–3.7 µs that way, 2.3–2.5 µs
/// this way, against 1.0–1.3 µs for quick-xml's plain reader alone).
#[derive(Default)]
struct Scopes {
    /// The depth of the declaring element, the prefix (empty: the default namespace), the URI.
    declared: Vec<(usize, Vec<u8>, Vec<u8>)>,
}

/// The deepest element whose namespace declarations are kept.
const SCOPED_DEPTH: usize = 3;

/// What an element's name is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Namespace<'s> {
    Uri(&'s [u8]),
    /// An unprefixed name without a default namespace.
    None,
    /// A prefix nothing declares.
    Undeclared,
}

impl Scopes {
    /// An element at `depth` begins: its own declarations come into scope.
    fn open(&mut self, e: &quick_xml::events::BytesStart<'_>, depth: usize) {
        for a in e.attributes().flatten() {
            let key = a.key.as_ref();
            let prefix = match key.strip_prefix(b"xmlns") {
                Some([]) => &[][..],
                Some([b':', prefix @ ..]) => prefix,
                _ => continue,
            };
            self.declared.push((depth, prefix.to_vec(), a.value.into_owned()));
        }
    }

    /// The element at `depth` ends: its declarations go out of scope.
    fn close(&mut self, depth: usize) {
        while self.declared.last().is_some_and(|d| d.0 >= depth) {
            self.declared.pop();
        }
    }

    fn of(&self, e: &quick_xml::events::BytesStart<'_>) -> Namespace<'_> {
        let name = e.name();
        let prefix = name.prefix().map_or(&[][..], |p| p.into_inner());
        match self.declared.iter().rev().find(|d| d.1 == prefix) {
            // `xmlns=""` takes the default namespace away.
            Some((_, _, uri)) if uri.is_empty() => Namespace::None,
            Some((_, _, uri)) => Namespace::Uri(uri),
            None if prefix.is_empty() => Namespace::None,
            None => Namespace::Undeclared,
        }
    }
}

/// Parses a SOAP 1.2 `COREEnvelopeRealTimeRequest`.
pub fn parse_soap(xml: &[u8]) -> Result<SoapRequest, Fault> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut scopes = Scopes::default();
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    let mut req = SoapRequest::default();
    let mut place = Place::Top;
    // The element whose text is being collected (a CORE field or a token part), its depth.
    let mut field: Option<(Reading, usize)> = None;
    let mut text = String::new();
    let mut depth = 0usize;
    let mut seen_body = false;
    let bad = |e: &dyn std::fmt::Display| Fault::sender(format!("the request is not well-formed XML: {e}"));
    loop {
        let event = reader.read_event().map_err(|e| bad(&e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                // Borrowed from the request, compared as bytes; made text only for a message.
                let local_name = e.local_name();
                let local = local_name.as_ref();
                let shown = || printable(&String::from_utf8_lossy(local));
                depth += 1;
                if depth <= SCOPED_DEPTH {
                    scopes.open(e, depth);
                }
                let ns_is = |uri: &str| scopes.of(e) == Namespace::Uri(uri.as_bytes());
                match place {
                    Place::Top => {
                        if local != b"Envelope" {
                            return Err(Fault::sender("the document is not a SOAP envelope"));
                        }
                        if scopes.of(e) == Namespace::Undeclared {
                            return Err(Fault::sender("the envelope uses an undeclared namespace prefix"));
                        }
                        if ns_is(SOAP11_NS) {
                            return Err(Fault {
                                code: "VersionMismatch",
                                subcode: None,
                                reason: "SOAP 1.1 is not supported; send SOAP 1.2 (application/soap+xml)".into(),
                            });
                        }
                        if !ns_is(SOAP12_NS) {
                            return Err(Fault {
                                code: "VersionMismatch",
                                subcode: None,
                                reason: "the envelope is not in the SOAP 1.2 namespace".into(),
                            });
                        }
                        place = Place::Envelope;
                    }
                    Place::Envelope if depth == 2 && local == b"Header" => place = Place::Header,
                    Place::Envelope if depth == 2 && local == b"Body" => {
                        place = Place::Body;
                        seen_body = true;
                    }
                    Place::Header if depth == 3 => {
                        if local == b"Security" && ns_is(WSSE_NS) {
                            place = Place::Security;
                        } else if must_understand(e) {
                            return Err(Fault {
                                code: "MustUnderstand",
                                subcode: None,
                                reason: format!("header block {} is not understood", shown()),
                            });
                        }
                    }
                    Place::Security if local == b"UsernameToken" => place = Place::Token,
                    Place::Token if local == b"Username" || local == b"Password" => {
                        field = Some((if local == b"Username" { Reading::Username } else { Reading::Password }, depth));
                        text.clear();
                    }
                    Place::Body if depth == 3 => {
                        if local != b"COREEnvelopeRealTimeRequest" {
                            return Err(Fault::sender(format!(
                                "the SOAP body holds {}, not COREEnvelopeRealTimeRequest",
                                shown()
                            )));
                        }
                        place = Place::Core;
                    }
                    // CORE children: matched by local name, qualified or not. The text of others
                    // (batch-only fields, vendor extras) is not collected.
                    Place::Core if depth == 4 => {
                        field = Field::named(local).map(|f| (Reading::Core(f), depth));
                        text.clear();
                    }
                    _ => {}
                }
                if empty {
                    end_element(&mut place, &mut field, &mut text, &mut req, depth);
                    scopes.close(depth);
                    depth -= 1;
                }
            }
            Event::End(_) => {
                end_element(&mut place, &mut field, &mut text, &mut req, depth);
                scopes.close(depth);
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) if field.is_some() => {
                text.push_str(&t.xml_content().map_err(|e| bad(&e))?);
            }
            Event::CData(t) if field.is_some() => {
                text.push_str(&t.decode().map_err(|e| bad(&e))?);
            }
            Event::GeneralRef(r) if field.is_some() => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| bad(&e))? {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(|e| bad(&e))?;
                    let c = match name.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return Err(Fault::sender("the request uses an undefined XML entity")),
                    };
                    text.push(c);
                }
            }
            Event::DocType(_) => return Err(Fault::sender("a DOCTYPE is not allowed in a SOAP message")),
            Event::Eof => break,
            _ => {}
        }
    }
    if place == Place::Top {
        return Err(Fault::sender("the request is empty"));
    }
    if place != Place::Done || !seen_body {
        return Err(Fault::sender("the SOAP body holds no COREEnvelopeRealTimeRequest"));
    }
    Ok(req)
}

fn end_element(
    place: &mut Place,
    field: &mut Option<(Reading, usize)>,
    text: &mut String,
    req: &mut SoapRequest,
    depth: usize,
) {
    if let Some((reading, d)) = *field
        && d == depth
    {
        let value = std::mem::take(text);
        match (*place, reading) {
            (Place::Token, Reading::Username) => req.username = Some(value.trim().to_string()),
            (Place::Token, Reading::Password) => req.password = Some(value),
            (Place::Core, Reading::Core(f)) => req.fields.set(f, value),
            _ => {}
        }
        *field = None;
        return;
    }
    *place = match (*place, depth) {
        (Place::Token, _) => Place::Security,
        (Place::Security, 3) => Place::Header,
        (Place::Header, 2) => Place::Envelope,
        (Place::Core, 3) => Place::Done,
        (Place::Body, 2) => Place::Envelope,
        (p, _) => p,
    };
}

fn must_understand(e: &quick_xml::events::BytesStart<'_>) -> bool {
    e.attributes()
        .flatten()
        .any(|a| a.key.local_name().as_ref() == b"mustUnderstand" && matches!(a.value.as_ref(), b"true" | b"1"))
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// Appends `s` with the characters XML reserves replaced by their entities; runs of plain
/// text are copied whole.
fn escape_into(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = rest.find(['<', '>', '&', '"']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            _ => "&quot;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

/// Appends `<name>text</name>`, the text escaped.
fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_into(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Writes the SOAP 1.2 `COREEnvelopeRealTimeResponse`: children unqualified in XSD order,
/// the payload in CDATA (escaped when it holds `]]>`). Written piece by piece into one buffer
/// sized for the payload: it is on every answer's path.
pub fn write_soap(r: &Response) -> String {
    let mut x = String::with_capacity(768 + r.payload.as_ref().map_or(0, String::len));
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"");
    x.push_str(SOAP12_NS);
    x.push_str("\"><soap:Body><core:COREEnvelopeRealTimeResponse xmlns:core=\"");
    x.push_str(CORE_NS);
    x.push_str("\">");
    element(&mut x, "PayloadType", &r.payload_type);
    element(&mut x, "ProcessingMode", REAL_TIME);
    element(&mut x, "PayloadID", &r.payload_id);
    element(&mut x, "TimeStamp", &r.time_stamp);
    element(&mut x, "SenderID", &r.sender_id);
    element(&mut x, "ReceiverID", &r.receiver_id);
    element(&mut x, "CORERuleVersion", RULE_VERSION);
    if let Some(p) = &r.payload {
        if p.contains("]]>") {
            element(&mut x, "Payload", p);
        } else {
            x.push_str("<Payload><![CDATA[");
            x.push_str(p);
            x.push_str("]]></Payload>");
        }
    }
    element(&mut x, "ErrorCode", r.error_code.as_str());
    element(&mut x, "ErrorMessage", &r.error_message);
    x.push_str("</core:COREEnvelopeRealTimeResponse></soap:Body></soap:Envelope>");
    x
}

/// Writes a SOAP 1.2 fault.
pub fn write_fault(f: &Fault) -> String {
    let subcode = match f.subcode {
        Some(s) => format!("<soap:Subcode><soap:Value xmlns:wsse=\"{WSSE_NS}\">{s}</soap:Value></soap:Subcode>"),
        None => String::new(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{SOAP12_NS}\"><soap:Body><soap:Fault>\
         <soap:Code><soap:Value>soap:{}</soap:Value>{subcode}</soap:Code>\
         <soap:Reason><soap:Text xml:lang=\"en\">{}</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>",
        f.code,
        escape(&f.reason)
    )
}

/// The fault for failed authentication (WS-Security: `wsse:FailedAuthentication`).
pub fn auth_fault(reason: impl Into<String>) -> Fault {
    Fault { code: "Sender", subcode: Some("wsse:FailedAuthentication"), reason: reason.into() }
}

// ---------------------------------------------------------------------------------------------
// MIME

/// The boundary of a `multipart/form-data` content type (quoted or not, other parameters
/// before or after it).
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        (!v.is_empty() && v.len() <= 200).then(|| v.to_string())
    })
}

/// Parses a `multipart/form-data` body into the request fields. Parts are found by name in any
/// order; lines end in CRLF or LF. Errors are messages for a 400.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Result<RequestFields, String> {
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut fields = RequestFields::default();
    let mut pos = find(body, d, 0).ok_or("the body holds no multipart boundary")?;
    let mut parts = 0;
    loop {
        let after = pos + d.len();
        if body.get(after..after + 2) == Some(b"--") {
            break;
        }
        // The rest of the boundary line (transport padding), then the part headers.
        let line_end = find(body, b"\n", after).ok_or("a multipart boundary line does not end")?;
        let start = line_end + 1;
        let next = find(body, d, start).ok_or("the multipart body is not closed by its final boundary")?;
        // The line break before the next boundary belongs to the boundary.
        let mut end = next;
        if end > start && body[end - 1] == b'\n' {
            end -= 1;
            if end > start && body[end - 1] == b'\r' {
                end -= 1;
            }
        }
        let part = &body[start..end.max(start)];
        let (headers, value) = split_part(part).ok_or("a multipart part has no blank line after its headers")?;
        let name = part_name(headers).ok_or("a multipart part has no Content-Disposition name")?;
        let value =
            String::from_utf8(value.to_vec()).map_err(|_| format!("field {} is not UTF-8", printable(&name)))?;
        if let Some(f) = Field::named(name.as_bytes()) {
            fields.set(f, value);
        }
        parts += 1;
        pos = next;
    }
    if parts == 0 {
        return Err("the multipart body holds no part".into());
    }
    Ok(fields)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

fn split_part(part: &[u8]) -> Option<(&str, &[u8])> {
    let (i, len) = match (find(part, b"\r\n\r\n", 0), find(part, b"\n\n", 0)) {
        (Some(a), Some(b)) if b < a => (b, 2),
        (Some(a), _) => (a, 4),
        (None, Some(b)) => (b, 2),
        (None, None) => return None,
    };
    Some((std::str::from_utf8(&part[..i]).ok()?, &part[i + len..]))
}

fn part_name(headers: &str) -> Option<String> {
    headers.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        if !k.trim().eq_ignore_ascii_case("content-disposition") {
            return None;
        }
        v.split(';').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim().eq_ignore_ascii_case("name")).then(|| v.trim().trim_matches('"').to_string())
        })
    })
}

/// The boundary of every response: no X12 payload can contain it (no `-` runs in X12 ids).
pub const RESPONSE_BOUNDARY: &str = "openhets-core-5c1e2b7d9a";

/// Writes the MIME response body: the 10 fields in order, strict CRLF, no epilogue.
pub fn write_multipart(r: &Response) -> Vec<u8> {
    let mut out = String::with_capacity(1024 + r.payload.as_ref().map_or(0, String::len));
    let mut field = |name: &str, value: &str| {
        let _ =
            write!(out, "--{RESPONSE_BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
    };
    field("PayloadType", &r.payload_type);
    field("ProcessingMode", REAL_TIME);
    field("PayloadID", &r.payload_id);
    field("TimeStamp", &r.time_stamp);
    field("SenderID", &r.sender_id);
    field("ReceiverID", &r.receiver_id);
    field("CORERuleVersion", RULE_VERSION);
    field("Payload", r.payload.as_deref().unwrap_or_default());
    field("ErrorCode", r.error_code.as_str());
    field("ErrorMessage", &r.error_message);
    let _ = write!(out, "--{RESPONSE_BOUNDARY}--\r\n");
    out.into_bytes()
}

/// The WSDL served at `GET /eligibility/realtime/soap?wsdl` (real-time operation only; the
/// schema inline so that clients need no second fetch).
pub fn wsdl(address: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/"
    xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="http://www.caqh.org/SOAP/WSDL/"
    xmlns:CORE="{CORE_NS}"
    targetNamespace="http://www.caqh.org/SOAP/WSDL/">
  <wsdl:types>
    <xs:schema targetNamespace="{CORE_NS}" elementFormDefault="unqualified">
      <xs:element name="COREEnvelopeRealTimeRequest">
        <xs:complexType><xs:sequence>
          <xs:element name="PayloadType" type="xs:string"/>
          <xs:element name="ProcessingMode" type="xs:string"/>
          <xs:element name="PayloadID" type="xs:string"/>
          <xs:element name="TimeStamp" type="xs:dateTime"/>
          <xs:element name="SenderID" type="xs:string"/>
          <xs:element name="ReceiverID" type="xs:string"/>
          <xs:element name="CORERuleVersion" type="xs:string"/>
          <xs:element name="Payload" type="xs:string"/>
        </xs:sequence></xs:complexType>
      </xs:element>
      <xs:element name="COREEnvelopeRealTimeResponse">
        <xs:complexType><xs:sequence>
          <xs:element name="PayloadType" type="xs:string"/>
          <xs:element name="ProcessingMode" type="xs:string"/>
          <xs:element name="PayloadID" type="xs:string"/>
          <xs:element name="TimeStamp" type="xs:dateTime"/>
          <xs:element name="SenderID" type="xs:string"/>
          <xs:element name="ReceiverID" type="xs:string"/>
          <xs:element name="CORERuleVersion" type="xs:string"/>
          <xs:element name="Payload" type="xs:string" minOccurs="0"/>
          <xs:element name="ErrorCode" type="xs:string"/>
          <xs:element name="ErrorMessage" type="xs:string"/>
        </xs:sequence></xs:complexType>
      </xs:element>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="RealTimeRequestMessage"><wsdl:part name="body" element="CORE:COREEnvelopeRealTimeRequest"/></wsdl:message>
  <wsdl:message name="RealTimeResponseMessage"><wsdl:part name="body" element="CORE:COREEnvelopeRealTimeResponse"/></wsdl:message>
  <wsdl:portType name="CORETransactions">
    <wsdl:operation name="RealTimeTransaction">
      <wsdl:input message="tns:RealTimeRequestMessage"/>
      <wsdl:output message="tns:RealTimeResponseMessage"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="CoreSoapBinding" type="tns:CORETransactions">
    <soap12:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="RealTimeTransaction">
      <soap12:operation soapAction="RealTimeTransaction" style="document"/>
      <wsdl:input><soap12:body use="literal"/></wsdl:input>
      <wsdl:output><soap12:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="Core">
    <wsdl:port name="CoreSoapPort" binding="tns:CoreSoapBinding">
      <soap12:address location="{}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"#,
        escape(address)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const ISA: &str = "ISA*00*          *00*          *ZZ*SUBMTR77       *ZZ*CMS            *260302*1407*^*00501*000004711*0*P*:~GS*HS*SUBMTR77*CMS*20260302*1407*4711*X*005010X279A1~IEA*1*000004711~";

    fn example_soap(payload: &str) -> String {
        format!(
            r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"
               xmlns:core="http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd">
  <soap:Header>
    <wsse:Security soap:mustUnderstand="true"
        xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
      <wsse:UsernameToken>
        <wsse:Username>SUBMTR77</wsse:Username>
        <wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">s3cret-demo</wsse:Password>
      </wsse:UsernameToken>
    </wsse:Security>
  </soap:Header>
  <soap:Body>
    <core:COREEnvelopeRealTimeRequest>
      <PayloadType>X12_270_Request_005010X279A1</PayloadType>
      <ProcessingMode>RealTime</ProcessingMode>
      <PayloadID>0b9e4c2a-5d1f-4f7e-9c3a-7d20e1f4a6b8</PayloadID>
      <TimeStamp>2026-03-02T14:07:55Z</TimeStamp>
      <SenderID>SUBMTR77</SenderID>
      <ReceiverID>CMS</ReceiverID>
      <CORERuleVersion>2.2.0</CORERuleVersion>
      <Payload>{payload}</Payload>
    </core:COREEnvelopeRealTimeRequest>
  </soap:Body>
</soap:Envelope>"#
        )
    }

    #[test]
    fn spec_soap_example_parses_and_checks() {
        let req = parse_soap(example_soap(&format!("<![CDATA[{ISA}]]>")).as_bytes()).unwrap();
        assert_eq!(req.username.as_deref(), Some("SUBMTR77"));
        assert_eq!(req.password.as_deref(), Some("s3cret-demo"));
        let c = check(&req.fields, "SUBMTR77", "CMS").unwrap();
        assert_eq!(c.payload, ISA);
        assert_eq!(c.payload_id, "0b9e4c2a-5d1f-4f7e-9c3a-7d20e1f4a6b8");
    }

    #[test]
    fn escaped_payload_with_whitespace_and_qualified_children() {
        let escaped =
            format!("\n   {}\n  ", ISA.replace('*', "&#42;").replace('^', "&amp;#94;").replace("&amp;#94;", "^"));
        let xml = example_soap(&escaped)
            .replace("<PayloadType>", "<core:PayloadType>")
            .replace("</PayloadType>", "</core:PayloadType>");
        let req = parse_soap(xml.as_bytes()).unwrap();
        assert_eq!(req.fields.payload_type.as_deref(), Some(REQUEST_PAYLOAD_TYPE));
        assert_eq!(check(&req.fields, "SUBMTR77", "CMS").unwrap().payload, ISA);
        let amp = example_soap("a &lt;b&gt; &amp; c");
        assert_eq!(parse_soap(amp.as_bytes()).unwrap().fields.payload.as_deref(), Some("a <b> & c"));
    }

    #[test]
    fn soap_faults() {
        let v11 = example_soap("x").replace(SOAP12_NS, SOAP11_NS);
        assert_eq!(parse_soap(v11.as_bytes()).unwrap_err().code, "VersionMismatch");
        assert_eq!(parse_soap(b"<a><b></a>").unwrap_err().code, "Sender");
        assert_eq!(parse_soap(b"not xml").unwrap_err().status(), 400);
        let other = example_soap("x").replace("COREEnvelopeRealTimeRequest", "Other");
        assert_eq!(parse_soap(other.as_bytes()).unwrap_err().code, "Sender");
        let mu = example_soap("x")
            .replace("<soap:Header>", "<soap:Header><x:Foo xmlns:x=\"urn:x\" soap:mustUnderstand=\"1\"/>");
        assert_eq!(parse_soap(mu.as_bytes()).unwrap_err().code, "MustUnderstand");
    }

    #[test]
    fn namespaces_are_resolved_in_their_scopes() {
        let user = |xml: &str| parse_soap(xml.as_bytes()).map(|r| r.username);
        // The envelope in the default namespace, WS-Security's prefix declared on the envelope.
        let default_ns = example_soap("x")
            .replace("<soap:Envelope xmlns:soap=", "<Envelope xmlns=")
            .replace("</soap:Envelope>", "</Envelope>")
            .replace(" xmlns:core=", &format!(" xmlns:wsse=\"{WSSE_NS}\" xmlns:core="));
        assert_eq!(user(&default_ns).unwrap().as_deref(), Some("SUBMTR77"));
        // Declared on the header instead of the block.
        let on_header = example_soap("x")
            .replace(&format!("\n        xmlns:wsse=\"{WSSE_NS}\""), "")
            .replace("<soap:Header>", &format!("<soap:Header xmlns:wsse=\"{WSSE_NS}\">"));
        assert_eq!(user(&on_header).unwrap().as_deref(), Some("SUBMTR77"));
        // Declared only on an earlier sibling block: out of scope, so the Security block is an
        // unknown block that must be understood.
        let sibling = example_soap("x")
            .replace(&format!("\n        xmlns:wsse=\"{WSSE_NS}\""), "")
            .replace("<soap:Header>", &format!("<soap:Header><a:Other xmlns:a=\"urn:a\" xmlns:wsse=\"{WSSE_NS}\"/>"));
        assert_eq!(parse_soap(sibling.as_bytes()).unwrap_err().code, "MustUnderstand");
        // A block in another namespace that need not be understood is skipped, credentials and all.
        let foreign = example_soap("x").replace(WSSE_NS, "urn:not-wsse").replace("soap:mustUnderstand=\"true\"", "");
        assert_eq!(user(&foreign).unwrap(), None);
        // An envelope whose prefix nothing declares; one whose default namespace is taken away.
        let undeclared = example_soap("x").replace("xmlns:soap=", "xmlns:s=");
        assert!(parse_soap(undeclared.as_bytes()).unwrap_err().reason.contains("undeclared namespace prefix"));
        let emptied = default_ns.replace(&format!("<Envelope xmlns=\"{SOAP12_NS}\""), "<Envelope xmlns=\"\"");
        assert_eq!(parse_soap(emptied.as_bytes()).unwrap_err().code, "VersionMismatch");
    }

    #[test]
    fn checks_in_order() {
        let req = parse_soap(example_soap(ISA).as_bytes()).unwrap();
        let mut f = req.fields.clone();
        f.core_rule_version = Some("3.0.0".into());
        f.time_stamp = Some("yesterday".into());
        assert_eq!(check(&f, "SUBMTR77", "CMS").unwrap_err().code, ErrorCode::TimeStampIllegal);
        f.time_stamp = Some("2016-10-28T02:01:123Z".into());
        let e = check(&f, "SUBMTR77", "CMS").unwrap_err();
        assert_eq!(e.code, ErrorCode::VersionMismatch);
        assert_eq!(e.message, "CORERuleVersion 3.0.0 is not supported; use 2.2.0");
        f.payload_type = None;
        assert_eq!(check(&f, "SUBMTR77", "CMS").unwrap_err().code, ErrorCode::PayloadTypeRequired);
        let mut g = req.fields.clone();
        g.sender_id = Some("OTHER".into());
        assert_eq!(check(&g, "SUBMTR77", "CMS").unwrap_err().code, ErrorCode::UnAuthorized);
        let mut g = req.fields.clone();
        g.payload_type = Some("X12_276_Request_005010X212".into());
        assert_eq!(check(&g, "SUBMTR77", "CMS").unwrap_err().code, ErrorCode::PayloadTypeIllegal);
        let mut g = req.fields.clone();
        g.payload = Some("  ".into());
        assert_eq!(check(&g, "SUBMTR77", "CMS").unwrap_err().code, ErrorCode::PayloadRequired);
        let mut g = req.fields;
        g.payload_id = Some("12345".into());
        assert_eq!(check(&g, "SUBMTR77", "CMS").unwrap_err().code, ErrorCode::PayloadIdIllegal);
    }

    #[test]
    fn soap_response_round_trips_through_the_parser_shape() {
        let r = Response {
            payload_type: "X12_271_Response_005010X279A1".into(),
            payload_id: "0b9e4c2a-5d1f-4f7e-9c3a-7d20e1f4a6b8".into(),
            time_stamp: "2026-03-02T14:07:56Z".into(),
            sender_id: "CMS".into(),
            receiver_id: "SUBMTR77".into(),
            payload: Some(ISA.into()),
            error_code: ErrorCode::Success,
            error_message: "Envelope processed".into(),
        };
        let xml = write_soap(&r);
        assert!(xml.contains(&format!("<Payload><![CDATA[{ISA}]]></Payload><ErrorCode>Success</ErrorCode>")));
        assert!(xml.contains("<SenderID>CMS</SenderID><ReceiverID>SUBMTR77</ReceiverID>"));
        let fault = write_fault(&auth_fault("bad"));
        assert!(fault.contains("wsse:FailedAuthentication"));
    }

    #[test]
    fn mime_lf_or_crlf_any_order() {
        let fields = [
            ("ProcessingMode", "RealTime"),
            ("PayloadType", REQUEST_PAYLOAD_TYPE),
            ("PayloadID", "5f3c1e90-8a2b-4c6d-b1e7-2a9f0c4d8e13"),
            ("TimeStamp", "2026-03-02T14:10:03Z"),
            ("UserName", "SUBMTR77"),
            ("Password", "s3cret-demo"),
            ("SenderID", "SUBMTR77"),
            ("ReceiverID", "CMS"),
            ("CORERuleVersion", "2.2.0"),
            ("Payload", ISA),
        ];
        for eol in ["\r\n", "\n"] {
            let mut body = String::new();
            for (k, v) in fields {
                body.push_str(&format!("--b7Q2x{eol}Content-Disposition: form-data; name=\"{k}\"{eol}{eol}{v}{eol}"));
            }
            body.push_str("--b7Q2x--");
            body.push_str(eol);
            let b = boundary("multipart/form-data; boundary=\"b7Q2x\"; charset=utf-8").unwrap();
            let f = parse_multipart(body.as_bytes(), &b).unwrap();
            assert_eq!(f.user_name.as_deref(), Some("SUBMTR77"));
            assert_eq!(check(&f, "SUBMTR77", "CMS").unwrap().payload, ISA);
        }
        assert!(parse_multipart(b"garbage", "b7Q2x").is_err());
        assert!(
            parse_multipart(b"--b7Q2x\r\nContent-Disposition: form-data; name=\"A\"\r\n\r\nv\r\n", "b7Q2x").is_err()
        );
        assert_eq!(boundary("text/plain; boundary=x"), None);
    }

    #[test]
    fn mime_response_is_strict_crlf() {
        let r = Response {
            payload_type: ENVELOPE_ERROR_PAYLOAD_TYPE.into(),
            payload_id: "x".into(),
            time_stamp: "t".into(),
            sender_id: "CMS".into(),
            receiver_id: "S".into(),
            payload: None,
            error_code: ErrorCode::VersionMismatch,
            error_message: "m".into(),
        };
        let body = String::from_utf8(write_multipart(&r)).unwrap();
        assert!(!body.replace("\r\n", "").contains('\n'));
        let f = parse_multipart(body.as_bytes(), RESPONSE_BOUNDARY).unwrap();
        assert_eq!(f.payload_type.as_deref(), Some(ENVELOPE_ERROR_PAYLOAD_TYPE));
        assert!(body.ends_with("--\r\n"));
    }

    #[test]
    fn trims_but_keeps_a_whitespace_terminator() {
        let nl = ISA.replace('~', "\n");
        assert_eq!(trim_payload(&format!("  {nl}\n  ")), nl);
        assert_eq!(trim_payload(&format!("\n{ISA}\n")), ISA);
    }
}
