//! The CORE vC2.2.0 real-time envelope as a client writes and reads it: the SOAP 1.2 request
//! (WS-Security UsernameToken), the `multipart/form-data` request, and both kinds of response.

use quick_xml::events::Event;
use std::borrow::Cow;

pub const PAYLOAD_TYPE_270: &str = "X12_270_Request_005010X279A1";
pub const PAYLOAD_TYPE_271: &str = "X12_271_Response_005010X279A1";
pub const PAYLOAD_TYPE_999: &str = "X12_999_Response_005010X231A1";
pub const PAYLOAD_TYPE_TA1: &str = "X12_TA1_Response_00501X231A1";
pub const CORE_RULE_VERSION: &str = "2.2.0";
pub const SOAP_PATH: &str = "/eligibility/realtime/soap";
pub const MIME_PATH: &str = "/eligibility/realtime/mime";
pub const SOAP_CONTENT_TYPE: &str = "application/soap+xml; charset=utf-8";
const SOAP_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
const CORE_NS: &str = "http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd";
const WSSE_NS: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const PASSWORD_TEXT: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";
/// The multipart boundary of every MIME request: it cannot occur in an X12 interchange (no
/// `=` run of this shape) nor in the other fields.
pub const MIME_BOUNDARY: &str = "hets-send-7f3a9c2e5b1d4086";

/// SOAP or MIME.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Soap,
    Mime,
}

impl Mode {
    pub fn path(self) -> &'static str {
        match self {
            Mode::Soap => SOAP_PATH,
            Mode::Mime => MIME_PATH,
        }
    }
}

/// What goes into one real-time request envelope.
#[derive(Clone, Debug)]
pub struct RequestFields<'a> {
    pub payload_id: &'a str,
    /// ISO 8601, UTC (`2026-03-02T14:07:55Z`).
    pub timestamp: &'a str,
    pub sender: &'a str,
    pub receiver: &'a str,
    /// Username and password; `None` when a client certificate authenticates.
    pub credentials: Option<(&'a str, &'a str)>,
    pub payload: &'a [u8],
}

/// A request body and its content type.
#[derive(Clone, Debug)]
pub struct Body {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Builds the request body for `mode`.
pub fn request(mode: Mode, f: &RequestFields<'_>) -> Body {
    match mode {
        Mode::Soap => Body { content_type: SOAP_CONTENT_TYPE.to_string(), bytes: soap_request(f) },
        Mode::Mime => {
            Body { content_type: format!("multipart/form-data; boundary={MIME_BOUNDARY}"), bytes: mime_request(f) }
        }
    }
}

fn xml_escape(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            _ => out.push(b),
        }
    }
}

fn element(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(b"<");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b">");
    xml_escape(out, value.as_bytes());
    out.extend_from_slice(b"</");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b">");
}

/// The SOAP 1.2 `COREEnvelopeRealTimeRequest`, children unqualified in the XSD's order, the X12
/// in CDATA (escaped instead if it holds `]]>`).
pub fn soap_request(f: &RequestFields<'_>) -> Vec<u8> {
    let mut o = Vec::with_capacity(1200 + f.payload.len());
    o.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    o.extend_from_slice(format!("<soap:Envelope xmlns:soap=\"{SOAP_NS}\" xmlns:core=\"{CORE_NS}\">").as_bytes());
    match f.credentials {
        Some((user, password)) => {
            o.extend_from_slice(
                format!(
                    "<soap:Header><wsse:Security soap:mustUnderstand=\"true\" xmlns:wsse=\"{WSSE_NS}\">\
                     <wsse:UsernameToken><wsse:Username>"
                )
                .as_bytes(),
            );
            xml_escape(&mut o, user.as_bytes());
            o.extend_from_slice(format!("</wsse:Username><wsse:Password Type=\"{PASSWORD_TEXT}\">").as_bytes());
            xml_escape(&mut o, password.as_bytes());
            o.extend_from_slice(b"</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>");
        }
        None => o.extend_from_slice(b"<soap:Header/>"),
    }
    o.extend_from_slice(b"<soap:Body><core:COREEnvelopeRealTimeRequest>");
    element(&mut o, "PayloadType", PAYLOAD_TYPE_270);
    element(&mut o, "ProcessingMode", "RealTime");
    element(&mut o, "PayloadID", f.payload_id);
    element(&mut o, "TimeStamp", f.timestamp);
    element(&mut o, "SenderID", f.sender);
    element(&mut o, "ReceiverID", f.receiver);
    element(&mut o, "CORERuleVersion", CORE_RULE_VERSION);
    o.extend_from_slice(b"<Payload>");
    if memchr::memmem::find(f.payload, b"]]>").is_some() {
        xml_escape(&mut o, f.payload);
    } else {
        o.extend_from_slice(b"<![CDATA[");
        o.extend_from_slice(f.payload);
        o.extend_from_slice(b"]]>");
    }
    o.extend_from_slice(b"</Payload></core:COREEnvelopeRealTimeRequest></soap:Body></soap:Envelope>");
    o
}

fn part(o: &mut Vec<u8>, name: &str, value: &[u8]) {
    o.extend_from_slice(b"--");
    o.extend_from_slice(MIME_BOUNDARY.as_bytes());
    o.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
    o.extend_from_slice(name.as_bytes());
    o.extend_from_slice(b"\"\r\n\r\n");
    o.extend_from_slice(value);
    o.extend_from_slice(b"\r\n");
}

/// The `multipart/form-data` request: the ten real-time fields (eight without credentials),
/// strict CRLF, no preamble or epilogue.
pub fn mime_request(f: &RequestFields<'_>) -> Vec<u8> {
    let mut o = Vec::with_capacity(1200 + f.payload.len());
    part(&mut o, "PayloadType", PAYLOAD_TYPE_270.as_bytes());
    part(&mut o, "ProcessingMode", b"RealTime");
    part(&mut o, "PayloadID", f.payload_id.as_bytes());
    part(&mut o, "TimeStamp", f.timestamp.as_bytes());
    if let Some((user, password)) = f.credentials {
        part(&mut o, "UserName", user.as_bytes());
        part(&mut o, "Password", password.as_bytes());
    }
    part(&mut o, "SenderID", f.sender.as_bytes());
    part(&mut o, "ReceiverID", f.receiver.as_bytes());
    part(&mut o, "CORERuleVersion", CORE_RULE_VERSION.as_bytes());
    part(&mut o, "Payload", f.payload);
    o.extend_from_slice(b"--");
    o.extend_from_slice(MIME_BOUNDARY.as_bytes());
    o.extend_from_slice(b"--\r\n");
    o
}

/// A real-time response envelope (either binding), or a SOAP fault.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub payload_type: String,
    pub processing_mode: String,
    pub payload_id: String,
    pub timestamp: String,
    pub sender: String,
    pub receiver: String,
    pub core_rule_version: String,
    pub payload: Vec<u8>,
    pub error_code: String,
    pub error_message: String,
    /// A SOAP fault: the code values (Code, Subcode...) and the reason text.
    pub fault: Option<(Vec<String>, String)>,
}

impl Response {
    fn set(&mut self, field: &str, value: Vec<u8>) {
        let text = || String::from_utf8_lossy(&value).trim().to_string();
        match field {
            "PayloadType" => self.payload_type = text(),
            "ProcessingMode" => self.processing_mode = text(),
            "PayloadID" => self.payload_id = text(),
            "TimeStamp" => self.timestamp = text(),
            "SenderID" => self.sender = text(),
            "ReceiverID" => self.receiver = text(),
            "CORERuleVersion" => self.core_rule_version = text(),
            "ErrorCode" => self.error_code = text(),
            "ErrorMessage" => self.error_message = text(),
            "Payload" => self.payload = trim_ascii(&value).to_vec(),
            _ => {}
        }
    }

    /// True when anything of an envelope or fault was read.
    pub fn is_envelope(&self) -> bool {
        !self.error_code.is_empty() || !self.payload_type.is_empty() || self.fault.is_some()
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Reads a SOAP response: the `COREEnvelopeRealTimeResponse` children by local name (any prefix,
/// qualified or not), the Payload from CDATA or escaped text, or a SOAP 1.2 fault.
pub fn parse_soap(body: &[u8]) -> Option<Response> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut r = Response::default();
    // The open elements' local names.
    let mut stack: Vec<String> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut in_fault = false;
    let mut fault_codes = Vec::new();
    let mut fault_reason = String::new();
    let mut seen = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == "COREEnvelopeRealTimeResponse" || name == "COREEnvelopeRealTimeRequest" {
                    seen = true;
                }
                if name == "Fault" {
                    in_fault = true;
                }
                stack.push(name);
                buf.clear();
            }
            Ok(Event::Empty(_)) => {}
            Ok(Event::Text(t)) => buf.extend_from_slice(t.decode().ok()?.as_bytes()),
            Ok(Event::CData(t)) => buf.extend_from_slice(&t.into_inner()),
            Ok(Event::GeneralRef(g)) => {
                if let Ok(Some(c)) = g.resolve_char_ref() {
                    let mut tmp = [0u8; 4];
                    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                } else {
                    let name = g.decode().ok()?;
                    let v = quick_xml::escape::resolve_predefined_entity(&name)?;
                    buf.extend_from_slice(v.as_bytes());
                }
            }
            Ok(Event::End(_)) => {
                let name = stack.pop().unwrap_or_default();
                let parent = stack.last().map(String::as_str).unwrap_or("");
                if in_fault {
                    match name.as_str() {
                        "Value" => fault_codes.push(String::from_utf8_lossy(&buf).trim().to_string()),
                        "Text" => fault_reason = String::from_utf8_lossy(&buf).trim().to_string(),
                        "Fault" => in_fault = false,
                        _ => {}
                    }
                } else if parent == "COREEnvelopeRealTimeResponse" || parent == "COREEnvelopeRealTimeRequest" {
                    r.set(&name, std::mem::take(&mut buf));
                }
                buf.clear();
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    if !fault_codes.is_empty() || !fault_reason.is_empty() {
        r.fault = Some((fault_codes, fault_reason));
    } else if !seen {
        return None;
    }
    Some(r)
}

/// The `boundary` parameter of a `multipart/...` content type, quoted or not.
pub fn boundary(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"'))
    })
}

/// The parts of a multipart body as (headers, value); CRLF or bare LF.
fn parts<'b>(content_type: &str, body: &'b [u8]) -> Option<Vec<(String, &'b [u8])>> {
    let b = boundary(content_type)?;
    let delimiter = format!("--{b}");
    let finder = memchr::memmem::Finder::new(delimiter.as_bytes());
    let starts: Vec<usize> = finder.find_iter(body).collect();
    let mut out = Vec::new();
    for w in starts.windows(2) {
        let (s, e) = (w[0] + delimiter.len(), w[1]);
        let Some(chunk) = body.get(s..e) else { continue };
        // The line break before the next delimiter belongs to the delimiter.
        let chunk = chunk.strip_suffix(b"\n").unwrap_or(chunk);
        let chunk = chunk.strip_suffix(b"\r").unwrap_or(chunk);
        let chunk = chunk.strip_prefix(b"\r").unwrap_or(chunk);
        let chunk = chunk.strip_prefix(b"\n").unwrap_or(chunk);
        let (headers, value) = match memchr::memmem::find(chunk, b"\r\n\r\n") {
            Some(i) => (&chunk[..i], &chunk[i + 4..]),
            None => match memchr::memmem::find(chunk, b"\n\n") {
                Some(i) => (&chunk[..i], &chunk[i + 2..]),
                None => continue,
            },
        };
        out.push((String::from_utf8_lossy(headers).into_owned(), value));
    }
    Some(out)
}

/// Reads a `multipart/form-data` response: fields by name, CRLF or bare LF.
pub fn parse_mime(content_type: &str, body: &[u8]) -> Option<Response> {
    let mut r = Response::default();
    let mut any = false;
    for (headers, value) in parts(content_type, body)? {
        let name = headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            v.split(';').find_map(|p| {
                let (k, v) = p.trim().split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches('"').to_string())
            })
        });
        if let Some(name) = name {
            any = true;
            r.set(&name, value.to_vec());
        }
    }
    any.then_some(r)
}

/// The response, whichever binding it came in. Some real-time servers wrap their SOAP reply in
/// MTOM (`multipart/related`): the first part holds the envelope.
pub fn parse(content_type: &str, body: &[u8]) -> Option<Response> {
    let lower = content_type.to_ascii_lowercase();
    if lower.starts_with("multipart/related") {
        let parts = parts(content_type, body)?;
        parse_soap(parts.first()?.1)
    } else if lower.starts_with("multipart/") {
        parse_mime(content_type, body)
    } else {
        parse_soap(body)
    }
}

/// Lossy text of a body for a message.
pub fn text(body: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(body)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn fields() -> RequestFields<'static> {
        RequestFields {
            payload_id: "0b9e4c2a-5d1f-4f7e-9c3a-7d20e1f4a6b8",
            timestamp: "2026-03-02T14:07:55Z",
            sender: "SUBMTR77",
            receiver: "CMS",
            credentials: Some(("SUBMTR77", "s3cret<&>")),
            payload: b"ISA*00*~IEA*1*000004711~",
        }
    }

    #[test]
    fn soap_request_reads_back() {
        let body = soap_request(&fields());
        let s = String::from_utf8(body.clone()).unwrap();
        assert!(s.contains("<wsse:Password Type=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText\">s3cret&lt;&amp;&gt;</wsse:Password>"));
        assert!(s.contains("<Payload><![CDATA[ISA*00*~IEA*1*000004711~]]></Payload>"));
        let r = parse_soap(&body).unwrap();
        assert_eq!(r.payload_type, PAYLOAD_TYPE_270);
        assert_eq!(r.payload_id, "0b9e4c2a-5d1f-4f7e-9c3a-7d20e1f4a6b8");
        assert_eq!(r.payload, b"ISA*00*~IEA*1*000004711~");
    }

    #[test]
    fn soap_payload_with_cdata_end_is_escaped() {
        let mut f = fields();
        f.payload = b"A]]>B&";
        let body = soap_request(&f);
        assert!(String::from_utf8_lossy(&body).contains("<Payload>A]]&gt;B&amp;</Payload>"));
        assert_eq!(parse_soap(&body).unwrap().payload, b"A]]>B&");
    }

    #[test]
    fn mime_request_reads_back() {
        let body = mime_request(&fields());
        let ct = format!("multipart/form-data; boundary=\"{MIME_BOUNDARY}\"");
        let r = parse_mime(&ct, &body).unwrap();
        assert_eq!(r.payload_type, PAYLOAD_TYPE_270);
        assert_eq!(r.sender, "SUBMTR77");
        assert_eq!(r.payload, b"ISA*00*~IEA*1*000004711~");
        assert!(body.ends_with(format!("--{MIME_BOUNDARY}--\r\n").as_bytes()));
    }

    #[test]
    fn mime_response_with_bare_lf() {
        let body = b"--xx\nContent-Disposition: form-data; name=\"ErrorCode\"\n\nVersionMismatch\n--xx\nContent-Disposition: form-data; name=ErrorMessage\n\nuse 2.2.0\n--xx--\n";
        let r = parse_mime("multipart/form-data; boundary=xx; charset=utf-8", body).unwrap();
        assert_eq!(r.error_code, "VersionMismatch");
        assert_eq!(r.error_message, "use 2.2.0");
    }

    #[test]
    fn soap_response_with_qualified_children_and_padding() {
        let body = b"<?xml version=\"1.0\"?>\n<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>\n<c:COREEnvelopeRealTimeResponse xmlns:c=\"http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd\">\n<c:PayloadType>X12_271_Response_005010X279A1</c:PayloadType>\n<c:PayloadID> 0b9e4c2a-5d1f-4f7e-9c3a-7d20e1f4a6b8 </c:PayloadID>\n<c:Payload>\n  ISA*00*&amp;~IEA*1*1~\n</c:Payload><c:ErrorCode>Success</c:ErrorCode><c:ErrorMessage>ok &#65;</c:ErrorMessage></c:COREEnvelopeRealTimeResponse></s:Body></s:Envelope>";
        let r = parse_soap(body).unwrap();
        assert_eq!(r.payload_type, PAYLOAD_TYPE_271);
        assert_eq!(r.payload_id, "0b9e4c2a-5d1f-4f7e-9c3a-7d20e1f4a6b8");
        assert_eq!(r.payload, b"ISA*00*&~IEA*1*1~");
        assert_eq!(r.error_message, "ok A");
    }

    #[test]
    fn mtom_wrapped_soap_response() {
        let soap = String::from_utf8(soap_request(&fields())).unwrap().replace("RealTimeRequest", "RealTimeResponse");
        let body = format!(
            "--MIMEBoundary_1\r\nContent-Type: application/xop+xml; charset=utf-8; type=\"application/soap+xml\"\r\nContent-ID: <root>\r\n\r\n{soap}\r\n--MIMEBoundary_1--\r\n"
        );
        let ct = "multipart/related; type=\"application/xop+xml\"; boundary=\"MIMEBoundary_1\"; start=\"<root>\"";
        let r = parse(ct, body.as_bytes()).unwrap();
        assert_eq!(r.payload, b"ISA*00*~IEA*1*000004711~");
    }

    #[test]
    fn soap_fault() {
        let body = br#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>wsse:FailedAuthentication</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">The security token could not be authenticated</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#;
        let r = parse_soap(body).unwrap();
        let (codes, reason) = r.fault.unwrap();
        assert_eq!(codes, ["env:Sender", "wsse:FailedAuthentication"]);
        assert_eq!(reason, "The security token could not be authenticated");
    }
}
