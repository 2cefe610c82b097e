//! What the desktop tests share: a server on loopback over a SQLite store with the personas and
//! the test's desktop users, on a clock the test holds, and a raw HTTP client (so the bytes on
//! the wire are exactly what a test says). Each test binary uses a part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use compliance::ManualClock;
use eligibility::{Instant, Personas, Releases, Settings};
use serde_json::Value;
use server::Responder;
use server::http::{AppState, Config};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use store::{DesktopRole, NewDesktopUser, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The instant the tests' clock starts at.
pub const NOW: &str = "2026-12-01T17:00:00Z";
/// Every test desktop user's password.
pub const PASSWORD: &str = "desktop-test-pass";

pub struct World {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

pub fn at(s: &str) -> Instant {
    Instant::parse_rfc3339(s).unwrap()
}

/// Runs blocking store work from a test's async body.
pub fn sync<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// A desktop user of a test: name, role, submitter (submitter users), NPI (provider users).
pub type User<'a> = (&'a str, DesktopRole, Option<&'a str>, Option<&'a str>);

/// A submitter user of `submitter`.
pub fn submitter_user<'a>(name: &'a str, submitter: &'a str) -> User<'a> {
    (name, DesktopRole::Submitter, Some(submitter), None)
}

/// The help desk.
pub const HELPDESK: User<'static> = ("helpdesk", DesktopRole::Admin, None, None);

/// A server over a fresh SQLite file.
pub async fn world(users: &[User<'_>]) -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("hets.db").display());
    world_on(&url, dir, users).await
}

/// A server over the store at `url`, loaded with the personas and `users`.
pub async fn world_on(url: &str, dir: tempfile::TempDir, users: &[User<'_>]) -> World {
    let store = sync(|| store::open(url)).unwrap();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
    sync(|| {
        store::load_personas(store.as_ref(), &Personas::from_toml(&text).unwrap()).unwrap();
        for (name, role, submitter, npi) in users {
            let user = NewDesktopUser {
                username: name.to_string(),
                role: *role,
                submitter: submitter.map(str::to_string),
                npi: npi.map(str::to_string),
                password: PASSWORD.into(),
            };
            store.put_desktop_user(&user, at(NOW)).unwrap();
        }
    });
    let clock = Arc::new(ManualClock::new(at(NOW)));
    let responder =
        sync(|| Arc::new(Responder::new(store.clone(), Releases::builtin().unwrap(), Settings::default()).unwrap()));
    let config = Config { status_ttl: Duration::ZERO, ..Config::default() };
    let state = AppState::with_clock(responder, config, clock.clone());
    let (addr, stop, _task) = server::http::spawn("127.0.0.1:0".parse().unwrap(), state, None).await.unwrap();
    World { addr, store, clock, _stop: stop, _dir: dir }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_string()
    }
}

pub async fn http(addr: SocketAddr, method: &str, path: &str, extra: &[(&str, &str)], body: &str) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut out)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply { status, headers, body: body.to_string() }
}

/// An `application/x-www-form-urlencoded` body.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}
