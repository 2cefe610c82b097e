//! The compliance regime (D13–D15) end to end: 270s over real HTTP on loopback into a real
//! SQLite store, audits by the compliance service on a clock the test moves, the door of the
//! CORE endpoint answering `UnAuthorized`, and the notices delivered to a real SMTP server
//! (`scripts/smtp-sink.py`, aiosmtpd) and read back from it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use compliance::mail::{Mailer, SmtpConfig};
use compliance::{CapForm, Clock, Compliance, ManualClock, Period, Policy};
use eligibility::{Instant, Personas, Releases, Settings};
use server::Responder;
use server::http::{AppState, Config};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use store::{RelationshipStatus, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SAMPLE: &str = include_str!("../../../tests/data/x12/valid/cms-sample.x12");
const GOOD_NPI: &str = "XX*1125213722";
/// A bad check digit: AAA 43, an invalid-NPI transaction.
const BAD_NPI: &str = "XX*1125213723";
const OTHER_NPI: &str = "XX*1497429880";
/// Well formed but no beneficiary has it: AAA 75, an AAA-error transaction.
const UNKNOWN_MBI: &str = "MI*9AA9AA9AA99";

struct World {
    _schema: Option<PgSchema>,
    addr: SocketAddr,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    compliance: Compliance,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

fn at(s: &str) -> Instant {
    Instant::parse_rfc3339(s).unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The store of one scenario: a SQLite file, or a fresh schema of the PostgreSQL at
/// `HETS_TEST_POSTGRES_URL` (dropped at the end). `None` when PostgreSQL is not configured.
fn open_store(backend: Backend, dir: &Path) -> Option<(Arc<dyn Store>, Option<PgSchema>)> {
    match backend {
        Backend::Sqlite => Some((store::open(&format!("sqlite:{}", dir.join("hets.db").display())).unwrap(), None)),
        Backend::Postgres => {
            let Ok(base) = std::env::var("HETS_TEST_POSTGRES_URL") else {
                eprintln!("HETS_TEST_POSTGRES_URL is not set: the PostgreSQL scenario is skipped");
                return None;
            };
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let name = format!(
                "hets_compliance_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let mut admin =
                postgres::Client::connect(&base, postgres::NoTls).expect("PostgreSQL at HETS_TEST_POSTGRES_URL");
            admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")).unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-csearch_path%3D{name}");
            Some((store::open(&url).unwrap(), Some(PgSchema { base, name })))
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // The synchronous PostgreSQL client may not be dropped on a runtime thread: the store is
        // leaked (the test process ends soon) and the schema dropped off the runtime.
        std::mem::forget(self.store.clone());
        if let Some(schema) = self._schema.take() {
            sync(|| drop(schema));
        }
    }
}

struct PgSchema {
    base: String,
    name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// Runs blocking store work from the test's async body (the synchronous PostgreSQL client
/// must not run on a runtime thread).
fn sync<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

async fn world(backend: Backend, policy: Policy) -> Option<World> {
    let dir = tempfile::tempdir().unwrap();
    let (store, schema) = sync(|| open_store(backend, dir.path()))?;
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
    sync(|| store::load_personas(store.as_ref(), &Personas::from_toml(&text).unwrap())).unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-12-01T17:00:00Z")));
    let responder =
        sync(|| Arc::new(Responder::new(store.clone(), Releases::builtin().unwrap(), Settings::default()).unwrap()));
    // No status cache: each request sees the store as the audit left it.
    let config = Config { status_ttl: Duration::ZERO, ..Config::default() };
    let state = AppState::with_clock(responder, config, clock.clone());
    let (addr, stop, _task) = server::http::spawn("127.0.0.1:0".parse().unwrap(), state, None).await.unwrap();
    let compliance = Compliance::new(store.clone(), policy, clock.clone(), "HETS help desk, 1-800-555-0100");
    Some(World { _schema: schema, addr, store, clock, compliance, _stop: stop, _dir: dir })
}

/// A policy that leaves repeated inquiries alone, for the scenarios about something else.
fn without_repeats() -> Policy {
    Policy { repeat_threshold: 1_000_000, ..Policy::default() }
}

fn password(user: &str) -> &'static str {
    match user {
        "WDEMO001" => "demo-clearinghouse-pass",
        "WDEMO002" => "bayside-pass",
        _ => "wrong",
    }
}

/// The CMS sample 270 sent by `user`, with replacements applied.
fn payload(user: &str, replace: &[(&str, &str)]) -> String {
    let mut p = SAMPLE.trim().replace("WDEMO001", user);
    for (from, to) in replace {
        p = p.replace(from, to);
    }
    p
}

fn soap(user: &str, payload_id: &str, payload: &str) -> String {
    format!(
        r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>{user}</wsse:Username><wsse:Password>{}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><c:COREEnvelopeRealTimeRequest xmlns:c="http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd"><PayloadType>X12_270_Request_005010X279A1</PayloadType><ProcessingMode>RealTime</ProcessingMode><PayloadID>{payload_id}</PayloadID><TimeStamp>2026-12-01T12:00:00Z</TimeStamp><SenderID>{user}</SenderID><ReceiverID>CMS</ReceiverID><CORERuleVersion>2.2.0</CORERuleVersion><Payload><![CDATA[{payload}]]></Payload></c:COREEnvelopeRealTimeRequest></soap:Body></soap:Envelope>"#,
        password(user)
    )
}

/// A fresh PayloadID (CORE wants a UUID).
fn payload_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:08x}-0000-4000-8000-{n:012x}", std::process::id())
}

struct Reply {
    status: u16,
    body: String,
}

async fn post(addr: SocketAddr, body: &str) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "POST /eligibility/realtime/soap HTTP/1.1\r\nHost: t\r\nContent-Type: application/soap+xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Reply { status: head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), body: body.to_string() }
}

/// Sends `payloads` (32 at a time), each under a fresh PayloadID; every one must be answered.
async fn send_all(w: &World, user: &str, payloads: Vec<String>) {
    let sem = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = Vec::new();
    for p in payloads {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (addr, id) = (w.addr, payload_id());
        let user = user.to_string();
        tasks.push(tokio::spawn(async move {
            let r = post(addr, &soap(&user, &id, &p)).await;
            drop(permit);
            r
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.contains("X12_271_Response_005010X279A1"), "{}", r.body);
    }
}

/// `total` inquiries by `user`, the first `bad` of them with `bad_part` applied.
async fn day_of_traffic(w: &World, user: &str, total: usize, bad: usize, bad_part: (&str, &str)) {
    let good = payload(user, &[]);
    let wrong = payload(user, &[bad_part]);
    let payloads = (0..total).map(|i| if i < bad { wrong.clone() } else { good.clone() }).collect();
    send_all(w, user, payloads).await;
}

/// What the door says to `user` now: the HTTP status and the CORE envelope's error text.
async fn door(w: &World, user: &str) -> Reply {
    post(w.addr, &soap(user, &payload_id(), &payload(user, &[]))).await
}

async fn assert_refused(w: &World, user: &str, why: &str) {
    let r = door(w, user).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("<ErrorCode>UnAuthorized</ErrorCode>"), "{}", r.body);
    assert!(r.body.contains(why), "wanted {why:?} in {}", r.body);
    // Refused at the door: no 271 and no AAA.
    assert!(!r.body.contains("AAA*"), "{}", r.body);
}

async fn assert_answered(w: &World, user: &str) {
    let r = door(w, user).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("EB*1*"), "{}", r.body);
}

/// Runs the audit of the ET day `day` (at 00:30 ET the next day) and the tick.
fn audit(w: &World, day: &str) -> Vec<(String, String)> {
    let period = Period::day(x12::Date::parse_iso(day).unwrap());
    w.clock.set(Instant::from_unix(period.end.unix_seconds + 30 * 60));
    sync(|| w.compliance.tick()).unwrap();
    let run = sync(|| w.compliance.audit(&period)).unwrap();
    assert!(run.ran);
    run.audited
}

fn actions<'a>(audited: &'a [(String, String)], id: &str) -> &'a str {
    audited.iter().find(|(s, _)| s == id).map(|(_, a)| a.as_str()).unwrap_or("")
}

/// Noon ET of a December day.
fn noon(w: &World, day: &str) {
    w.clock.set(at(&format!("{day}T17:00:00Z")));
    sync(|| w.compliance.tick()).unwrap();
}

fn standing(w: &World, id: &str) -> String {
    let s = sync(|| w.store.submitter(id)).unwrap().unwrap();
    compliance::service::standing_text(&compliance::service::state_of(&s).standing_at(w.clock.now())).to_string()
}

fn cap(subject: &str) -> CapForm {
    CapForm {
        subject: subject.into(),
        understanding: "We query HETS only for patients we serve, with their valid Medicare NPI.".into(),
        steps: "Validate every NPI against NPPES and our enrollment list before sending.".into(),
        expected_reduction: "Invalid NPIs from 1% to under 0.1% within a week.".into(),
    }
}

async fn npi_audit_ladder(backend: Backend) {
    let Some(w) = world(backend, without_repeats()).await else { return };
    let sink = Sink::start();

    // Day 1: WDEMO001 at 99.4% (6 invalid of 1,000), WDEMO002 at exactly 99.5% (5 of 1,000).
    noon(&w, "2026-12-01");
    day_of_traffic(&w, "WDEMO001", 1000, 6, (GOOD_NPI, BAD_NPI)).await;
    day_of_traffic(&w, "WDEMO002", 1000, 5, (GOOD_NPI, BAD_NPI)).await;
    let audited = audit(&w, "2026-12-01");
    assert_eq!(actions(&audited, "WDEMO001"), "NPI audit failed: suspension 1 for 24 hours");
    assert_eq!(actions(&audited, "WDEMO002"), "passed");
    let record = &sync(|| w.store.audit_records(Some("WDEMO001"), "2026-12-01", "2026-12-01")).unwrap()[0];
    assert_eq!(record.npi_verdict, "fail");
    assert!(record.figures.contains("\"transactions\":1000") && record.figures.contains("\"invalid_npi\":6"));
    // Suspended for 24 hours from the audit (2026-12-02 00:30 ET = 05:30Z).
    assert_eq!(standing(&w, "WDEMO001"), "suspended");
    assert_refused(&w, "WDEMO001", "suspended until 2026-12-03T05:30:00Z").await;
    assert_answered(&w, "WDEMO002").await;
    // A rerun of the audit changes nothing.
    let again = sync(|| w.compliance.audit(&Period::day(x12::Date::parse_iso("2026-12-01").unwrap()))).unwrap();
    assert_eq!((again.audited.len(), again.already as usize), (0, sync(|| w.store.submitters()).unwrap().len()));
    w.clock.set(at("2026-12-03T05:29:59Z"));
    assert_refused(&w, "WDEMO001", "suspended until").await;
    w.clock.set(at("2026-12-03T05:30:00Z"));
    assert_answered(&w, "WDEMO001").await;

    // Under the minimum volume nothing happens, even at 1% valid: 98 invalid inquiries today
    // plus the one valid the door check above sent (at 00:30 ET, the same ET day) make 99.
    noon(&w, "2026-12-02");
    day_of_traffic(&w, "WDEMO002", 98, 98, (GOOD_NPI, BAD_NPI)).await;
    let audited = audit(&w, "2026-12-02");
    assert_eq!(actions(&audited, "WDEMO002"), "below the minimum volume: not judged");
    assert_eq!(standing(&w, "WDEMO002"), "active");

    // Two more failures: the 3rd suspension terminates until a CAP is accepted.
    let mut day = 3;
    let mut fail_once = |expect: &'static str| {
        let d = format!("2026-12-{day:02}");
        day += 2;
        (d, expect)
    };
    for expect in ["NPI audit failed: suspension 2 for 24 hours", "NPI audit failed: suspension 3 terminates"] {
        let (d, expect) = fail_once(expect);
        noon(&w, &d);
        day_of_traffic(&w, "WDEMO001", 200, 2, (GOOD_NPI, BAD_NPI)).await;
        let audited = audit(&w, &d);
        assert!(actions(&audited, "WDEMO001").starts_with(expect), "{audited:?}");
    }
    assert_eq!(standing(&w, "WDEMO001"), "terminated_pending_cap");
    // It does not end by itself.
    w.clock.advance_days(10);
    sync(|| w.compliance.tick()).unwrap();
    assert_refused(&w, "WDEMO001", "terminated until a corrective action plan").await;
    let submitted = sync(|| w.compliance.submit_cap("WDEMO001", &cap("submitter"), "WDEMO001")).unwrap();
    assert_refused(&w, "WDEMO001", "terminated").await;
    sync(|| w.compliance.decide_cap(&submitted.id, true, "helpdesk-ann", "Plan is specific; accepted.")).unwrap();
    assert_eq!(standing(&w, "WDEMO001"), "active");
    assert_answered(&w, "WDEMO001").await;

    // Two more rounds of three: the 3rd termination (after 2 earlier ones) is permanent.
    for round in 0..2 {
        for _ in 0..3 {
            let d = w.clock.now().date().add_days(1);
            let d = d.to_string();
            noon(&w, &d);
            day_of_traffic(&w, "WDEMO001", 200, 2, (GOOD_NPI, BAD_NPI)).await;
            audit(&w, &d);
            w.clock.advance_days(1);
            sync(|| w.compliance.tick()).unwrap();
        }
        if round == 0 {
            assert_eq!(standing(&w, "WDEMO001"), "terminated_pending_cap");
            let c = sync(|| w.compliance.submit_cap("WDEMO001", &cap("submitter"), "WDEMO001")).unwrap();
            sync(|| w.compliance.decide_cap(&c.id, true, "helpdesk-ann", "Accepted once more.")).unwrap();
        }
    }
    assert_eq!(standing(&w, "WDEMO001"), "permanently_terminated");
    assert_eq!(sync(|| w.store.submitter("WDEMO001")).unwrap().unwrap().terminations, 3);
    assert_refused(&w, "WDEMO001", "permanently terminated").await;
    assert!(sync(|| w.compliance.submit_cap("WDEMO001", &cap("submitter"), "WDEMO001")).is_err());

    // Every step is in the history, with its actor.
    let history = sync(|| w.store.status_changes(Some("WDEMO001"), 200)).unwrap();
    assert!(history.iter().any(|h| h.to == "permanently_terminated" && h.actor == "audit"));
    assert!(history.iter().any(|h| h.to == "active" && h.actor == "admin:helpdesk-ann"));

    // And every step sent its email, with the figures.
    let Some(sink) = sink else { return };
    let got = sink.deliver_all(&w);
    let first = got.iter().find(|m| m.kind == "suspension").expect("a suspension notice");
    assert_eq!(first.to, "edi-ops@demo-clearinghouse.example");
    assert!(first.text.contains("with a valid NPI: 994 (99.40%)"), "{}", first.text);
    assert!(first.text.contains("required: at least 99.5%"), "{}", first.text);
    assert!(first.text.contains("2026-12-03 05:30 UTC"), "{}", first.text);
    assert!(first.html.contains("994 (99.40%)"), "{}", first.html);
    let count = |kind: &str| got.iter().filter(|m| m.kind == kind).count();
    assert_eq!(count("suspension"), 6, "{:?}", got.iter().map(|m| &m.subject).collect::<Vec<_>>());
    assert_eq!(count("termination"), 2);
    assert_eq!(count("permanent_termination"), 1);
    assert_eq!(count("cap_received"), 2);
    assert_eq!(count("cap_accepted"), 2);
    assert!(count("reinstatement") >= 3);
}

async fn aaa_rate_case(backend: Backend) {
    let Some(w) = world(backend, without_repeats()).await else { return };
    let sink = Sink::start();
    noon(&w, "2026-12-01");
    // 30 of 200 (15%) name no known beneficiary: AAA 75, over the tolerated 10%.
    day_of_traffic(&w, "WDEMO001", 200, 30, ("MI*2DG9NX3WK42", UNKNOWN_MBI)).await;
    day_of_traffic(&w, "WDEMO002", 200, 30, ("MI*2DG9NX3WK42", UNKNOWN_MBI)).await;
    let audited = audit(&w, "2026-12-01");
    assert!(actions(&audited, "WDEMO001").starts_with("AAA error rate 15.00% is over the tolerated 10.0%"));
    let cases = sync(|| w.store.aaa_cases(None)).unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0].id, "AAA-WDEMO001-2026-12-01");
    assert_eq!(cases[0].deadline, at("2026-12-16T05:30:00Z"));
    // Notified, not suspended: both still trade.
    assert_answered(&w, "WDEMO001").await;

    // WDEMO001 submits a CAP and gets back under the rate: closed.
    w.clock.set(at("2026-12-03T15:00:00Z"));
    sync(|| w.compliance.submit_cap("WDEMO001", &cap("aaa_case:AAA-WDEMO001-2026-12-01"), "WDEMO001")).unwrap();
    noon(&w, "2026-12-05");
    day_of_traffic(&w, "WDEMO001", 200, 5, ("MI*2DG9NX3WK42", UNKNOWN_MBI)).await;
    let audited = audit(&w, "2026-12-05");
    assert!(actions(&audited, "WDEMO001").contains("closed"), "{audited:?}");
    // WDEMO002 sends nothing: no CAP by day 14, suspended until a CAP is accepted.
    w.clock.set(at("2026-12-16T05:30:00Z"));
    assert!(sync(|| w.compliance.tick()).unwrap().cases_suspended.is_empty());
    w.clock.set(at("2026-12-16T05:30:01Z"));
    assert_eq!(sync(|| w.compliance.tick()).unwrap().cases_suspended, ["AAA-WDEMO002-2026-12-01"]);
    let states: Vec<_> = sync(|| w.store.aaa_cases(None)).unwrap().into_iter().map(|c| c.state).collect();
    assert_eq!(states, ["closed", "suspended"]);
    assert_refused(&w, "WDEMO002", "suspended until a corrective action plan is accepted").await;
    assert_answered(&w, "WDEMO001").await;
    // Its CAP, accepted, lifts the suspension and closes the case.
    let c = sync(|| w.compliance.submit_cap("WDEMO002", &cap("aaa_case:AAA-WDEMO002-2026-12-01"), "WDEMO002")).unwrap();
    sync(|| w.compliance.decide_cap(&c.id, true, "helpdesk-bo", "Steps are concrete.")).unwrap();
    assert_answered(&w, "WDEMO002").await;
    assert_eq!(sync(|| w.store.aaa_cases(Some("WDEMO002"))).unwrap()[0].state, "closed");

    let Some(sink) = sink else { return };
    let got = sink.deliver_all(&w);
    let kinds: Vec<(&str, &str)> = got.iter().map(|m| (m.kind.as_str(), m.to.as_str())).collect();
    let one = "edi-ops@demo-clearinghouse.example";
    let two = "billing@bayside-family.example";
    for expected in [
        ("aaa_notice", one),
        ("aaa_notice", two),
        ("cap_received", one),
        ("aaa_case_closed", one),
        ("aaa_suspension", two),
        ("cap_received", two),
        ("reinstatement", two),
        ("cap_accepted", two),
    ] {
        assert!(kinds.contains(&expected), "{expected:?} not in {kinds:?}");
    }
    let notice = got.iter().find(|m| m.kind == "aaa_notice" && m.to == one).unwrap();
    assert!(notice.text.contains("with an AAA error: 30 (15.00%)"), "{}", notice.text);
    assert!(notice.text.contains("AAA 75: 30"), "{}", notice.text);
    assert!(notice.text.contains("2026-12-16 05:30 UTC"), "{}", notice.text);
    let closed = got.iter().find(|m| m.kind == "aaa_case_closed").unwrap();
    assert!(closed.text.contains("with an AAA error: 5 (2.50%)"), "{}", closed.text);
}

async fn repeated_inquiries(backend: Backend) {
    let Some(w) = world(backend, Policy::default()).await else { return };
    noon(&w, "2026-12-01");
    // 30 inquiries about one NPI + MBI within the hour; 29 about another NPI's pair.
    send_all(&w, "WDEMO001", vec![payload("WDEMO001", &[]); 30]).await;
    send_all(&w, "WDEMO001", vec![payload("WDEMO001", &[(GOOD_NPI, OTHER_NPI)]); 29]).await;
    let audited = audit(&w, "2026-12-01");
    assert_eq!(
        actions(&audited, "WDEMO001"),
        "relationship with NPI 1125213722 suspended: 30 inquiries about one beneficiary within 24 hours"
    );
    assert_eq!(
        sync(|| w.store.relationship("WDEMO001", "1125213722")).unwrap().unwrap().status,
        RelationshipStatus::Suspended
    );
    assert_eq!(
        sync(|| w.store.relationship("WDEMO001", "1497429880")).unwrap().unwrap().status,
        RelationshipStatus::Active
    );
    // AAA 41 for the suspended relationship; the submitter's other NPIs are still answered.
    let r = door(&w, "WDEMO001").await;
    assert!(r.body.contains("AAA*N**41*"), "{}", r.body);
    let r = post(w.addr, &soap("WDEMO001", &payload_id(), &payload("WDEMO001", &[(GOOD_NPI, OTHER_NPI)]))).await;
    assert!(r.body.contains("EB*1*") && !r.body.contains("AAA*"), "{}", r.body);
    // Other submitters' relationships with the same NPI are untouched.
    assert_answered(&w, "WDEMO002").await;
    // A CAP for the relationship, accepted, restores it.
    let c = sync(|| w.compliance.submit_cap("WDEMO001", &cap("relationship:1125213722"), "WDEMO001")).unwrap();
    sync(|| w.compliance.decide_cap(&c.id, true, "helpdesk-ann", "Provider informed; accepted.")).unwrap();
    assert_answered(&w, "WDEMO001").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_npi_audit_suspends_terminates_and_bans_sqlite() {
    npi_audit_ladder(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_npi_audit_suspends_terminates_and_bans_postgres() {
    npi_audit_ladder(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aaa_rate_case_closes_with_a_cap_or_suspends_after_14_days_sqlite() {
    aaa_rate_case(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aaa_rate_case_closes_with_a_cap_or_suspends_after_14_days_postgres() {
    aaa_rate_case(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_repeats_suspend_that_relationship_only_sqlite() {
    repeated_inquiries(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_repeats_suspend_that_relationship_only_postgres() {
    repeated_inquiries(Backend::Postgres).await;
}

/// One message as the SMTP server received it.
#[derive(Debug)]
struct Received {
    kind: String,
    to: String,
    subject: String,
    text: String,
    html: String,
}

/// A real SMTP server on loopback (aiosmtpd). Missing aiosmtpd fails the test, unless
/// `HETS_SKIP_SMTP_TESTS=1` says to skip the email checks knowingly.
struct Sink {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    fn start() -> Option<Sink> {
        let ok = Command::new("python3").args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
        if !ok {
            if std::env::var("HETS_SKIP_SMTP_TESTS").as_deref() == Ok("1") {
                eprintln!("SKIPPED: email checks need aiosmtpd; HETS_SKIP_SMTP_TESTS=1 is set");
                return None;
            }
            panic!("the email checks need Python's aiosmtpd: python3 -m pip install aiosmtpd");
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-sink.py");
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0", "--exit-on-eof", "--dir"])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("ready 127.0.0.1:").and_then(|p| p.parse().ok()).expect("sink ready");
        Some(Sink { child, _stdin: stdin, port, dir })
    }

    /// Delivers the whole outbox to this server and returns what it received, in order.
    fn deliver_all(&self, w: &World) -> Vec<Received> {
        let config = SmtpConfig { host: "127.0.0.1".into(), port: self.port, ..SmtpConfig::default() };
        let mailer = Mailer::new(&config).unwrap();
        let d = sync(|| w.compliance.deliver(&mailer, 10_000)).unwrap();
        assert_eq!((d.retrying, d.gave_up), (0, 0));
        let outbox = sync(|| w.store.outbox(10_000)).unwrap();
        assert!(outbox.iter().all(|m| m.sent.is_some()), "everything delivered");
        let mut got = Vec::new();
        for n in 1..=d.sent {
            let text = std::fs::read_to_string(self.dir.path().join(format!("{n}.json"))).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let part = |ct: &str| {
                v["parts"].as_array().unwrap().iter().find(|p| p["content_type"] == ct).unwrap()["content"]
                    .as_str()
                    .unwrap()
                    .to_string()
            };
            let id = v["headers"]["message_id"].as_str().unwrap().to_string();
            let outbox_id: i64 = id.trim_start_matches("<hets-outbox-").split('@').next().unwrap().parse().unwrap();
            let kind = outbox.iter().find(|m| m.id == outbox_id).unwrap().kind.clone();
            got.push(Received {
                kind,
                to: v["rcpt_tos"][0].as_str().unwrap().to_string(),
                subject: v["headers"]["subject"].as_str().unwrap().to_string(),
                text: part("text/plain"),
                html: part("text/html"),
            });
        }
        got
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
