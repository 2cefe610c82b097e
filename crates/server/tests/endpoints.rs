//! The CORE endpoints end to end over real HTTP on loopback: a server on port 0 in this
//! process, a SQLite file with the demo personas, and a raw TCP client (so the bytes on the
//! wire are exactly what a test says).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use eligibility::{Instant, Personas, Releases, Settings, SubmitterStatus};
use server::Responder;
use server::http::{AppState, Config};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SAMPLE: &str = include_str!("../../../tests/data/x12/valid/cms-sample.x12");
const USER: &str = "WDEMO001";
const PASSWORD: &str = "demo-clearinghouse-pass";

struct Harness {
    addr: SocketAddr,
    store: Arc<dyn store::Store>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn start(config: Config) -> Harness {
    start_with(config, None).await
}

async fn start_with(config: Config, tls: Option<tokio_rustls::TlsAcceptor>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("hets.db").display());
    let store = store::open(&url).unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
    let mut personas = Personas::from_toml(&text).unwrap();
    // WDEMO003 is suspended in the dataset until a day that has passed: keep it suspended.
    for s in &mut personas.submitters {
        if s.id == "WDEMO003" {
            s.status = SubmitterStatus::Suspended;
            s.suspended_until = Some("2099-01-01T00:00:00Z".into());
        }
    }
    store::load_personas(store.as_ref(), &personas).unwrap();
    let responder = Arc::new(Responder::new(store.clone(), Releases::builtin().unwrap(), Settings::default()).unwrap());
    let state = AppState::new(responder, config);
    let (addr, stop, _task) = server::http::spawn("127.0.0.1:0".parse().unwrap(), state, tls).await.unwrap();
    Harness { addr, store, _stop: stop, _dir: dir }
}

fn config() -> Config {
    Config {
        fixed_instant: Some(Instant::parse_rfc3339("2026-11-16T09:30:00Z").unwrap()),
        body_timeout: Duration::from_millis(800),
        header_timeout: Duration::from_millis(800),
        max_body_bytes: 16 * 1024,
        ..Config::default()
    }
}

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

async fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out)).await.unwrap().unwrap();
    parse_reply(&out)
}

fn parse_reply(out: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Reply { status, headers: head.to_ascii_lowercase(), body: body.to_string() }
}

async fn post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Reply {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    send_raw(addr, &req).await
}

const FIELDS: [&str; 8] =
    ["PayloadType", "ProcessingMode", "PayloadID", "TimeStamp", "SenderID", "ReceiverID", "CORERuleVersion", "Payload"];

fn defaults(payload_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PayloadType", "X12_270_Request_005010X279A1".into()),
        ("ProcessingMode", "RealTime".into()),
        ("PayloadID", payload_id.into()),
        ("TimeStamp", "2026-11-16T09:30:00Z".into()),
        ("SenderID", USER.into()),
        ("ReceiverID", "CMS".into()),
        ("CORERuleVersion", "2.2.0".into()),
        ("Payload", SAMPLE.trim().into()),
    ]
}

fn soap(fields: &[(&str, String)], user: &str, password: &str) -> String {
    let mut body = String::new();
    for (k, v) in fields {
        if *k == "Payload" {
            body.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
        } else {
            body.push_str(&format!("<{k}>{v}</{k}>"));
        }
    }
    format!(
        r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header><wsse:Security soap:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>{user}</wsse:Username><wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><c:COREEnvelopeRealTimeRequest xmlns:c="http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd">{body}</c:COREEnvelopeRealTimeRequest></soap:Body></soap:Envelope>"#
    )
}

fn mime(fields: &[(&str, String)], user: &str, password: &str, eol: &str) -> String {
    let mut all: Vec<(&str, String)> = fields.to_vec();
    all.push(("UserName", user.into()));
    all.push(("Password", password.into()));
    let mut body = String::new();
    for (k, v) in all {
        body.push_str(&format!("--xYz{eol}Content-Disposition: form-data; name=\"{k}\"{eol}{eol}{v}{eol}"));
    }
    body.push_str(&format!("--xYz--{eol}"));
    body
}

const SOAP_CT: &str = "application/soap+xml; charset=utf-8";
const MIME_CT: &str = "multipart/form-data; boundary=\"xYz\"";

fn field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    if let Some(i) = body.find(&open) {
        let rest = &body[i + open.len()..];
        return rest.find(&format!("</{name}>")).map(|j| &rest[..j]);
    }
    let marker = format!("name=\"{name}\"\r\n\r\n");
    let i = body.find(&marker)?;
    let rest = &body[i + marker.len()..];
    rest.find("\r\n--").map(|j| &rest[..j])
}

fn id(n: u32) -> String {
    format!("5f3c1e90-8a2b-4c6d-b1e7-{n:012}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_on_both_bindings() {
    let h = start(config()).await;
    let r =
        post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(1)), USER, PASSWORD).as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(field(&r.body, "ErrorCode"), Some("Success"));
    assert_eq!(field(&r.body, "PayloadType"), Some("X12_271_Response_005010X279A1"));
    assert_eq!(field(&r.body, "PayloadID"), Some(id(1).as_str()));
    assert_eq!(field(&r.body, "SenderID"), Some("CMS"));
    assert_eq!(field(&r.body, "ReceiverID"), Some(USER));
    assert!(r.body.contains("<![CDATA[ISA*") && r.body.contains("ST*271*"), "{}", r.body);
    for (n, eol) in [(2, "\n"), (3, "\r\n")] {
        let r = post(
            h.addr,
            "/eligibility/realtime/mime",
            MIME_CT,
            mime(&defaults(&id(n)), USER, PASSWORD, eol).as_bytes(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.headers.contains("content-type: multipart/form-data; boundary="));
        assert_eq!(field(&r.body, "ErrorCode"), Some("Success"));
        assert_eq!(field(&r.body, "PayloadType"), Some("X12_271_Response_005010X279A1"));
        assert!(field(&r.body, "Payload").unwrap().contains("ST*271*"));
    }
    // Released only after commit: the records are already in the store.
    let from = Instant::parse_rfc3339("2026-11-16T00:00:00Z").unwrap();
    let to = Instant::parse_rfc3339("2026-11-17T00:00:00Z").unwrap();
    assert_eq!(h.store.transactions_for(USER, from, to).unwrap().len(), 3);
    // WSDL, health, readiness, metrics.
    let w =
        send_raw(h.addr, b"GET /eligibility/realtime/soap?wsdl HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
    assert_eq!(w.status, 200);
    assert!(w.body.contains("CoreSoapBinding") && w.body.contains("RealTimeTransaction"));
    for path in ["/healthz", "/readyz"] {
        let r =
            send_raw(h.addr, format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes()).await;
        assert_eq!(r.status, 200, "{path}");
    }
    let m = send_raw(h.addr, b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
    assert!(m.body.contains("hets_requests_total"), "{}", m.body);
    // The group commit's own histograms, with their own buckets.
    assert!(m.body.contains(r#"hets_record_commit_seconds_bucket{le="0.0001"}"#), "{}", m.body);
    assert!(m.body.contains(r#"hets_record_commit_records_bucket{le="2000"}"#), "{}", m.body);
    assert!(!m.body.contains("HARTWELL") && !m.body.contains("2DG9NX3WK42"));
}

/// D3: a 270 whose answer misses the internal deadline gets AAA 42 at 2100A ("unable to
/// respond at current time") instead of its answer, recorded like any other. A zero deadline
/// makes every request late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_deadline_answers_aaa_42() {
    let h = start(Config { deadline: Duration::ZERO, ..config() }).await;
    let r =
        post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(1)), USER, PASSWORD).as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(field(&r.body, "ErrorCode"), Some("Success"));
    assert_eq!(field(&r.body, "PayloadType"), Some("X12_271_Response_005010X279A1"));
    let payload = field(&r.body, "Payload").unwrap();
    assert!(payload.contains("~AAA*Y**42*R~"), "{payload}");
    // No benefits: the store's answer was not waited for.
    assert!(!payload.contains("~EB*"), "{payload}");
    let from = Instant::parse_rfc3339("2026-11-16T00:00:00Z").unwrap();
    let to = Instant::parse_rfc3339("2026-11-17T00:00:00Z").unwrap();
    let records = h.store.transactions_for(USER, from, to).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record.aaa_codes, vec!["42".to_string()]);
}

/// Every envelope ErrorCode: SOAP answers 200 with CoreEnvelopeError, MIME 400 (403 for
/// UnAuthorized on both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_envelope_error_code() {
    let h = start(config()).await;
    let mut cases: Vec<(Vec<(&str, String)>, &str)> = Vec::new();
    for (name, code) in FIELDS.iter().zip([
        "PayloadTypeRequired",
        "ProcessingModeRequired",
        "PayloadIDRequired",
        "TimeStampRequired",
        "SenderIDRequired",
        "ReceiverIDRequired",
        "CORERuleVersionRequired",
        "PayloadRequired",
    ]) {
        cases.push((defaults(&id(10)).into_iter().filter(|(k, _)| k != name).collect(), code));
    }
    let with = |k: &str, v: &str| -> Vec<(&'static str, String)> {
        defaults(&id(11)).into_iter().map(|(n, old)| (n, if n == k { v.to_string() } else { old })).collect()
    };
    cases.push((with("ProcessingMode", "Batch"), "ProcessingModeIllegal"));
    cases.push((with("PayloadID", "not-a-uuid"), "PayloadIDIllegal"));
    cases.push((with("TimeStamp", "last tuesday"), "TimeStampIllegal"));
    cases.push((with("CORERuleVersion", "3.0.0"), "VersionMismatch"));
    cases.push((with("ReceiverID", "ACME"), "ReceiverIDIllegal"));
    cases.push((with("PayloadType", "X12_276_Request_005010X212"), "PayloadTypeIllegal"));
    cases.push((with("SenderID", "WDEMO002"), "UnAuthorized"));
    for (fields, code) in &cases {
        let forbidden = *code == "UnAuthorized";
        let r = post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(fields, USER, PASSWORD).as_bytes()).await;
        assert_eq!(r.status, if forbidden { 403 } else { 200 }, "SOAP {code}: {}", r.body);
        assert_eq!(field(&r.body, "ErrorCode"), Some(*code), "SOAP {code}: {}", r.body);
        assert_eq!(field(&r.body, "PayloadType"), Some("CoreEnvelopeError"));
        assert_eq!(field(&r.body, "CORERuleVersion"), Some("2.2.0"));
        assert!(!r.body.contains("<Payload>"));
        let r =
            post(h.addr, "/eligibility/realtime/mime", MIME_CT, mime(fields, USER, PASSWORD, "\r\n").as_bytes()).await;
        assert_eq!(r.status, if forbidden { 403 } else { 400 }, "MIME {code}: {}", r.body);
        assert_eq!(field(&r.body, "ErrorCode"), Some(*code), "MIME {code}: {}", r.body);
        assert!(!field(&r.body, "ErrorMessage").unwrap_or("").is_empty());
    }
    // The version mismatch message tells the client what to send.
    let r = post(
        h.addr,
        "/eligibility/realtime/soap",
        SOAP_CT,
        soap(&with("CORERuleVersion", "3.0.0"), USER, PASSWORD).as_bytes(),
    )
    .await;
    assert_eq!(field(&r.body, "ErrorMessage"), Some("CORERuleVersion 3.0.0 is not supported; use 2.2.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soap_and_http_level_refusals() {
    let h = start(config()).await;
    let good = soap(&defaults(&id(20)), USER, PASSWORD);
    // SOAP 1.1 envelope namespace → VersionMismatch fault, 500 (SOAP 1.2 HTTP binding).
    let v11 = good.replace("http://www.w3.org/2003/05/soap-envelope", "http://schemas.xmlsoap.org/soap/envelope/");
    let r = post(h.addr, "/eligibility/realtime/soap", SOAP_CT, v11.as_bytes()).await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("<soap:Value>soap:VersionMismatch</soap:Value>"), "{}", r.body);
    // SOAP 1.1 content type → 415.
    let r = post(h.addr, "/eligibility/realtime/soap", "text/xml; charset=utf-8", good.as_bytes()).await;
    assert_eq!(r.status, 415);
    assert!(r.body.contains("VersionMismatch"));
    // Bad XML → 400 Sender fault.
    let r = post(h.addr, "/eligibility/realtime/soap", SOAP_CT, b"<soap:Envelope><oops>").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("soap:Sender"), "{}", r.body);
    // Bad multipart → 400.
    let r = post(h.addr, "/eligibility/realtime/mime", MIME_CT, b"this is not multipart").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("boundary"), "{}", r.body);
    // Wrong password.
    let r =
        post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(21)), USER, "nope").as_bytes()).await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("wsse:FailedAuthentication"), "{}", r.body);
    let r =
        post(h.addr, "/eligibility/realtime/mime", MIME_CT, mime(&defaults(&id(21)), USER, "nope", "\r\n").as_bytes())
            .await;
    assert_eq!(r.status, 401);
    assert_eq!(field(&r.body, "ErrorCode"), Some("UnAuthorized"));
    // Suspended submitter: 403, why and until when.
    let mut f = defaults(&id(22));
    f[4].1 = "WDEMO003".into();
    let r =
        post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(&f, "WDEMO003", "quickcheck-pass").as_bytes()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(field(&r.body, "ErrorCode"), Some("UnAuthorized"));
    assert!(field(&r.body, "ErrorMessage").unwrap().contains("suspended until 2099-01-01T00:00:00Z"), "{}", r.body);
    // Over the size limit → 413.
    let big = soap(&defaults(&id(23)), USER, PASSWORD)
        .replace("<ProcessingMode>", &format!("<!--{}--><ProcessingMode>", "x".repeat(20_000)));
    let r = post(h.addr, "/eligibility/realtime/soap", SOAP_CT, big.as_bytes()).await;
    assert_eq!(r.status, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_payload_ids() {
    let h = start(config()).await;
    let first =
        post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(30)), USER, PASSWORD).as_bytes()).await;
    assert_eq!(first.status, 200);
    let again =
        post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(30)), USER, PASSWORD).as_bytes()).await;
    assert_eq!(again.status, 200);
    assert_eq!(field(&again.body, "ErrorCode"), Some("Success"));
    assert_eq!(field(&again.body, "Payload"), field(&first.body, "Payload"), "the stored answer is replayed");
    // The same PayloadID over MIME with the same payload is the same request.
    let m =
        post(h.addr, "/eligibility/realtime/mime", MIME_CT, mime(&defaults(&id(30)), USER, PASSWORD, "\n").as_bytes())
            .await;
    assert_eq!(m.status, 200);
    let mut other = defaults(&id(30));
    other[7].1 = other[7].1.replace("HARTWELL", "HARTWEL");
    let r = post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(&other, USER, PASSWORD).as_bytes()).await;
    assert_eq!(r.status, 200);
    assert_eq!(field(&r.body, "ErrorCode"), Some("PayloadIDIllegal"));
    let r = post(h.addr, "/eligibility/realtime/mime", MIME_CT, mime(&other, USER, PASSWORD, "\r\n").as_bytes()).await;
    assert_eq!(r.status, 400);
    assert_eq!(field(&r.body, "ErrorCode"), Some("PayloadIDIllegal"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_window_answers_503() {
    let h = start(Config { status_ttl: Duration::from_millis(1), ..config() }).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    h.store
        .add_maintenance(&store::MaintenanceWindow {
            id: 0,
            starts: Instant::from_unix(now - 60),
            ends: Instant::from_unix(now + 600),
            reason: "database upgrade".into(),
        })
        .unwrap();
    for (path, ct, body) in [
        ("/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(40)), USER, PASSWORD)),
        ("/eligibility/realtime/mime", MIME_CT, mime(&defaults(&id(40)), USER, PASSWORD, "\r\n")),
    ] {
        let r = post(h.addr, path, ct, body.as_bytes()).await;
        assert_eq!(r.status, 503, "{path}");
        let retry: u64 =
            r.headers.split("retry-after: ").nth(1).unwrap().lines().next().unwrap().trim().parse().unwrap();
        assert!((500..=600).contains(&retry), "{retry}");
        assert!(r.body.contains("database upgrade"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_window_can_refuse_connections() {
    let h =
        start(Config { status_ttl: Duration::from_millis(1), maintenance_refuses_connections: true, ..config() }).await;
    let r =
        post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(41)), USER, PASSWORD).as_bytes()).await;
    assert_eq!(r.status, 200, "answered outside a window");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    h.store
        .add_maintenance(&store::MaintenanceWindow {
            id: 0,
            starts: Instant::from_unix(now - 60),
            ends: Instant::from_unix(now + 600),
            reason: "database upgrade".into(),
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The connection is accepted by the kernel and closed at once: no HTTP answer at all.
    let mut s = TcpStream::connect(h.addr).await.unwrap();
    let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await.unwrap();
    assert!(read.is_err() || out.is_empty(), "got an answer: {}", String::from_utf8_lossy(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_and_overload() {
    let h = start(Config { max_in_flight: 1, ..config() }).await;
    // Body timeout: the head arrives, the body does not → 408.
    let mut slow = TcpStream::connect(h.addr).await.unwrap();
    slow.write_all(format!("POST /eligibility/realtime/soap HTTP/1.1\r\nHost: t\r\nContent-Type: {SOAP_CT}\r\nContent-Length: 1000\r\n\r\n<soap").as_bytes()).await.unwrap();
    // While it holds the only slot, another request is shed with 503 + Retry-After.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r =
        post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(50)), USER, PASSWORD).as_bytes()).await;
    assert_eq!(r.status, 503);
    assert!(r.headers.contains("retry-after: 1"));
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut out)).await.unwrap().unwrap();
    let r = parse_reply(&out);
    assert_eq!(r.status, 408, "{}", r.body);
    // Header timeout: a head that never ends is cut off.
    let mut slow = TcpStream::connect(h.addr).await.unwrap();
    slow.write_all(b"POST /eligibility/realtime/soap HTTP/1.1\r\nHost: t\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut out)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(!String::from_utf8_lossy(&out).contains("200 OK"));
    // The slot is free again.
    let r =
        post(h.addr, "/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(51)), USER, PASSWORD).as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

mod tls {
    //! Mutual TLS: a certificate from the trusted client CA authenticates its CN; one from
    //! another CA fails the handshake.
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

    struct Ca {
        issuer: CertifiedIssuer<'static, KeyPair>,
    }

    impl Ca {
        fn new(name: &str) -> Ca {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            Ca { issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap() }
        }

        fn leaf(&self, cn: &str, san: &[&str]) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(san.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
            params.distinguished_name.push(DnType::CommonName, cn);
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            (cert.der().clone(), PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
        }
    }

    fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    async fn tls_post(
        addr: SocketAddr,
        server_ca: &Ca,
        client: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
        body: &str,
    ) -> std::io::Result<Reply> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(server_ca.issuer.der().clone()).unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match client {
            Some((c, k)) => builder.with_client_auth_cert(vec![c], k).unwrap(),
            None => builder.with_no_client_auth(),
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await?;
        let mut s = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await?;
        let req = format!(
            "POST /eligibility/realtime/soap HTTP/1.1\r\nHost: localhost\r\nContent-Type: {SOAP_CT}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await?;
        Ok(parse_reply(&out))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let server_ca = Ca::new("openhets test server CA");
        let client_ca = Ca::new("openhets test client CA");
        let rogue_ca = Ca::new("someone else");
        let server_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let server_cert = params.signed_by(&server_key, &server_ca.issuer).unwrap();
        let files = server::tls::TlsFiles {
            cert: write(dir.path(), "server.pem", &server_cert.pem()),
            key: write(dir.path(), "server.key", &server_key.serialize_pem()),
            client_ca: Some(write(dir.path(), "clients.pem", &client_ca.issuer.pem())),
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(server::tls::server_config(&files).unwrap());
        let h = start_with(config(), Some(acceptor)).await;
        let no_credentials = soap(&defaults(&id(60)), "", "").replace(
            "<soap:Header><wsse:Security soap:mustUnderstand=\"1\" xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\"><wsse:UsernameToken><wsse:Username></wsse:Username><wsse:Password></wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>",
            "",
        );
        assert!(!no_credentials.contains("Security"));
        // A trusted certificate whose CN is the submitter: no password needed.
        let r = tls_post(h.addr, &server_ca, Some(client_ca.leaf(USER, &[])), &no_credentials).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(field(&r.body, "ErrorCode"), Some("Success"));
        // A trusted certificate of another submitter than the SenderID: 403.
        let mut other = defaults(&id(61));
        other[4].1 = USER.into();
        let r = tls_post(
            h.addr,
            &server_ca,
            Some(client_ca.leaf("WDEMO002", &[])),
            &soap(&other, "", "").replace("<wsse:Username></wsse:Username><wsse:Password></wsse:Password>", ""),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(field(&r.body, "ErrorCode"), Some("UnAuthorized"));
        // TLS without a certificate: password authentication still works.
        let r = tls_post(h.addr, &server_ca, None, &soap(&defaults(&id(62)), USER, PASSWORD)).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        // Without either: 401.
        let r = tls_post(h.addr, &server_ca, None, &no_credentials.replace(&id(60), &id(63))).await.unwrap();
        assert_eq!(r.status, 401);
        // A certificate from a CA that is not trusted: the handshake (or the first read) fails.
        let rogue = tls_post(h.addr, &server_ca, Some(rogue_ca.leaf(USER, &[])), &no_credentials).await;
        assert!(rogue.is_err() || rogue.as_ref().is_ok_and(|r| r.status == 0), "an untrusted certificate was accepted");
    }
}

/// Two nodes (two stores, two servers) on one PostgreSQL database: a suspension written through
/// one is enforced by the other within 5 seconds (the status cache lives 2 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_postgresql() {
    let Ok(base) = std::env::var("HETS_TEST_POSTGRES_URL") else {
        eprintln!("HETS_TEST_POSTGRES_URL is not set: the multi-node test is skipped");
        return;
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let schema = format!("hets_nodes_{}_{}", std::process::id(), nanos % 1_000_000_000);
    let b2 = base.clone();
    let s2 = schema.clone();
    tokio::task::spawn_blocking(move || {
        let mut admin = postgres::Client::connect(&b2, postgres::NoTls).expect("PostgreSQL at HETS_TEST_POSTGRES_URL");
        admin.batch_execute(&format!("CREATE SCHEMA {s2}")).unwrap();
    })
    .await
    .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
    let personas = Personas::from_toml(&text).unwrap();
    let u = url.clone();
    let p = personas.clone();
    let (a, b) = tokio::task::spawn_blocking(move || {
        let a = store::open(&u).unwrap();
        store::load_personas(a.as_ref(), &p).unwrap();
        (a, store::open(&u).unwrap())
    })
    .await
    .unwrap();
    // The synchronous postgres client must not be used (or dropped) on a runtime thread.
    let node = |s: Arc<dyn store::Store>| async move {
        let responder = tokio::task::spawn_blocking(move || {
            Arc::new(Responder::new(s, Releases::builtin().unwrap(), Settings::default()).unwrap())
        })
        .await
        .unwrap();
        let state = AppState::new(responder, config());
        server::http::spawn("127.0.0.1:0".parse().unwrap(), state, None).await.unwrap()
    };
    let (addr_a, _stop_a, _) = node(a.clone()).await;
    let (addr_b, _stop_b, _) = node(b.clone()).await;
    for (n, addr) in [(70, addr_a), (71, addr_b)] {
        let r =
            post(addr, "/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(n)), USER, PASSWORD).as_bytes()).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Suspend WDEMO001 through node A's store.
    let mut seed = personas.submitters.iter().find(|s| s.id == USER).unwrap().clone();
    seed.status = SubmitterStatus::Suspended;
    seed.suspended_until = Some("2099-01-01T00:00:00Z".into());
    let a2 = a.clone();
    tokio::task::spawn_blocking(move || a2.put_submitters(&[seed]).unwrap()).await.unwrap();
    let suspended = std::time::Instant::now();
    let mut n = 72;
    loop {
        let r = post(addr_b, "/eligibility/realtime/soap", SOAP_CT, soap(&defaults(&id(n)), USER, PASSWORD).as_bytes())
            .await;
        if r.status == 403 {
            assert!(field(&r.body, "ErrorMessage").unwrap().contains("suspended until"));
            break;
        }
        assert_eq!(r.status, 200);
        assert!(suspended.elapsed() < Duration::from_secs(5), "node B still answers 5 s after the suspension");
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = suspended.elapsed();
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    // Keep the stores from being dropped on a runtime thread when the servers go.
    std::mem::forget((a, b));
    tokio::task::spawn_blocking(move || {
        if let Ok(mut c) = postgres::Client::connect(&base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    })
    .await
    .unwrap();
}
