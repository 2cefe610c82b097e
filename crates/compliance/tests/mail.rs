#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Email notices: the templates of every kind, and delivery to a real SMTP server on loopback
//! (`scripts/smtp-sink.py`, aiosmtpd), asserting on the messages it received.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use compliance::mail::{
    Email, MailError, Mailer, NoticeKind, SmtpConfig, SmtpSecurity, Vars, render, template_sources, variables,
};
use serde_json::Value;

const HELPDESK: &str = "MCARE help desk, 1-866-324-7315, mcare@example.org";
const FROM: &str = "HETS Help Desk <hets@example.org>";

fn vars(pairs: &[(&str, &str)]) -> Vars {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A sample value for each documented variable; `figures` and `summary` span lines.
fn sample(name: &str) -> String {
    match name {
        "submitter_name" => "Acme Billing & Claims, LLC".to_owned(),
        "submitter_id" => "WACME001".to_owned(),
        "helpdesk" => HELPDESK.to_owned(),
        "figures" => "transactions 1000, valid NPIs 994 (99.4%), required 99.5%\ninvalid NPIs 6".to_owned(),
        "summary" => "- AAA 15 is returned for an invalid NPI\n- new service type codes".to_owned(),
        "npi" => "1234567893".to_owned(),
        other => format!("<{other} value>"),
    }
}

fn placeholders(src: &str) -> BTreeSet<String> {
    src.split("{{").skip(1).filter_map(|s| s.split_once("}}")).map(|(name, _)| name.trim().to_owned()).collect()
}

#[test]
fn kinds_round_trip_through_their_stored_names() {
    let mut names = BTreeSet::new();
    for kind in NoticeKind::ALL {
        let name = kind.as_str();
        assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name}");
        assert_eq!(NoticeKind::parse(name), Some(kind));
        assert_eq!(kind.to_string(), name);
        assert!(names.insert(name), "{name} twice");
    }
    assert_eq!(NoticeKind::parse("Suspension"), None);
    assert_eq!(NoticeKind::parse(""), None);
    // The names are stored in the outbox: renaming one strands queued messages.
    assert_eq!(NoticeKind::AaaCaseClosed.as_str(), "aaa_case_closed");
    assert_eq!(NoticeKind::RelationshipSuspended.as_str(), "relationship_suspended");
}

#[test]
fn the_template_files_are_the_embedded_ones_and_use_exactly_the_documented_variables() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/email");
    for kind in NoticeKind::ALL {
        let (txt, html) = template_sources(kind);
        assert_eq!(std::fs::read_to_string(dir.join(format!("{kind}.txt"))).unwrap(), txt, "{kind}.txt");
        assert_eq!(std::fs::read_to_string(dir.join(format!("{kind}.html"))).unwrap(), html, "{kind}.html");
        let documented: BTreeSet<String> = variables(kind).iter().map(|v| (*v).to_owned()).collect();
        assert_eq!(placeholders(txt), documented, "{kind}.txt");
        assert_eq!(placeholders(html), documented, "{kind}.html");
        assert!(txt.starts_with("Subject: "), "{kind}.txt");
        assert!(html.starts_with("<!DOCTYPE html>"), "{kind}.html");
    }
}

#[test]
fn every_kind_renders_with_its_documented_variables() {
    for kind in NoticeKind::ALL {
        let v: Vars = variables(kind).iter().map(|name| ((*name).to_owned(), sample(name))).collect();
        let r = render(kind, &v).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(!r.subject.is_empty() && !r.subject.contains(['\n', '{', '}']), "{kind}: {:?}", r.subject);
        for (part, body) in [("text", &r.text), ("html", &r.html)] {
            assert!(!body.contains("{{") && !body.contains("}}"), "{kind} {part}: leftover placeholder");
            assert!(body.contains("WACME001"), "{kind} {part}: submitter id");
            assert!(body.contains(HELPDESK), "{kind} {part}: help desk");
        }
        // Escaped in the HTML part only.
        assert!(r.text.contains("Acme Billing & Claims, LLC"), "{kind}");
        assert!(r.html.contains("Acme Billing &amp; Claims, LLC"), "{kind}");
        assert!(!r.html.contains("Claims, LLC&") && !r.html.contains("<period value>"), "{kind}");
        for name in variables(kind) {
            let value = sample(name);
            assert!(r.text.contains(&value), "{kind}: text lacks {name}");
            let escaped = value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            assert!(r.html.contains(&escaped), "{kind}: html lacks {name}");
        }
        assert!(!r.text.starts_with('\n') && !r.text.starts_with("Subject"), "{kind}");
    }
}

#[test]
fn a_missing_value_names_the_template_and_the_placeholder() {
    let mut v: Vars = variables(NoticeKind::Termination).iter().map(|n| ((*n).to_owned(), sample(n))).collect();
    v.remove("cap_deadline");
    let err = render(NoticeKind::Termination, &v).unwrap_err();
    assert!(
        matches!(&err, MailError::MissingValue { template: "termination.txt", placeholder } if placeholder == "cap_deadline"),
        "{err:?}"
    );
    assert!(err.to_string().contains("termination.txt") && err.to_string().contains("{{cap_deadline}}"), "{err}");
    assert!(err.is_permanent());
}

#[test]
fn a_line_break_cannot_reach_the_subject() {
    let mut v: Vars = variables(NoticeKind::Outage).iter().map(|n| ((*n).to_owned(), sample(n))).collect();
    v.insert("starts_at".to_owned(), "2026-03-07 02:00 UTC\r\nBcc: someone@example.org".to_owned());
    let err = render(NoticeKind::Outage, &v).unwrap_err();
    assert!(matches!(err, MailError::Template { template: "outage.txt", .. }), "{err:?}");
}

#[test]
fn smtp_config_from_toml() {
    #[derive(serde::Deserialize)]
    struct File {
        #[serde(default)]
        smtp: SmtpConfig,
    }
    let default: File = toml::from_str("").unwrap();
    assert_eq!(default.smtp, SmtpConfig::default());
    assert_eq!((default.smtp.host.as_str(), default.smtp.port), ("localhost", 25));
    assert_eq!(default.smtp.security, SmtpSecurity::None);
    assert_eq!(default.smtp.from, "openhets <hets@localhost>");

    let full: File = toml::from_str(
        r#"
        [smtp]
        host = "smtp.example.org"
        port = 587
        from = "HETS Help Desk <hets@example.org>"
        security = "starttls"
        username = "hets"
        password = "s3cret"
        timeout_secs = 10
        "#,
    )
    .unwrap();
    let c = full.smtp;
    assert_eq!((c.host.as_str(), c.port, c.security), ("smtp.example.org", 587, SmtpSecurity::StartTls));
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!(c.password.as_deref(), Some("s3cret"));
    assert!(!format!("{c:?}").contains("s3cret"), "the password must not reach a log line");
    let tls: File = toml::from_str("[smtp]\nsecurity = \"tls\"\nport = 465").unwrap();
    assert_eq!(tls.smtp.security, SmtpSecurity::Tls);
    assert!(toml::from_str::<File>("[smtp]\nhots = \"typo\"").is_err());
    assert!(toml::from_str::<File>("[smtp]\nsecurity = \"ssl\"").is_err());
}

#[test]
fn bad_configurations_are_refused_up_front() {
    let bad_from = SmtpConfig { from: "not a mailbox".to_owned(), ..SmtpConfig::default() };
    let err = Mailer::new(&bad_from).unwrap_err();
    assert!(matches!(err, MailError::Address { field: "from", .. }), "{err:?}");
    let half_auth = SmtpConfig { username: Some("hets".to_owned()), ..SmtpConfig::default() };
    assert!(matches!(Mailer::new(&half_auth), Err(MailError::Config(_))));
    let tls = SmtpConfig { security: SmtpSecurity::Tls, host: "smtp.example.org".to_owned(), ..SmtpConfig::default() };
    Mailer::new(&tls).unwrap();
}

#[test]
fn an_invalid_address_is_a_permanent_error_naming_the_problem() {
    // The address is checked before connecting, so no server is needed.
    let mailer = Mailer::new(&config(closed_port())).unwrap();
    for bad in ["not an address", "ops@", "", "a@b.org, c@d.org"] {
        let email = Email { to: bad.to_owned(), subject: "s".to_owned(), text: "t".to_owned(), html: "h".to_owned() };
        let err = mailer.send(&email).unwrap_err();
        assert!(matches!(&err, MailError::Address { field: "to", address, .. } if address == bad), "{bad}: {err:?}");
        assert!(err.is_permanent(), "{bad}");
        assert!(err.to_string().contains("invalid to address"), "{err}");
    }
}

#[test]
fn a_closed_port_is_a_transient_error() {
    let port = closed_port();
    let mailer = Mailer::new(&config(port)).unwrap();
    let err = mailer.send(&email("ops@example.org")).unwrap_err();
    assert!(matches!(err, MailError::Smtp { permanent: false, .. }), "{err:?}");
    assert!(!err.is_permanent());
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[test]
fn notices_reach_a_real_smtp_server() {
    let Some(sink) = Sink::start() else { return };
    let mailer = Mailer::new(&config(sink.port)).unwrap();

    let suspension = render(
        NoticeKind::Suspension,
        &vars(&[
            ("submitter_name", "Acme Billing & Claims, LLC"),
            ("submitter_id", "WACME001"),
            ("helpdesk", HELPDESK),
            ("reason", "NPI audit failed: 6 of 1000 transactions carried an invalid NPI"),
            ("figures", "transactions 1000, valid NPIs 994 (99.4%), required 99.5%"),
            ("suspended_at", "2026-03-02 00:00 UTC"),
            ("until", "2026-03-03 00:00 UTC"),
        ]),
    )
    .unwrap()
    .addressed_to("Acme Compliance <compliance@acme.example>");
    let aaa = render(
        NoticeKind::AaaNotice,
        &vars(&[
            ("submitter_name", "Blue Ridge Clearinghouse"),
            ("submitter_id", "WBLUE002"),
            ("helpdesk", HELPDESK),
            ("period", "2026-02-01 to 2026-02-28"),
            ("figures", "responses 5000, with AAA 612 (12.2%), allowed 10.0%\nAAA 72: 400, AAA 73: 212"),
            ("cap_deadline", "2026-03-31"),
        ]),
    )
    .unwrap()
    .addressed_to("ops@blueridge.example");

    mailer.send(&suspension).unwrap();
    mailer.send_with_id(&aaa, "hets-outbox-42").unwrap();

    let first = sink.received(1);
    assert_eq!(first["rcpt_tos"], serde_json::json!(["compliance@acme.example"]));
    assert_eq!(first["mail_from"], "hets@example.org");
    let h = &first["headers"];
    assert_eq!(h["to"], "Acme Compliance <compliance@acme.example>");
    assert_eq!(h["from"], FROM);
    assert_eq!(h["subject"], "HETS access suspended for 24 hours: Acme Billing & Claims, LLC (WACME001)");
    assert_eq!(h["subject"], suspension.subject.as_str());
    assert_eq!(h["mime_version"], "1.0");
    assert!(h["date"].is_string(), "{h}");
    let id = h["message_id"].as_str().unwrap();
    assert!(id.starts_with('<') && id.ends_with('>') && id.contains('@'), "{id}");
    assert_eq!(first["content_type"], "multipart/alternative");
    let (text, html) = parts(&first);
    for body in [&text, &html] {
        assert!(body.contains("WACME001"));
        assert!(body.contains("transactions 1000, valid NPIs 994 (99.4%), required 99.5%"));
        assert!(body.contains("2026-03-03 00:00 UTC"), "the until-instant");
        assert!(body.contains(HELPDESK));
    }
    assert!(text.contains("Acme Billing & Claims, LLC"));
    assert!(html.contains("Acme Billing &amp; Claims, LLC"));
    assert_eq!(text, suspension.text.replace("\r\n", "\n"));

    let second = sink.received(2);
    assert_eq!(second["rcpt_tos"], serde_json::json!(["ops@blueridge.example"]));
    let h = &second["headers"];
    assert_eq!(h["to"], "ops@blueridge.example");
    assert_eq!(h["from"], FROM);
    assert_eq!(
        h["subject"],
        "HETS AAA error rate above threshold, corrective action plan due 2026-03-31: Blue Ridge Clearinghouse (WBLUE002)"
    );
    assert_eq!(h["message_id"], "<hets-outbox-42@example.org>");
    let (text, html) = parts(&second);
    for body in [&text, &html] {
        assert!(body.contains("Blue Ridge Clearinghouse"));
        assert!(body.contains("responses 5000, with AAA 612 (12.2%), allowed 10.0%\nAAA 72: 400, AAA 73: 212"));
        assert!(body.contains("2026-03-31"), "the CAP deadline");
    }

    // The raw message as it crossed the wire.
    let raw = std::fs::read_to_string(sink.dir.path().join("2.eml")).unwrap();
    assert!(raw.contains("Content-Type: multipart/alternative;"), "{raw}");
    assert!(raw.contains("\r\n"), "SMTP lines end in CRLF");
    assert!(!sink.dir.path().join("3.eml").exists(), "exactly two messages");
}

#[test]
fn smtp_answers_decide_permanent_or_transient() {
    let Some(sink) = Sink::start() else { return };
    let mailer = Mailer::new(&config(sink.port)).unwrap();
    let err = mailer.send(&email("reject@acme.example")).unwrap_err();
    assert!(err.is_permanent(), "550 is permanent: {err:?}");
    let err = mailer.send(&email("busy@acme.example")).unwrap_err();
    assert!(!err.is_permanent(), "451 is transient: {err:?}");
    assert!(matches!(err, MailError::Smtp { permanent: false, .. }), "{err:?}");
    // The refusals did not disturb the server: the next message goes through.
    mailer.send(&email("ops@acme.example")).unwrap();
    assert_eq!(sink.received(1)["rcpt_tos"], serde_json::json!(["ops@acme.example"]));
}

fn email(to: &str) -> Email {
    Email {
        to: to.to_owned(),
        subject: "HETS test notice".to_owned(),
        text: "Plain text.".to_owned(),
        html: "<p>HTML.</p>".to_owned(),
    }
}

fn config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        from: FROM.to_owned(),
        timeout: Duration::from_secs(10),
        ..SmtpConfig::default()
    }
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The text/plain and text/html parts, as decoded by Python's email package, with LF line ends.
fn parts(message: &Value) -> (String, String) {
    let parts = message["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{message}");
    let content = |i: usize, ty: &str| {
        assert_eq!(parts[i]["content_type"], ty, "{message}");
        parts[i]["content"].as_str().unwrap().replace("\r\n", "\n")
    };
    (content(0, "text/plain"), content(1, "text/html"))
}

/// `scripts/smtp-sink.py` on a free loopback port, writing into a temporary directory.
struct Sink {
    child: Child,
    // Held so that the sink exits (on EOF) even if this process dies without running Drop.
    _stdin: ChildStdin,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    /// None only when `HETS_SKIP_SMTP_TESTS=1` and aiosmtpd is missing; otherwise a missing
    /// aiosmtpd fails the test, so that it can never pass without having talked SMTP.
    fn start() -> Option<Sink> {
        let probe = Command::new("python3").args(["-c", "import aiosmtpd"]).output();
        let available = matches!(&probe, Ok(out) if out.status.success());
        if !available {
            let why = match &probe {
                // The last line of the traceback says what is missing.
                Ok(out) => String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("").trim().to_owned(),
                Err(e) => format!("python3 could not be run: {e}"),
            };
            if std::env::var("HETS_SKIP_SMTP_TESTS").as_deref() == Ok("1") {
                eprintln!("SKIPPED: the SMTP tests need aiosmtpd ({why}); HETS_SKIP_SMTP_TESTS=1 is set");
                return None;
            }
            panic!(
                "the SMTP tests need Python's aiosmtpd: run `python3 -m pip install aiosmtpd` \
                 (or set HETS_SKIP_SMTP_TESTS=1 to skip them knowingly). Probe: {why}"
            );
        }
        let script: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-sink.py");
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0", "--exit-on-eof", "--dir"])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", script.display()));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let Some(port) = line.trim().strip_prefix("ready 127.0.0.1:").and_then(|p| p.parse().ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not report ready (got {line:?}); see its stderr above", script.display());
        };
        Some(Sink { child, _stdin: stdin, port, dir })
    }

    /// The n-th received message, as parsed by the sink. The sink writes it before answering
    /// 250, so it exists once `send` has returned Ok.
    fn received(&self, n: usize) -> Value {
        let path = self.dir.path().join(format!("{n}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
