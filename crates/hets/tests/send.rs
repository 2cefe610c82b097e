//! `hets send` against a stub CORE server that records each request and answers with a canned
//! response: the exact SOAP and MIME fields, what is printed, exit statuses, and load mode.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

const HETS: &str = env!("CARGO_BIN_EXE_hets");
const AT: &str = "2026-11-16T09:30:00Z";
const PERSONAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml");

// ---------------------------------------------------------------------------------------------
// Canned X12 answers, made once by `hets respond` on the demo dataset.

struct Canned {
    r271: String,
    r999: String,
}

fn canned() -> &'static Canned {
    static C: OnceLock<Canned> = OnceLock::new();
    C.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("hets.db").display());
        let store = store::open(&url).unwrap();
        let personas = eligibility::Personas::from_toml(&std::fs::read_to_string(PERSONAS).unwrap()).unwrap();
        store::load_personas(store.as_ref(), &personas).unwrap();
        drop(store);
        let respond = |x12: &str| {
            let (_, out, _) = run(&["respond", "--db", &url, "--submitter", "WDEMO001", "--at", AT], x12);
            out.trim().to_string()
        };
        let r271 = respond(&inquiry("EQ*30"));
        assert!(r271.contains("ST*271*"), "{r271}");
        let r999 = respond(&inquiry("EQ*ZZZ"));
        assert!(r999.contains("ST*999*"), "{r999}");
        Canned { r271, r999 }
    })
}

fn inquiry(eq: &str) -> String {
    let segs = [
        "ST*270*0001*005010X279A1",
        "BHT*0022*13*REF4711*20261116*0930",
        "HL*1**20*1",
        "NM1*PR*2*CMS*****PI*CMS",
        "HL*2*1*21*1",
        "NM1*1P*2*BAYSIDE FAMILY MEDICINE*****XX*1125213722",
        "HL*3*2*22*0",
        "TRN*1*TRACE99*9WDEMO0001",
        "NM1*IL*1*HARTWELL*MARGARET****MI*2DG9NX3WK42",
        "DMG*D8*19510314",
        "DTP*291*RD8*20260101-20261116",
        eq,
        "SE*13*0001",
    ];
    format!(
        "ISA*00*          *00*          *ZZ*WDEMO001       *ZZ*CMS            *261116*0930*^*00501*000000042*0*P*|~GS*HS*WDEMO001*CMS*20261116*0930*42*X*005010X279A1~{}~GE*1*42~IEA*1*000000042~",
        segs.join("~")
    )
}

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(HETS)
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// The stub server: HTTP/1.1 keep-alive, one thread per connection.

#[derive(Clone, Debug)]
struct Recorded {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

#[derive(Clone)]
struct Canned200 {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

struct Stub {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

fn stub(answer: impl Fn(&Recorded) -> Canned200 + Send + Sync + 'static) -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let recorded = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (answer, recorded) = (Arc::clone(&answer), Arc::clone(&recorded));
            std::thread::spawn(move || serve_connection(stream, &*answer, &recorded, &[]));
        }
    });
    Stub { url, requests }
}

fn serve_connection(
    stream: impl Read + Write,
    answer: &dyn Fn(&Recorded) -> Canned200,
    recorded: &Mutex<Vec<Recorded>>,
    extra: &[(&str, &str)],
) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        for (k, v) in extra {
            headers.insert(k.to_string(), v.to_string());
        }
        let req = Recorded { method, path, headers, body };
        let a = answer(&req);
        {
            let mut r = recorded.lock().unwrap();
            if r.len() < 100 {
                r.push(req);
            }
        }
        let head = format!(
            "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}\r\n",
            a.status,
            a.content_type,
            a.body.len(),
            // Overload and maintenance answers say when to come back.
            if a.status == 503 { "Retry-After: 30\r\n" } else { "" }
        );
        let writer = reader.get_mut();
        if writer.write_all(head.as_bytes()).is_err() || writer.write_all(&a.body).is_err() || writer.flush().is_err() {
            return;
        }
    }
}

fn soap_response(payload_type: &str, payload: &str, code: &str, message: &str) -> Vec<u8> {
    let payload = if payload.is_empty() { String::new() } else { format!("<Payload><![CDATA[{payload}]]></Payload>") };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><core:COREEnvelopeRealTimeResponse xmlns:core="http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd"><PayloadType>{payload_type}</PayloadType><ProcessingMode>RealTime</ProcessingMode><PayloadID>0b9e4c2a-5d1f-4f7e-9c3a-7d20e1f4a6b8</PayloadID><TimeStamp>2026-03-02T14:07:56Z</TimeStamp><SenderID>CMS</SenderID><ReceiverID>WDEMO001</ReceiverID><CORERuleVersion>2.2.0</CORERuleVersion>{payload}<ErrorCode>{code}</ErrorCode><ErrorMessage>{message}</ErrorMessage></core:COREEnvelopeRealTimeResponse></soap:Body></soap:Envelope>"#
    )
    .into_bytes()
}

fn soap_ok(payload_type: &str, payload: &str) -> Canned200 {
    Canned200 {
        status: 200,
        content_type: "application/soap+xml; charset=utf-8".into(),
        body: soap_response(payload_type, payload, "Success", "Envelope processed"),
    }
}

fn mime_response(status: u16, fields: &[(&str, &str)]) -> Canned200 {
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!("--RESP\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"));
    }
    body.push_str("--RESP--\r\n");
    Canned200 { status, content_type: "multipart/form-data; boundary=RESP".into(), body: body.into_bytes() }
}

/// The flags that build a 270 about the original-medicare persona.
const PERSON: &[&str] = &[
    "--npi",
    "1125213722",
    "--mbi",
    "2DG9NX3WK42",
    "--last",
    "Hartwell",
    "--first",
    "Margaret",
    "--dob",
    "1951-03-14",
];

fn send(url: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["send", "--url", url, "--user", "WDEMO001", "--password", "demo-clearinghouse-pass"];
    args.extend_from_slice(extra);
    run(&args, "")
}

fn with_person(extra: &[&str]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = PERSON.to_vec();
    for e in extra {
        v.push(Box::leak(e.to_string().into_boxed_str()));
    }
    v
}

/// The text of a SOAP child element `<name>...</name>`.
fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{name}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{name}>")).unwrap() + start;
    &xml[start..end]
}

fn assert_uuid_v4(id: &str) {
    assert_eq!(id.len(), 36, "{id}");
    let b = id.as_bytes();
    assert!(b[8] == b'-' && b[13] == b'-' && b[18] == b'-' && b[23] == b'-', "{id}");
    assert_eq!(b[14], b'4', "{id}");
    assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
}

fn assert_timestamp(ts: &str) {
    assert_eq!(ts.len(), 20, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
}

/// Writes `text` as `send-<name>.x12` into `$HETS_CONFORMANCE_DIR` (CI's independent X12 judge).
fn conformance(name: &str, text: &str) {
    if let Some(dir) = std::env::var_os("HETS_CONFORMANCE_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("send-{name}.x12")), text.trim()).unwrap();
    }
}

/// The 270 a request carried, checked as an X12 270 from `sender`.
fn assert_270(payload: &str, sender: &str) {
    assert!(
        payload.starts_with(&format!("ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*CMS            *")),
        "{payload}"
    );
    assert!(payload.contains(&format!("~GS*HS*{sender}*CMS*")), "{payload}");
    assert!(payload.contains("NM1*IL*1*HARTWELL*MARGARET****MI*2DG9NX3WK42~DMG*D8*19510314~"), "{payload}");
    match x12::check_270(payload.as_bytes(), &x12::Rules::default()) {
        x12::Checked::Accepted { .. } => {}
        other => panic!("not an accepted 270: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// SOAP

#[test]
fn soap_request_fields_and_271_explained() {
    let c = canned();
    let s = stub(|_| soap_ok("X12_271_Response_005010X279A1", &canned().r271));
    let (code, out, err) = send(
        &s.url,
        &with_person(&["--from", "2026-01-01", "--to", "20261116", "--service", "30,42", "--hcpcs", "G0439,80061"]),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    // The explanation, not the raw X12.
    assert!(!out.contains("ST*271"), "{out}");
    assert!(out.contains("HARTWELL"), "{out}");
    assert!(!c.r271.is_empty());

    let reqs = s.requests.lock().unwrap();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/eligibility/realtime/soap"));
    assert_eq!(r.headers["content-type"], "application/soap+xml; charset=utf-8");
    assert_eq!(r.headers["host"], s.url.trim_start_matches("http://"));
    let xml = String::from_utf8(r.body.clone()).unwrap();
    assert!(xml.contains(r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:core="http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd">"#), "{xml}");
    assert!(xml.contains(r#"<wsse:Security soap:mustUnderstand="true" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>WDEMO001</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">demo-clearinghouse-pass</wsse:Password></wsse:UsernameToken></wsse:Security>"#), "{xml}");
    assert!(xml.contains("<soap:Body><core:COREEnvelopeRealTimeRequest><PayloadType>"), "{xml}");
    // The XSD's order, children unqualified.
    let order = [
        "PayloadType",
        "ProcessingMode",
        "PayloadID",
        "TimeStamp",
        "SenderID",
        "ReceiverID",
        "CORERuleVersion",
        "Payload",
    ];
    let positions: Vec<usize> = order.iter().map(|n| xml.find(&format!("<{n}>")).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{xml}");
    assert_eq!(element(&xml, "PayloadType"), "X12_270_Request_005010X279A1");
    assert_eq!(element(&xml, "ProcessingMode"), "RealTime");
    assert_uuid_v4(element(&xml, "PayloadID"));
    assert_timestamp(element(&xml, "TimeStamp"));
    assert_eq!(element(&xml, "SenderID"), "WDEMO001");
    assert_eq!(element(&xml, "ReceiverID"), "CMS");
    assert_eq!(element(&xml, "CORERuleVersion"), "2.2.0");
    let payload = element(&xml, "Payload");
    let payload = payload.strip_prefix("<![CDATA[").unwrap().strip_suffix("]]>").unwrap();
    assert_270(payload, "WDEMO001");
    assert!(payload.contains("~DTP*291*RD8*20260101-20261116~EQ*30^42~EQ**HC|G0439~EQ**HC|80061~SE*"), "{payload}");
    conformance("270-soap-flags", payload);
}

#[test]
fn raw_prints_the_271_as_it_came() {
    let s = stub(|_| soap_ok("X12_271_Response_005010X279A1", &canned().r271));
    let (code, out, err) = send(&s.url, &with_person(&["--date", "2026-11-16", "--raw"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), canned().r271);
    let reqs = s.requests.lock().unwrap();
    let xml = String::from_utf8(reqs[0].body.clone()).unwrap();
    assert!(xml.contains("~DTP*291*D8*20261116~EQ*30~SE*"), "{xml}");
}

#[test]
fn file_from_stdin_and_submitter_override() {
    let s = stub(|_| soap_ok("X12_271_Response_005010X279A1", &canned().r271));
    let x12 = inquiry("EQ*30");
    let args = [
        "send",
        "--url",
        &s.url,
        "--user",
        "WDEMO001",
        "--password",
        "pw",
        "--submitter",
        "WDEMO001",
        "--file",
        "-",
        "--raw",
    ];
    let (code, out, err) = run(&args, &x12);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ST*271*"));
    let reqs = s.requests.lock().unwrap();
    let xml = String::from_utf8(reqs[0].body.clone()).unwrap();
    assert_eq!(element(&xml, "Payload"), format!("<![CDATA[{x12}]]>"));
}

#[test]
fn a_999_is_printed_raw_and_exits_1() {
    let s = stub(|_| soap_ok("X12_999_Response_005010X231A1", &canned().r999));
    let (code, out, err) = send(&s.url, PERSON);
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(out.trim(), canned().r999);
    assert!(err.contains("999"), "{err}");
}

#[test]
fn a_ta1_with_an_empty_error_code_is_still_printed() {
    let ta1 = "ISA*00*          *00*          *ZZ*CMS            *ZZ*WDEMO001       *261116*0930*^*00501*000000001*0*P*|~TA1*000000042*261116*0930*R*006~IEA*0*000000001~";
    let s = stub(move |_| Canned200 {
        status: 200,
        content_type: "application/soap+xml; charset=utf-8".into(),
        body: soap_response("X12_TA1_Response_00501X231A1", ta1, "", ""),
    });
    let (code, out, err) = send(&s.url, PERSON);
    assert_eq!(code, 1, "{out}\n{err}");
    assert_eq!(out.trim(), ta1);
    assert!(err.contains("a TA1"), "{err}");
}

#[test]
fn an_envelope_error_prints_code_and_message_and_exits_1() {
    let s = stub(|_| Canned200 {
        status: 200,
        content_type: "application/soap+xml; charset=utf-8".into(),
        body: soap_response(
            "CoreEnvelopeError",
            "",
            "VersionMismatch",
            "CORERuleVersion 3.0.0 is not supported; use 2.2.0",
        ),
    });
    let (code, out, err) = send(&s.url, PERSON);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("ErrorCode: VersionMismatch"), "{err}");
    assert!(err.contains("ErrorMessage: CORERuleVersion 3.0.0 is not supported; use 2.2.0"), "{err}");
}

#[test]
fn a_soap_fault_exits_1() {
    let s = stub(|_| {
        Canned200 {
        status: 400,
        content_type: "application/soap+xml; charset=utf-8".into(),
        body: br#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>wsse:FailedAuthentication</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Authentication failed</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#.to_vec(),
    }
    });
    let (code, _, err) = send(&s.url, PERSON);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HTTP 400"), "{err}");
    assert!(err.contains("SOAP fault: env:Sender / wsse:FailedAuthentication: Authentication failed"), "{err}");
}

#[test]
fn an_http_error_prints_status_and_body_and_exits_1() {
    let s =
        stub(|_| Canned200 { status: 503, content_type: "text/plain".into(), body: b"down for maintenance".to_vec() });
    let (code, _, err) = send(&s.url, PERSON);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HTTP 503"), "{err}");
    assert!(err.contains("down for maintenance"), "{err}");
    assert!(err.contains("retry after 30 s"), "{err}");
}

#[test]
fn the_password_may_come_from_the_environment() {
    let s = stub(|_| soap_ok("X12_271_Response_005010X279A1", &canned().r271));
    let mut args = vec!["send", "--url", &s.url, "--user", "WDEMO001"];
    args.extend_from_slice(PERSON);
    let out = Command::new(HETS).args(&args).env("HETS_PASSWORD", "from-env").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let reqs = s.requests.lock().unwrap();
    assert!(String::from_utf8_lossy(&reqs[0].body).contains(">from-env</wsse:Password>"));
}

#[test]
fn nothing_listening_exits_1() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (code, _, err) = send(&format!("http://127.0.0.1:{port}"), PERSON);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("connecting to"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let url = "http://127.0.0.1:9";
    // A missing beneficiary field.
    let (code, _, err) = send(url, &["--npi", "1125213722", "--mbi", "2DG9NX3WK42", "--last", "X", "--first", "Y"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--dob"), "{err}");
    // A date that is not one.
    let (code, _, err) = send(url, &with_person(&["--date", "2026-02-30"]));
    assert_eq!(code, 2, "{err}");
    // A service type that is not one.
    let (code, _, _) = send(url, &with_person(&["--service", "QQQ"]));
    assert_eq!(code, 2);
    // No credentials.
    let mut args = vec!["send", "--url", url];
    args.extend_from_slice(PERSON);
    assert_eq!(run(&args, "").0, 2);
    // --user without --password.
    let mut args = vec!["send", "--url", url, "--user", "WDEMO001"];
    args.extend_from_slice(PERSON);
    assert_eq!(run(&args, "").0, 2);
    // An unknown mode, --file with building flags, a bad URL.
    assert_eq!(send(url, &with_person(&["--mode", "rest"])).0, 2);
    assert_eq!(send(url, &with_person(&["--file", "x.x12"])).0, 2);
    assert_eq!(send("ftp://x", PERSON).0, 2);
    // --cert over plain HTTP.
    let mut args = vec!["send", "--url", url, "--submitter", "WDEMO001", "--cert", "c.pem", "--key", "k.pem"];
    args.extend_from_slice(PERSON);
    assert_eq!(run(&args, "").0, 2);
}

// ---------------------------------------------------------------------------------------------
// MIME

/// The parts of a multipart body, strictly CRLF, in order.
fn parts(content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=").expect(content_type);
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")), "{text}");
    assert!(!text.replace("\r\n", "").contains('\n'), "a bare LF in {text}");
    let mut out = Vec::new();
    for chunk in text.split(&format!("--{boundary}")).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix("\r\n").unwrap().strip_suffix("\r\n").unwrap();
        let (head, value) = chunk.split_once("\r\n\r\n").unwrap();
        let name = head.strip_prefix("Content-Disposition: form-data; name=\"").unwrap().strip_suffix('"').unwrap();
        out.push((name.to_string(), value.to_string()));
    }
    out
}

#[test]
fn mime_request_fields_and_271_explained() {
    let s = stub(|_| {
        mime_response(
            200,
            &[
                ("PayloadType", "X12_271_Response_005010X279A1"),
                ("ProcessingMode", "RealTime"),
                ("PayloadID", "5f3c1e90-8a2b-4c6d-b1e7-2a9f0c4d8e13"),
                ("TimeStamp", "2026-03-02T14:10:04Z"),
                ("SenderID", "CMS"),
                ("ReceiverID", "WDEMO001"),
                ("CORERuleVersion", "2.2.0"),
                ("Payload", &canned().r271),
                ("ErrorCode", "Success"),
                ("ErrorMessage", "Envelope processed"),
            ],
        )
    });
    let (code, out, err) = send(&s.url, &with_person(&["--mode", "mime"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("HARTWELL"), "{out}");
    let reqs = s.requests.lock().unwrap();
    let r = &reqs[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/eligibility/realtime/mime"));
    assert_eq!(r.headers["content-length"], r.body.len().to_string());
    let fields = parts(&r.headers["content-type"], &r.body);
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "PayloadType",
            "ProcessingMode",
            "PayloadID",
            "TimeStamp",
            "UserName",
            "Password",
            "SenderID",
            "ReceiverID",
            "CORERuleVersion",
            "Payload"
        ]
    );
    let f: HashMap<&str, &str> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(f["PayloadType"], "X12_270_Request_005010X279A1");
    assert_eq!(f["ProcessingMode"], "RealTime");
    assert_uuid_v4(f["PayloadID"]);
    assert_timestamp(f["TimeStamp"]);
    assert_eq!(f["UserName"], "WDEMO001");
    assert_eq!(f["Password"], "demo-clearinghouse-pass");
    assert_eq!(f["SenderID"], "WDEMO001");
    assert_eq!(f["ReceiverID"], "CMS");
    assert_eq!(f["CORERuleVersion"], "2.2.0");
    assert_270(f["Payload"], "WDEMO001");
    conformance("270-mime-flags", f["Payload"]);
}

#[test]
fn mime_envelope_error_with_400_exits_1() {
    let s = stub(|_| {
        mime_response(
            400,
            &[
                ("PayloadType", "CoreEnvelopeError"),
                ("ErrorCode", "PayloadIDIllegal"),
                ("ErrorMessage", "PayloadID is not a UUID"),
            ],
        )
    });
    let (code, _, err) = send(&s.url, &with_person(&["--mode", "mime"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HTTP 400"), "{err}");
    assert!(err.contains("ErrorCode: PayloadIDIllegal"), "{err}");
    assert!(err.contains("ErrorMessage: PayloadID is not a UUID"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Load mode

fn ids_received_contains(path: &std::path::Path, id: &str) -> bool {
    std::fs::read_to_string(path).unwrap().lines().any(|l| l == id)
}

fn summary(out: &str) -> HashMap<String, f64> {
    let last = out.lines().last().unwrap();
    let re_ok = last.starts_with("throughput=") && last.split(' ').count() == 6;
    assert!(re_ok, "{last}");
    let mut m = HashMap::new();
    for (i, kv) in last.split(' ').enumerate() {
        let (k, v) = kv.split_once('=').unwrap();
        let expected = ["throughput", "p50", "p90", "p99", "max", "errors"][i];
        assert_eq!(k, expected, "{last}");
        let v = if k == "throughput" { v.strip_suffix("/s").unwrap() } else { v };
        m.insert(k.to_string(), v.parse::<f64>().unwrap_or_else(|_| panic!("{last}")));
    }
    m
}

#[test]
fn load_mode_reports_the_summary_line() {
    let s = stub(|_| soap_ok("X12_271_Response_005010X279A1", &canned().r271));
    let dir = tempfile::tempdir().unwrap();
    let received = dir.path().join("received.txt");
    let (code, out, err) = send(
        &s.url,
        &[
            "--load",
            "--concurrency",
            "3",
            "--duration",
            "1",
            "--threads",
            "1",
            "--received",
            received.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let m = summary(&out);
    // --received: one PayloadID per 271, as sent.
    let ok: usize = out.split(" ok=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let ids = std::fs::read_to_string(&received).unwrap();
    assert_eq!(ids.lines().count(), ok);
    assert_eq!(ids.lines().collect::<std::collections::HashSet<_>>().len(), ok);
    assert!(m["throughput"] > 10.0, "{out}");
    assert_eq!(m["errors"], 0.0);
    assert!(m["p50"] <= m["p90"] && m["p90"] <= m["p99"] && m["p99"] <= m["max"], "{out}");
    // Three connections, distinct PayloadIDs, and varied beneficiaries (the personas).
    let reqs = s.requests.lock().unwrap();
    assert!(reqs.len() >= 20);
    let xml: Vec<String> = reqs.iter().map(|r| String::from_utf8(r.body.clone()).unwrap()).collect();
    let ids: std::collections::HashSet<&str> = xml.iter().map(|x| element(x, "PayloadID")).collect();
    assert_eq!(ids.len(), xml.len());
    for id in &ids {
        assert_uuid_v4(id);
        assert!(ids_received_contains(&received, id), "{id}");
    }
    let mbis: std::collections::HashSet<&str> =
        xml.iter().map(|x| x.split("****MI*").nth(1).unwrap().split('~').next().unwrap()).collect();
    assert!(mbis.len() >= 5, "{mbis:?}");
}

#[test]
fn load_mode_counts_errors_and_exits_1() {
    let s = stub(|_| Canned200 { status: 503, content_type: "text/plain".into(), body: b"busy".to_vec() });
    let (code, out, err) = send(&s.url, &["--load", "--concurrency", "2", "--duration", "0.5", "--mode", "mime"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let m = summary(&out);
    assert!(m["errors"] > 0.0, "{out}");
    assert!(err.contains("HTTP 503"), "{err}");
}

#[test]
fn load_mode_healthz_and_synthetic_population() {
    let s = stub(|r| Canned200 {
        status: 200,
        content_type: "text/plain".into(),
        body: if r.path == "/healthz" { b"ok".to_vec() } else { b"?".to_vec() },
    });
    let (code, out, err) =
        run(&["send", "--url", &s.url, "--load", "--target", "healthz", "--duration", "0.5", "--warmup", "0.3"], "");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(summary(&out)["errors"], 0.0);
    {
        let reqs = s.requests.lock().unwrap();
        assert!(reqs.iter().all(|r| r.method == "GET" && r.path == "/healthz" && r.body.is_empty()));
    }

    // Synthetic beneficiaries: the requests go out (the stub's `?` counts as errors).
    let s = stub(|_| soap_ok("X12_271_Response_005010X279A1", &canned().r271));
    let (code, out, err) = send(
        &s.url,
        &["--load", "--duration", "0.5", "--concurrency", "2", "--population-seed", "7", "--population", "1000"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let reqs = s.requests.lock().unwrap();
    let x = String::from_utf8(reqs[0].body.clone()).unwrap();
    let mbi = x.split("****MI*").nth(1).unwrap().split('~').next().unwrap();
    assert_ne!(mbi, "2DG9NX3WK42");
}

// ---------------------------------------------------------------------------------------------
// Interop with the server crate's envelope code: the stub reads each request with
// `server::core` (parse, then the envelope checks in order) and answers with its writers.

fn core_answer(r: &Recorded, authenticated: &str) -> Canned200 {
    use server::core;
    let soap = r.path.ends_with("/soap");
    let (fields, user, password) = if soap {
        let s = core::parse_soap(&r.body).unwrap_or_else(|f| panic!("server refused the SOAP request: {f:?}"));
        (s.fields, s.username, s.password)
    } else {
        let b = core::boundary(&r.headers["content-type"]).unwrap();
        let f = core::parse_multipart(&r.body, &b).unwrap();
        let (u, p) = (f.user_name.clone(), f.password.clone());
        (f, u, p)
    };
    if user.as_deref() != Some("WDEMO001") || password.as_deref() != Some("demo-clearinghouse-pass") {
        let body = core::write_fault(&core::auth_fault("The security token could not be authenticated"));
        return Canned200 {
            status: 400,
            content_type: "application/soap+xml; charset=utf-8".into(),
            body: body.into_bytes(),
        };
    }
    let (status, response) = match core::check(&fields, authenticated, "CMS") {
        Ok(c) => (
            200,
            core::Response {
                payload_type: "X12_271_Response_005010X279A1".into(),
                payload_id: c.payload_id,
                time_stamp: "2026-11-16T09:30:01Z".into(),
                sender_id: "CMS".into(),
                receiver_id: c.sender_id,
                payload: Some(canned().r271.clone()),
                error_code: core::ErrorCode::Success,
                error_message: "Envelope processed".into(),
            },
        ),
        Err(e) => {
            (if soap { 200 } else { 403 }, core::Response::error(&fields, "CMS", "2026-11-16T09:30:01Z".into(), &e))
        }
    };
    if soap {
        Canned200 {
            status,
            content_type: "application/soap+xml; charset=utf-8".into(),
            body: core::write_soap(&response).into_bytes(),
        }
    } else {
        Canned200 {
            status,
            content_type: format!("multipart/form-data; boundary={}", core::RESPONSE_BOUNDARY),
            body: core::write_multipart(&response),
        }
    }
}

#[test]
fn interop_with_the_server_envelope_code() {
    for mode in ["soap", "mime"] {
        let s = stub(|r| core_answer(r, "WDEMO001"));
        let (code, out, err) = send(&s.url, &with_person(&["--mode", mode]));
        assert_eq!(code, 0, "{mode}: {out}\n{err}");
        assert!(out.contains("HARTWELL"), "{out}");
        assert!(!err.contains("warning"), "{err}");

        // The server's refusal of a SenderID that is not the authenticated submitter.
        let s = stub(|r| core_answer(r, "WDEMO002"));
        let (code, _, err) = send(&s.url, &with_person(&["--mode", mode]));
        assert_eq!(code, 1, "{mode}: {err}");
        assert!(err.contains("ErrorCode: UnAuthorized"), "{mode}: {err}");
    }
    // A wrong password: the server's WS-Security fault.
    let s = stub(|r| core_answer(r, "WDEMO001"));
    let mut args = vec!["send", "--url", &s.url, "--user", "WDEMO001", "--password", "wrong"];
    args.extend_from_slice(PERSON);
    let (code, _, err) = run(&args, "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("SOAP fault: soap:Sender / wsse:FailedAuthentication"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// End to end: `hets serve --demo` on a free port with a temporary data directory.

struct Served {
    child: std::process::Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_demo() -> Served {
    serve_demo_with(&[])
}

fn serve_demo_with(extra: &[&str]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(HETS)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(extra)
        .env("HETS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("hets serve ended before it listened");
        };
        if let Some(u) = line.strip_prefix("hets serve: listening on ") {
            break u.trim().to_string();
        }
    };
    // Keep draining the banner so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, url, dir }
}

#[test]
fn end_to_end_against_hets_serve_demo() {
    let server = serve_demo();
    let url = server.url.as_str();
    let personas = eligibility::Personas::from_toml(&std::fs::read_to_string(PERSONAS).unwrap()).unwrap();

    // Every persona over SOAP and over MIME: a 271, explained.
    for b in &personas.beneficiaries {
        let dob = b.birth_date.unwrap().ccyymmdd();
        for mode in ["soap", "mime"] {
            let args = [
                "--mode",
                mode,
                "--npi",
                "1125213722",
                "--mbi",
                &b.mbi,
                "--last",
                &b.last_name,
                "--first",
                &b.first_name,
                "--dob",
                &dob,
                "--date",
                "2026-11-16",
            ];
            let (code, out, err) = send(url, &args);
            assert_eq!(code, 0, "{} over {mode}: {out}\n{err}", b.key);
            assert!(out.contains(&format!("(MBI {})", b.mbi)), "{} over {mode}: {out}", b.key);
            assert!(out.contains("Coverage:"), "{} over {mode}: {out}", b.key);
            assert!(!err.contains("warning"), "{} over {mode}: {err}", b.key);
        }
    }
    // The same with --raw: the 271 as the server wrote it.
    let (code, out, _) = send(url, &with_person(&["--raw", "--service", "30,42", "--hcpcs", "G0439"]));
    assert_eq!(code, 0);
    assert!(out.starts_with("ISA*00*") && out.contains("~ST*271*") && out.contains("*WDEMO001"), "{out}");
    conformance("271-e2e-raw", &out);
    // Every persona's 271, raw, over MIME.
    for b in &personas.beneficiaries {
        let dob = b.birth_date.unwrap().ccyymmdd();
        let args = [
            "--mode",
            "mime",
            "--raw",
            "--npi",
            "1125213722",
            "--mbi",
            &b.mbi,
            "--last",
            &b.last_name,
            "--first",
            &b.first_name,
            "--dob",
            &dob,
        ];
        let (code, out, err) = send(url, &args);
        assert_eq!(code, 0, "{}: {err}", b.key);
        conformance(&format!("271-e2e-{}", b.key), &out);
    }

    // A file: the README's sample 270.
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/x12/valid/cms-sample.x12");
    let (code, out, err) = send(url, &["--file", sample]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("HARTWELL"), "{out}");

    // A 270 the server rejects with a 999: printed raw, exit 1.
    let (code, out, err) = run(
        &[
            "send",
            "--url",
            url,
            "--user",
            "WDEMO001",
            "--password",
            "demo-clearinghouse-pass",
            "--mode",
            "mime",
            "--file",
            "-",
        ],
        &inquiry("EQ*ZZZ"),
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("ST*999*"), "{out}");
    conformance("999-e2e", &out);

    // Refusals: a wrong password (SOAP fault / MIME 401), a SenderID that is not the user's.
    for mode in ["soap", "mime"] {
        let mut args = vec!["send", "--url", url, "--mode", mode, "--user", "WDEMO001", "--password", "nope"];
        args.extend_from_slice(PERSON);
        let (code, _, err) = run(&args, "");
        assert_eq!(code, 1, "{mode}: {err}");
        assert!(err.contains("HTTP 401"), "{mode}: {err}");
        let (code, _, err) = send(url, &with_person(&["--mode", mode, "--submitter", "WDEMO002"]));
        assert_eq!(code, 1, "{mode}: {err}");
        assert!(err.contains("ErrorCode: UnAuthorized"), "{mode}: {err}");
    }
    // A terminated submitter, refused at the door.
    let mut args = vec!["send", "--url", url, "--user", "WDEMO004", "--password", "legacy-pass"];
    args.extend_from_slice(PERSON);
    let (code, _, err) = run(&args, "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("HTTP 403"), "{err}");

    // Load mode: personas over SOAP and MIME, the demo's synthetic population, and /healthz.
    for extra in [
        &["--mode", "soap"][..],
        &["--mode", "mime"][..],
        &["--population-seed", "1", "--population", "20000"][..],
        &["--target", "healthz"][..],
    ] {
        let mut args = vec!["--load", "--duration", "1", "--concurrency", "4"];
        args.extend_from_slice(extra);
        let (code, out, err) = send(url, &args);
        assert_eq!(code, 0, "{extra:?}: {out}\n{err}");
        let m = summary(&out);
        assert_eq!(m["errors"], 0.0, "{extra:?}: {out}");
        assert!(m["throughput"] > 50.0, "{extra:?}: {out}");
    }
}

// ---------------------------------------------------------------------------------------------
// TLS and mutual TLS against a rustls stub with test certificates.

struct Pki {
    dir: tempfile::TempDir,
    ca: rcgen::Certificate,
}

impl Pki {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// A CA, a server certificate for `localhost` and a client certificate (CN=WDEMO001), as PEM
/// files.
fn pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, &ca_key);
    for (name, purpose, sans) in [
        ("server", ExtendedKeyUsagePurpose::ServerAuth, vec!["localhost".to_string()]),
        ("client", ExtendedKeyUsagePurpose::ClientAuth, vec!["wdemo001.example".to_string()]),
    ] {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(sans).unwrap();
        params.extended_key_usages = vec![purpose];
        if name == "client" {
            // `hets serve` maps a client certificate to the submitter its subject CN names.
            params.distinguished_name.push(DnType::CommonName, "WDEMO001");
        }
        let cert = params.signed_by(&key, &issuer).unwrap();
        write(&format!("{name}.pem"), &cert.pem());
        write(&format!("{name}.key"), &key.serialize_pem());
    }
    write("ca.pem", &ca.pem());
    Pki { dir, ca }
}

/// A TLS stub for `localhost`; with `require_client_cert`, only clients with a certificate from
/// the same CA get through.
fn tls_stub(pki: &Pki, require_client_cert: bool) -> Stub {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder =
        rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap();
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.ca.der().clone()).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(pki.path("server.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(pki.path("server.key")).unwrap();
    let config = Arc::new(builder.with_single_cert(chain, key).unwrap());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut tcp) = stream else { continue };
            let (config, recorded) = (Arc::clone(&config), Arc::clone(&recorded));
            std::thread::spawn(move || {
                let mut conn = rustls::ServerConnection::new(config).unwrap();
                while conn.is_handshaking() {
                    if conn.complete_io(&mut tcp).is_err() {
                        return;
                    }
                }
                let client_cert = if conn.peer_certificates().is_some_and(|c| !c.is_empty()) { "yes" } else { "no" };
                let tls = rustls::StreamOwned::new(conn, tcp);
                let answer = |_: &Recorded| soap_ok("X12_271_Response_005010X279A1", &canned().r271);
                serve_connection(tls, &answer, &recorded, &[("x-client-cert", client_cert)]);
            });
        }
    });
    Stub { url, requests }
}

#[test]
fn https_with_a_private_ca_and_a_password() {
    let pki = pki();
    let s = tls_stub(&pki, false);
    let (code, out, err) = send(&s.url, &with_person(&["--ca", &pki.path("ca.pem")]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("HARTWELL"), "{out}");
    let reqs = s.requests.lock().unwrap();
    assert_eq!(reqs[0].headers["x-client-cert"], "no");
    assert!(String::from_utf8_lossy(&reqs[0].body).contains("<wsse:Username>WDEMO001</wsse:Username>"));
}

#[test]
fn mutual_tls_with_a_client_certificate() {
    let pki = pki();
    let s = tls_stub(&pki, true);
    let tls = ["--ca", &pki.path("ca.pem"), "--cert", &pki.path("client.pem"), "--key", &pki.path("client.key")];
    let mut args = vec!["send", "--url", &s.url, "--submitter", "WDEMO001"];
    args.extend_from_slice(&tls);
    args.extend_from_slice(PERSON);
    let (code, out, err) = run(&args, "");
    assert_eq!(code, 0, "{out}\n{err}");
    {
        let reqs = s.requests.lock().unwrap();
        assert_eq!(reqs[0].headers["x-client-cert"], "yes");
        let xml = String::from_utf8_lossy(&reqs[0].body).into_owned();
        // No WS-Security token: the certificate authenticates.
        assert!(xml.contains("<soap:Header/>") && !xml.contains("wsse"), "{xml}");
        assert_eq!(element(&xml, "SenderID"), "WDEMO001");
    }
    // MIME carries no UserName/Password fields then.
    args.extend_from_slice(&["--mode", "mime"]);
    let (code, _, err) = run(&args, "");
    assert_eq!(code, 0, "{err}");
    {
        let reqs = s.requests.lock().unwrap();
        let body = String::from_utf8_lossy(&reqs[1].body).into_owned();
        assert!(!body.contains("UserName") && !body.contains("Password"), "{body}");
    }
    // Load mode over mutual TLS.
    let mut load = vec!["send", "--url", &s.url, "--submitter", "WDEMO001", "--load", "--duration", "0.5"];
    load.extend_from_slice(&tls);
    let (code, out, err) = run(&load, "");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(summary(&out)["errors"], 0.0);

    // Without a certificate the server ends the handshake: exit 1.
    let (code, _, err) = send(&s.url, &with_person(&["--ca", &pki.path("ca.pem")]));
    assert_eq!(code, 1, "{err}");
    // A --cert without --key is a usage error.
    let mut args = vec!["send", "--url", &s.url, "--submitter", "WDEMO001", "--cert", &tls[3]];
    args.extend_from_slice(PERSON);
    assert_eq!(run(&args, "").0, 2);
}

#[test]
fn a_server_certificate_from_another_ca_is_refused() {
    let (pki, other) = (pki(), pki());
    let s = tls_stub(&pki, false);
    let (code, _, err) = send(&s.url, &with_person(&["--ca", &other.path("ca.pem")]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("TLS handshake with localhost"), "{err}");
    assert!(s.requests.lock().unwrap().is_empty());
}

#[test]
fn end_to_end_over_tls_against_hets_serve_demo() {
    let pki = pki();
    let config = pki.dir.path().join("hets.toml");
    std::fs::write(
        &config,
        format!(
            "tls_cert = {:?}\ntls_key = {:?}\ntls_client_ca = {:?}\n",
            pki.path("server.pem"),
            pki.path("server.key"),
            pki.path("ca.pem")
        ),
    )
    .unwrap();
    let server = serve_demo_with(&["--config", config.to_str().unwrap()]);
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    let url = server.url.replace("https://127.0.0.1:", "https://localhost:");
    let (ca, cert, key) = (pki.path("ca.pem"), pki.path("client.pem"), pki.path("client.key"));
    let mtls = ["--ca", ca.as_str(), "--cert", cert.as_str(), "--key", key.as_str(), "--submitter", "WDEMO001"];
    for mode in ["soap", "mime"] {
        // Mutual TLS: the certificate is the credential.
        let mut args = vec!["send", "--url", url.as_str(), "--mode", mode];
        args.extend_from_slice(&mtls);
        args.extend_from_slice(PERSON);
        let (code, out, err) = run(&args, "");
        assert_eq!(code, 0, "{mode}: {out}\n{err}");
        assert!(out.contains("(MBI 2DG9NX3WK42)"), "{mode}: {out}");
        // A password over TLS.
        let (code, out, err) = send(&url, &with_person(&["--mode", mode, "--ca", &ca]));
        assert_eq!(code, 0, "{mode}: {out}\n{err}");
        // The certificate names WDEMO001: another SenderID is refused.
        let mut args = vec!["send", "--url", url.as_str(), "--mode", mode];
        args.extend_from_slice(&mtls[..6]);
        args.extend_from_slice(&["--submitter", "WDEMO002"]);
        args.extend_from_slice(PERSON);
        let (code, _, err) = run(&args, "");
        assert_eq!(code, 1, "{mode}: {err}");
        assert!(err.contains("UnAuthorized"), "{mode}: {err}");
    }
    // A server certificate this client does not trust.
    let other = self::pki();
    let (code, _, err) = send(&url, &with_person(&["--ca", &other.path("ca.pem")]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("TLS handshake"), "{err}");
    // Load over mutual TLS.
    let mut args = vec!["send", "--url", url.as_str(), "--load", "--duration", "1", "--concurrency", "4"];
    args.extend_from_slice(&mtls);
    let (code, out, err) = run(&args, "");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(summary(&out)["errors"], 0.0, "{out}");
}

#[test]
fn load_mode_with_one_interchange_from_a_file() {
    let s = stub(|_| soap_ok("X12_271_Response_005010X279A1", &canned().r271));
    let x12 = inquiry("EQ*30");
    let args = [
        "send",
        "--url",
        &s.url,
        "--user",
        "WDEMO001",
        "--password",
        "pw",
        "--mode",
        "mime",
        "--load",
        "--duration",
        "0.5",
        "--file",
        "-",
    ];
    let (code, out, err) = run(&args, &x12);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(summary(&out)["errors"], 0.0);
    let reqs = s.requests.lock().unwrap();
    let fields = parts(&reqs[0].headers["content-type"], &reqs[0].body);
    assert_eq!(fields.last().unwrap(), &("Payload".to_string(), x12));
}

#[test]
fn sigkill_during_a_load_run_loses_no_record_of_a_delivered_answer() {
    let mut server = serve_demo();
    let db = server.dir.path().join("hets.db");
    let out_dir = tempfile::tempdir().unwrap();
    let received = out_dir.path().join("received.txt");
    let client = Command::new(HETS)
        .args(["send", "--url", &server.url, "--user", "WDEMO001", "--password", "demo-clearinghouse-pass"])
        .args(["--load", "--duration", "3", "--concurrency", "8", "--timeout", "5", "--received"])
        .arg(&received)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SIGKILL: no drain, no flush.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let out = client.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "the run saw the server go: {stdout}");
    assert!(summary(&stdout)["errors"] > 0.0, "{stdout}");
    let ids = std::fs::read_to_string(&received).unwrap();
    let ids: Vec<&str> = ids.lines().collect();
    assert!(ids.len() > 50, "{stdout}");
    // Records and replayable answers live in the records file beside the database.
    let mut records_file = db.clone().into_os_string();
    records_file.push(".records");
    let conn = rusqlite::Connection::open(&records_file).unwrap();
    let mut stmt =
        conn.prepare("SELECT count(*) FROM payload_replay WHERE sender_id = 'WDEMO001' AND payload_id = ?1").unwrap();
    let missing: Vec<&str> =
        ids.iter().copied().filter(|id| stmt.query_row([id], |r| r.get::<_, i64>(0)).unwrap() != 1).collect();
    assert!(
        missing.is_empty(),
        "{} of {} delivered answers have no record: {:?}",
        missing.len(),
        ids.len(),
        &missing[..missing.len().min(5)]
    );
    let records: i64 = conn
        .query_row("SELECT count(*) FROM transaction_record WHERE submitter_id = 'WDEMO001'", [], |r| r.get(0))
        .unwrap();
    assert!(records >= ids.len() as i64, "{records} records for {} answers", ids.len());
}

#[test]
fn load_mode_reconnects_when_the_server_closes_connections() {
    // A server that answers one request per connection (`Connection: close`).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            });
        }
    });
    let (code, out, err) = run(&["send", "--url", &url, "--load", "--target", "healthz", "--duration", "0.5"], "");
    assert_eq!(code, 0, "{out}\n{err}");
    let m = summary(&out);
    assert_eq!(m["errors"], 0.0, "{out}");
    assert!(m["throughput"] > 10.0, "{out}");
}
