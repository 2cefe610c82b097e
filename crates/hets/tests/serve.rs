//! `hets serve` as a process: the demo starts, answers, and a SIGKILL in the middle of a load
//! loses no record of any answer a client received (every delivered PayloadID is in the
//! store, committed with its transaction record before the answer left).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HETS: &str = env!("CARGO_BIN_EXE_hets");
const SAMPLE: &str = include_str!("../../../tests/data/x12/valid/cms-sample.x12");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn request(port: u16, payload_id: &str) -> Option<u16> {
    let body = format!(
        r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken><wsse:Username>WDEMO001</wsse:Username><wsse:Password>demo-clearinghouse-pass</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><core:COREEnvelopeRealTimeRequest xmlns:core="http://www.caqh.org/SOAP/WSDL/CORERule2.2.0.xsd"><PayloadType>X12_270_Request_005010X279A1</PayloadType><ProcessingMode>RealTime</ProcessingMode><PayloadID>{payload_id}</PayloadID><TimeStamp>2026-11-16T09:30:00Z</TimeStamp><SenderID>WDEMO001</SenderID><ReceiverID>CMS</ReceiverID><CORERuleVersion>2.2.0</CORERuleVersion><Payload><![CDATA[{}]]></Payload></core:COREEnvelopeRealTimeRequest></soap:Body></soap:Envelope>"#,
        SAMPLE.trim()
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let head = format!(
        "POST /eligibility/realtime/soap HTTP/1.1\r\nHost: t\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    // Delivered means the whole answer arrived.
    if !out.contains("</soap:Envelope>") {
        return None;
    }
    out.split(' ').nth(1)?.parse().ok()
}

#[test]
fn sigkill_during_load_loses_no_delivered_record() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut server, banner) = start_demo(dir.path(), port);
    assert!(banner.contains("/eligibility/realtime/soap") && banner.contains("demo-clearinghouse-pass"), "{banner}");
    assert_eq!(request(port, "00000000-0000-4000-8000-000000000000"), Some(200));

    let delivered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(1));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (delivered, stop, next) = (delivered.clone(), stop.clone(), next.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("00000000-0000-4000-8000-{:012}", next.fetch_add(1, Ordering::Relaxed));
                    if request(port, &id) == Some(200) {
                        delivered.lock().unwrap().push(id);
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while delivered.lock().unwrap().len() < 50 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let delivered = delivered.lock().unwrap().clone();
    assert!(delivered.len() >= 50, "only {} answers before the kill", delivered.len());
    let store = store::open(&format!("sqlite:{}", dir.path().join("hets.db").display())).unwrap();
    let since = eligibility::Instant::from_unix(0);
    let missing: Vec<_> =
        delivered.iter().filter(|id| store.replay("WDEMO001", id, since).unwrap().is_none()).collect();
    assert!(
        missing.is_empty(),
        "{} of {} delivered answers have no record: {missing:?}",
        missing.len(),
        delivered.len()
    );
    assert!(store.counts().unwrap().transactions > delivered.len() as u64);
}

/// Two `hets serve` processes on one PostgreSQL database: a suspension made by a third process
/// (`hets submitter suspend`, as the help desk would) is enforced by both within 5 seconds.
#[test]
fn two_serve_processes_share_postgresql() {
    let Ok(base) = std::env::var("HETS_TEST_POSTGRES_URL") else {
        eprintln!("HETS_TEST_POSTGRES_URL is not set: the multi-process test is skipped");
        return;
    };
    let schema = format!("hets_procs_{}", std::process::id());
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("PostgreSQL at HETS_TEST_POSTGRES_URL");
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
    let seeded = Command::new(HETS)
        .args(["seed", "--demo", "--beneficiaries", "100", "--db", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(seeded.success());
    let nodes: Vec<(u16, std::process::Child)> = (0..2)
        .map(|_| {
            let port = free_port();
            let child = Command::new(HETS)
                .args(["serve", "--db", &url, "--listen", &format!("127.0.0.1:{port}")])
                .env("HETS_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            (port, child)
        })
        .collect();
    let next = AtomicU64::new(1);
    let id = || format!("00000000-0000-4000-9000-{:012}", next.fetch_add(1, Ordering::Relaxed));
    for (port, _) in &nodes {
        let started = Instant::now();
        while request(*port, &id()) != Some(200) {
            assert!(started.elapsed() < Duration::from_secs(30), "node on {port} never answered");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let suspended = Command::new(HETS)
        .args(["submitter", "suspend", "WDEMO001", "--until", "2099-01-01T00:00:00Z"])
        .args(["--reason", "multi-node test", "--admin", "ops", "--db", &url])
        .output()
        .unwrap();
    assert!(suspended.status.success(), "{}", String::from_utf8_lossy(&suspended.stderr));
    let at = Instant::now();
    for (port, _) in &nodes {
        while request(*port, &id()) != Some(403) {
            assert!(at.elapsed() < Duration::from_secs(5), "node on {port} still answers 5 s after the suspension");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    eprintln!("both nodes refused WDEMO001 {:?} after the suspension", at.elapsed());
    for (_, mut child) in nodes {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
}

/// A server process that is killed when the test ends, also when an assertion fails first.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `hets serve --demo` on a data directory and returns once it listens, with its banner
/// (endpoints, demo credentials, a `hets send` command).
fn start_demo(dir: &std::path::Path, port: u16) -> (Server, String) {
    let mut child = Command::new(HETS)
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env("HETS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    while !banner.contains("hets -- send") {
        let mut line = String::new();
        assert!(lines.read_line(&mut line).unwrap() > 0, "hets serve ended early: {banner}");
        banner.push_str(&line);
    }
    (Server(child), banner)
}

/// A SQLite database takes one server process (the PayloadID filter and the group commit are
/// the process's own): a second `hets serve` on it is refused with a message saying why, and
/// the claim goes with the first process, even when it is killed.
#[test]
fn a_second_server_on_one_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, _) = start_demo(dir.path(), free_port());
    let second = Command::new(HETS)
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{}", free_port()), "--data-dir"])
        .arg(dir.path())
        .env("HETS_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("another hets serve process is serving"), "{stderr}");
    assert!(stderr.contains("hets.db.lock"), "{stderr}");
    // Other commands still use the database while it is served.
    let url = format!("sqlite:{}", dir.path().join("hets.db").display());
    let counts = Command::new(HETS).args(["admin", "maintenance", "list", "--db", &url]).output().unwrap();
    assert!(counts.status.success(), "{}", String::from_utf8_lossy(&counts.stderr));

    first.0.kill().unwrap(); // SIGKILL: no chance to clean up, yet the lock goes with the process
    first.0.wait().unwrap();
    let port = free_port();
    let _again = start_demo(dir.path(), port);
    assert_eq!(request(port, "00000000-0000-4000-8000-00000000000a"), Some(200));
}
