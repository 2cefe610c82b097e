//! The desktop's HTML pages over real HTTP on loopback, against a real SQLite store: one
//! submitter walled off from another by direct URL, the help desk's pages closed to submitter
//! users, CSRF tokens on every form, the session cookie's attributes, lockout after five wrong
//! passwords, the help desk's users page, and no PHI in the logs of a beneficiary lookup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

mod support;

use support::{HELPDESK, PASSWORD, Reply, World, at, csrf_of, form, http, submitter_user, sync};

async fn world() -> World {
    support::world(&[submitter_user("wdemo001", "WDEMO001"), submitter_user("wdemo002", "WDEMO002"), HELPDESK]).await
}

/// Signs in as a browser does: the form first (its CSRF cookie and field), then the POST.
async fn sign_in_raw(addr: SocketAddr, user: &str, password: &str) -> Reply {
    let page = http(addr, "GET", "/desktop/signin", &[], "").await;
    let cookie = page.headers["set-cookie"].split(';').next().unwrap().to_string();
    assert!(cookie.starts_with("hets_signin="), "{cookie}");
    let body = form(&[("csrf", &csrf_of(&page.body)), ("username", user), ("password", password)]);
    let headers = [("Cookie", cookie.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
    http(addr, "POST", "/desktop/signin", &headers, &body).await
}

/// A browser-like session: the cookie and the CSRF token the pages carry.
struct Browser {
    addr: SocketAddr,
    cookie: String,
    csrf: String,
}

impl Browser {
    async fn sign_in(addr: SocketAddr, user: &str) -> Browser {
        let r = sign_in_raw(addr, user, PASSWORD).await;
        assert_eq!(r.status, 303, "{}", r.body);
        let set = &r.headers["set-cookie"];
        let cookie = set.split(';').next().unwrap().to_string();
        let mut b = Browser { addr, cookie, csrf: String::new() };
        let home = b.get("/desktop").await;
        let to = home.headers["location"].clone();
        let page = b.get(&to).await;
        b.csrf = csrf_of(&page.body);
        b
    }

    async fn get(&self, path: &str) -> Reply {
        http(self.addr, "GET", path, &[("Cookie", &self.cookie)], "").await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form(fields);
        http(
            self.addr,
            "POST",
            path,
            &[("Cookie", &self.cookie), ("Content-Type", "application/x-www-form-urlencoded")],
            &body,
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitter_cannot_see_or_change_another_submitters_data_by_direct_url() {
    let w = world().await;
    let one = Browser::sign_in(w.addr, "wdemo001").await;
    for path in [
        "/desktop/s/WDEMO002",
        "/desktop/s/WDEMO002/relationships",
        "/desktop/s/WDEMO002/relationships/1125213722",
        "/desktop/s/WDEMO002/relationships/1125213722/delete",
        "/desktop/s/WDEMO002/batch",
        "/desktop/s/WDEMO002/caps",
        "/desktop/s/WDEMO002/usage",
        "/desktop/s/WDEMO002/lookup",
        "/desktop/s/NOSUCH/relationships",
    ] {
        let r = one.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.body.contains("1125213722</td>"), "{path} shows nothing of WDEMO002's");
    }
    // The same message for another submitter as for one that does not exist.
    let other = one.get("/desktop/s/WDEMO002/relationships").await;
    assert!(other.body.contains("no submitter WDEMO002"), "{}", other.body);

    let csrf = one.csrf.clone();
    let add = one
        .post(
            "/desktop/s/WDEMO002/relationships",
            &[("csrf", &csrf), ("npi", "2298510209"), ("effective_date", "2026-01-01")],
        )
        .await;
    assert_eq!(add.status, 404);
    assert!(sync(|| w.store.relationship("WDEMO002", "2298510209")).unwrap().is_none());
    let del = one.post("/desktop/s/WDEMO002/relationships/1125213722/delete", &[("csrf", &csrf)]).await;
    assert_eq!(del.status, 404);
    let edit = one
        .post("/desktop/s/WDEMO002/relationships/1125213722", &[("csrf", &csrf), ("effective_date", "2020-01-01")])
        .await;
    assert_eq!(edit.status, 404);
    assert!(sync(|| w.store.relationship("WDEMO002", "1125213722")).unwrap().is_some());
    let cap = one
        .post(
            "/desktop/s/WDEMO002/caps",
            &[
                ("csrf", &csrf),
                ("subject", "submitter"),
                ("understanding", "u"),
                ("steps", "s"),
                ("expected_reduction", "r"),
            ],
        )
        .await;
    assert_eq!(cap.status, 404);

    // The help desk's pages are closed to submitter users.
    for path in [
        "/desktop/admin/submitters",
        "/desktop/admin/caps",
        "/desktop/admin/audits",
        "/desktop/admin/windows",
        "/desktop/admin/bulletins",
        "/desktop/admin/outbox",
        "/desktop/admin/availability",
        "/desktop/admin/users",
    ] {
        assert_eq!(one.get(path).await.status, 403, "{path}");
    }
    let standing = one
        .post(
            "/desktop/admin/submitters/WDEMO002/standing",
            &[("csrf", &csrf), ("action", "terminate"), ("reason", "x")],
        )
        .await;
    assert_eq!(standing.status, 403);
    let freeze = one
        .post(
            "/desktop/admin/freezes",
            &[
                ("csrf", &csrf),
                ("freeze_starts", "2026-12-01T00:00:00Z"),
                ("freeze_ends", "2026-12-02T00:00:00Z"),
                ("freeze_reason", "x"),
            ],
        )
        .await;
    assert_eq!(freeze.status, 403);
    let s = sync(|| w.store.submitter("WDEMO002")).unwrap().unwrap();
    assert_eq!(s.status, eligibility::SubmitterStatus::Active);

    // Its own data is there, and the help desk sees every submitter's.
    assert_eq!(one.get("/desktop/s/WDEMO001/relationships").await.status, 200);
    let admin = Browser::sign_in(w.addr, "helpdesk").await;
    let theirs = admin.get("/desktop/s/WDEMO002/relationships").await;
    assert_eq!(theirs.status, 200);
    assert!(theirs.body.contains("1125213722"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_help_desk_adds_users_and_resets_a_password_on_the_users_page() {
    let w = world().await;
    let admin = Browser::sign_in(w.addr, "helpdesk").await;
    let page = admin.get("/desktop/admin/users").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Add a user or set a password"), "{}", page.body);
    let csrf = admin.csrf.clone();

    // A provider user for the personas' provider; the submitter id left in the form is ignored.
    let added = admin
        .post(
            "/desktop/admin/users",
            &[
                ("csrf", &csrf),
                ("username", " bayside "),
                ("role", "provider"),
                ("submitter", "WDEMO001"),
                ("npi", "1125213722"),
                ("password", "bayside-front-desk-1"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert_eq!(added.headers["location"], "/desktop/admin/users?ok=User+bayside+saved");
    let u = sync(|| w.store.desktop_user("bayside")).unwrap().unwrap();
    assert_eq!(
        (u.role, u.npi.as_deref(), u.submitter.as_deref()),
        (store::DesktopRole::Provider, Some("1125213722"), None)
    );
    let listed = admin.get("/desktop/admin/users?ok=User+bayside+saved").await;
    assert!(listed.body.contains("<td>bayside</td><td>provider user</td><td>NPI 1125213722</td>"), "{}", listed.body);
    let provider = sign_in_raw(w.addr, "bayside", "bayside-front-desk-1").await;
    assert_eq!(provider.status, 303, "the new user signs in");

    // Refusals are said on the page, with the form as it was sent (the password excepted).
    for (fields, status, message) in [
        (
            [
                ("username", "x"),
                ("role", "submitter"),
                ("submitter", "WNOSUCH1"),
                ("npi", ""),
                ("password", "long-enough-pass"),
            ],
            404,
            "WNOSUCH1",
        ),
        (
            [
                ("username", "x"),
                ("role", "submitter"),
                ("submitter", ""),
                ("npi", ""),
                ("password", "long-enough-pass"),
            ],
            400,
            "a submitter user needs a submitter id",
        ),
        (
            [
                ("username", "x"),
                ("role", "provider"),
                ("submitter", ""),
                ("npi", "1125213723"),
                ("password", "long-enough-pass"),
            ],
            400,
            "check digit",
        ),
        (
            [("username", "x"), ("role", "admin"), ("submitter", ""), ("npi", ""), ("password", "short")],
            400,
            "at least 12 characters",
        ),
        (
            [("username", "x"), ("role", "root"), ("submitter", ""), ("npi", ""), ("password", "long-enough-pass")],
            400,
            "unknown role",
        ),
    ] {
        let mut sent = vec![("csrf", csrf.as_str())];
        sent.extend(fields);
        let r = admin.post("/desktop/admin/users", &sent).await;
        assert_eq!(r.status, status, "{fields:?}: {}", r.body);
        assert!(r.body.contains(message), "{fields:?}: {}", r.body);
        assert!(sync(|| w.store.desktop_user("x")).unwrap().is_none(), "{fields:?}");
    }

    // A password reset: the same username, a new password, and the lock lifted.
    for _ in 0..5 {
        sign_in_raw(w.addr, "wdemo002", "not-the-password").await;
    }
    assert_eq!(sign_in_raw(w.addr, "wdemo002", PASSWORD).await.status, 423);
    let reset = admin
        .post(
            "/desktop/admin/users",
            &[
                ("csrf", &csrf),
                ("username", "wdemo002"),
                ("role", "submitter"),
                ("submitter", "WDEMO002"),
                ("npi", ""),
                ("password", "a-brand-new-password"),
            ],
        )
        .await;
    assert_eq!(reset.status, 303, "{}", reset.body);
    assert_eq!(sign_in_raw(w.addr, "wdemo002", PASSWORD).await.status, 401);
    assert_eq!(sign_in_raw(w.addr, "wdemo002", "a-brand-new-password").await.status, 303);

    // Submitter users cannot use the form.
    let one = Browser::sign_in(w.addr, "wdemo001").await;
    let r = one
        .post(
            "/desktop/admin/users",
            &[("csrf", &one.csrf), ("username", "mine"), ("role", "admin"), ("password", "long-enough-pass")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(sync(|| w.store.desktop_user("mine")).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_right_csrf_token_are_refused() {
    let w = world().await;
    let one = Browser::sign_in(w.addr, "wdemo001").await;
    let fields = [("npi", "2298510209"), ("effective_date", "2026-01-01")];
    let none = one.post("/desktop/s/WDEMO001/relationships", &fields).await;
    assert_eq!(none.status, 403);
    assert!(none.body.contains("CSRF"), "{}", none.body);
    let mut wrong = vec![("csrf", "0123456789abcdef")];
    wrong.extend(fields);
    assert_eq!(one.post("/desktop/s/WDEMO001/relationships", &wrong).await.status, 403);
    // Another session's token is as wrong as any.
    let two = Browser::sign_in(w.addr, "wdemo002").await;
    let mut theirs = vec![("csrf", two.csrf.as_str())];
    theirs.extend(fields);
    assert_eq!(one.post("/desktop/s/WDEMO001/relationships", &theirs).await.status, 403);
    assert!(sync(|| w.store.relationship("WDEMO001", "2298510209")).unwrap().is_none());
    // Signing out needs it too.
    assert_eq!(one.post("/desktop/signout", &[]).await.status, 403);

    let csrf = one.csrf.clone();
    let mut right = vec![("csrf", csrf.as_str())];
    right.extend(fields);
    let ok = one.post("/desktop/s/WDEMO001/relationships", &right).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert!(sync(|| w.store.relationship("WDEMO001", "2298510209")).unwrap().is_some());

    // An invalid NPI: the service's message next to the field, nothing saved.
    let bad = one
        .post(
            "/desktop/s/WDEMO001/relationships",
            &[("csrf", &csrf), ("npi", "1125213723"), ("effective_date", "2026-01-01")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"npi-error\""), "{}", bad.body);
    assert!(bad.body.contains("NPI 1125213723 is not valid: its check digit is wrong"));

    // Without a session a form goes back to sign-in.
    let anon = http(
        w.addr,
        "POST",
        "/desktop/s/WDEMO001/relationships",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(anon.status, 303);
    assert!(anon.headers["location"].starts_with("/desktop/signin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_secure_httponly_and_samesite() {
    let w = world().await;
    let r = sign_in_raw(w.addr, "wdemo001", PASSWORD).await;
    assert_eq!(r.status, 303);
    let cookie = &r.headers["set-cookie"];
    assert!(cookie.starts_with("hets_session="), "{cookie}");
    for attr in ["Path=/", "HttpOnly", "Secure", "SameSite=Strict"] {
        assert!(cookie.split("; ").any(|a| a == attr), "{attr} in {cookie}");
    }
    let b = Browser::sign_in(w.addr, "wdemo001").await;
    let out = b.post("/desktop/signout", &[("csrf", &b.csrf)]).await;
    assert_eq!(out.status, 303);
    let gone = &out.headers["set-cookie"];
    assert!(gone.contains("Max-Age=0") && gone.contains("HttpOnly") && gone.contains("Secure"), "{gone}");
    // The session is over on the server too.
    assert_eq!(b.get("/desktop/s/WDEMO001").await.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_form_needs_its_own_csrf_token() {
    let w = world().await;
    let body = form(&[("username", "wdemo001"), ("password", PASSWORD)]);
    let ct = ("Content-Type", "application/x-www-form-urlencoded");
    let bare = http(w.addr, "POST", "/desktop/signin", &[ct], &body).await;
    assert_eq!(bare.status, 403);
    assert!(!bare.headers.get("set-cookie").is_some_and(|c| c.starts_with("hets_session=")));
    let forged = form(&[("csrf", "abc"), ("username", "wdemo001"), ("password", PASSWORD)]);
    let r = http(w.addr, "POST", "/desktop/signin", &[("Cookie", "hets_signin=def"), ct], &forged).await;
    assert_eq!(r.status, 403);
    assert_eq!(sign_in_raw(w.addr, "wdemo001", PASSWORD).await.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_passwords_lock_the_account() {
    let w = world().await;
    for i in 1..=4 {
        let r = sign_in_raw(w.addr, "wdemo002", "not-the-password").await;
        assert_eq!(r.status, 401, "attempt {i}");
        assert!(r.body.contains("wrong username or password"));
    }
    let fifth = sign_in_raw(w.addr, "wdemo002", "not-the-password").await;
    assert_eq!(fifth.status, 423);
    assert!(
        fifth.body.contains("the account is locked after too many wrong passwords until 2026-12-01 17:30 UTC"),
        "{}",
        fifth.body
    );
    let right = sign_in_raw(w.addr, "wdemo002", PASSWORD).await;
    assert_eq!(right.status, 423);
    assert!(!right.headers.get("set-cookie").is_some_and(|c| c.starts_with("hets_session=")), "no session");
    // Another account is not affected.
    assert_eq!(sign_in_raw(w.addr, "wdemo001", PASSWORD).await.status, 303);
}

/// Everything every thread logs during this test binary, at every level.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_beneficiary_lookup_answers_the_plan_and_logs_no_phi() {
    let logs = captured_logs();
    let w = world().await;
    let one = Browser::sign_in(w.addr, "wdemo001").await;
    let page = one
        .post(
            "/desktop/s/WDEMO001/lookup",
            &[
                ("csrf", &one.csrf),
                ("npi", "1125213722"),
                ("mbi", "4VQ3C55WU99"),
                ("last", "OKAFOR"),
                ("first", "DANIEL"),
                ("dob", "1954-09-02"),
                ("date", "2026-12-01"),
                ("services", "30"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"explanation\""));
    assert!(page.body.contains("BLUE HARBOR ADVANTAGE"));
    assert!(page.body.contains("id=\"raw271\""));
    // The lookup is a transaction like any other, recorded for the audits.
    let mut n = 0;
    sync(|| {
        w.store.scan_transactions("WDEMO001", at("2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z"), &mut |_| n += 1)
    })
    .unwrap();
    assert_eq!(n, 1);

    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(text.contains("desktop beneficiary lookup"), "the lookup is logged:\n{text}");
    for phi in ["4VQ3C55WU99", "OKAFOR", "DANIEL", "Okafor", "1954-09-02", "19540902"] {
        assert!(!text.contains(phi), "{phi} in the logs:\n{text}");
    }
}
