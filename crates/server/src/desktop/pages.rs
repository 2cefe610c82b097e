//! The HETS Desktop pages under `/desktop`: server-rendered HTML (maud), one embedded
//! stylesheet, no JavaScript needed.
//!
//! Every page calls [`DesktopService`], which authorises each operation itself, so a page can
//! show nothing the JSON API would not. A submitter's pages live under `/desktop/s/{id}/…`: a
//! submitter user asking for another submitter's id gets the service's 404, exactly as for an
//! unknown one; the help desk's pages under `/desktop/admin/…` answer 403 to submitter users.
//! A provider user has one page, `/desktop/p/{npi}` (its vendor attestations); every other page
//! answers it 403.
//!
//! Sessions are the API's (`hets_session` cookie: `HttpOnly; Secure; SameSite=Strict`, 30 idle
//! minutes). Every form that changes something carries the session's CSRF token in the hidden
//! field `csrf` and is refused with 403 without the right one. Form values (names, MBIs, birth
//! dates) are never logged.

mod admin;
mod provider;

use super::{DesktopError, DesktopService, Principal, WindowView};
use crate::pipeline::{AnswerKind, Inbound, Responder};
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use compliance::CapForm;
use compliance::service::when;
use eligibility::Instant;
use maud::{DOCTYPE, Markup, html};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use x12::Date;

/// The stylesheet, served at `/desktop/style.css`.
pub const STYLE: &str = include_str!("pages/style.css");

type Fields = HashMap<String, String>;

/// What the pages share: the service and the real-time engine (for the beneficiary lookup).
#[derive(Clone)]
struct Pages {
    svc: Arc<DesktopService>,
    responder: Arc<Responder>,
    /// ISA13 of the lookups' 270s, so two lookups in one second differ.
    control: Arc<AtomicU32>,
}

/// The pages' routes over the service and the responder `hets serve` configured.
pub fn router<S: Clone + Send + Sync + 'static>(
    svc: Arc<DesktopService>,
    responder: Arc<Responder>,
) -> axum::Router<S> {
    let st = Pages { svc, responder, control: Arc::new(AtomicU32::new(1)) };
    axum::Router::new()
        .route("/desktop", get(home))
        .route("/desktop/", get(home))
        .route("/desktop/style.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }))
        .route("/desktop/signin", get(signin_page).post(signin))
        .route("/desktop/signout", post(signout))
        .route("/desktop/s/{id}", get(dashboard))
        .route("/desktop/s/{id}/relationships", get(relationships).post(add_relationship))
        .route("/desktop/s/{id}/relationships/{npi}", get(edit_page).post(edit_relationship))
        .route("/desktop/s/{id}/relationships/{npi}/delete", get(delete_page).post(delete_relationship))
        .route(
            "/desktop/s/{id}/batch",
            get(batch_page).post(batch_upload).layer(DefaultBodyLimit::max(super::batch::MAX_BYTES + 64 * 1024)),
        )
        .route("/desktop/s/{id}/batch/{name}", get(batch_result))
        .route("/desktop/s/{id}/caps", get(caps).post(submit_cap))
        .route("/desktop/s/{id}/usage", get(usage))
        .route("/desktop/s/{id}/lookup", get(lookup_page).post(lookup))
        .merge(admin::routes())
        .merge(provider::routes())
        .with_state(st)
}

// Plumbing: sessions, CSRF, errors.

/// The signed-in person, the session's CSRF token and the HDT freeze in force, if any.
struct Ctx {
    p: Principal,
    csrf: String,
    freeze: Option<WindowView>,
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(super::api::COOKIE).and_then(|r| r.strip_prefix('=')))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn context(svc: &DesktopService, headers: &HeaderMap) -> Result<Ctx, DesktopError> {
    let token = cookie_token(headers).ok_or_else(|| DesktopError::Unauthorized("sign in first".into()))?;
    let (p, csrf) = svc.authenticate(&token)?;
    let now = svc.now();
    let freeze = svc.freeze_windows()?.into_iter().find(|w| w.starts <= now);
    Ok(Ctx { p, csrf, freeze })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn check_csrf(ctx: &Ctx, sent: Option<&str>) -> Result<(), DesktopError> {
    if constant_time_eq(sent.unwrap_or("").as_bytes(), ctx.csrf.as_bytes()) {
        Ok(())
    } else {
        Err(DesktopError::Forbidden(
            "this form has expired or did not come from this site (missing or wrong CSRF token); reload the page and try again"
                .into(),
        ))
    }
}

/// Runs a page on a blocking thread (the service is synchronous) for a signed-in person.
async fn view<F>(st: Pages, headers: HeaderMap, f: F) -> Response
where
    F: FnOnce(&Pages, &Ctx) -> Result<Response, DesktopError> + Send + 'static,
{
    let done = tokio::task::spawn_blocking(move || {
        let ctx = match context(&st.svc, &headers) {
            Ok(c) => c,
            Err(e) => return failure(None, e),
        };
        f(&st, &ctx).unwrap_or_else(|e| failure(Some(&ctx), e))
    })
    .await;
    done.unwrap_or_else(|_| (StatusCode::INTERNAL_SERVER_ERROR, "the service failed; try again").into_response())
}

/// As [`view`], for a form that changes something: refused (403) without the session's CSRF
/// token in the field `csrf`.
async fn act<F>(st: Pages, headers: HeaderMap, form: Fields, f: F) -> Response
where
    F: FnOnce(&Pages, &Ctx, &Fields) -> Result<Response, DesktopError> + Send + 'static,
{
    view(st, headers, move |st, ctx| {
        check_csrf(ctx, form.get("csrf").map(String::as_str))?;
        f(st, ctx, &form)
    })
    .await
}

fn status_of(e: &DesktopError) -> StatusCode {
    match e {
        DesktopError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        DesktopError::Forbidden(_) => StatusCode::FORBIDDEN,
        DesktopError::NotFound(_) => StatusCode::NOT_FOUND,
        DesktopError::Invalid(_) => StatusCode::BAD_REQUEST,
        DesktopError::Conflict(_) => StatusCode::CONFLICT,
        DesktopError::Locked { .. } => StatusCode::LOCKED,
        DesktopError::Store(_) | DesktopError::Compliance(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// What a person reads about a failure (a store failure is logged, not shown).
fn message(e: &DesktopError) -> String {
    match e {
        DesktopError::Store(_) | DesktopError::Compliance(_) => {
            tracing::error!(error = %e, "desktop page");
            "the service failed; try again".into()
        }
        e => e.to_string(),
    }
}

/// A refusal the form shows next to its fields (bad input, a state that refuses it); anything
/// else becomes an error page.
fn refusal(e: DesktopError) -> Result<(StatusCode, String), DesktopError> {
    match e {
        DesktopError::Invalid(m) => Ok((StatusCode::BAD_REQUEST, m)),
        DesktopError::Conflict(m) => Ok((StatusCode::CONFLICT, m)),
        e => Err(e),
    }
}

fn failure(ctx: Option<&Ctx>, e: DesktopError) -> Response {
    if let (DesktopError::Unauthorized(_), None) = (&e, ctx) {
        return see_other("/desktop/signin?expired=1");
    }
    let status = status_of(&e);
    let title = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong",
        _ => "Refused",
    };
    let body = html! {
        div.alert.error role="alert" { (message(&e)) }
        p { a href="/desktop" { "Back to the desktop" } }
    };
    page(status, title, ctx, "", body)
}

fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn field<'a>(f: &'a Fields, k: &str) -> &'a str {
    f.get(k).map(|s| s.trim()).unwrap_or("")
}

/// The URL-safe form of a path segment (ids and NPIs are letters and digits; anything else is
/// escaped so a link can never break out of its path).
fn seg(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// Layout.

fn csrf_field(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

fn nav(ctx: &Ctx, current: &str) -> Markup {
    let links: Vec<(String, &str, &str)> = match &ctx.p {
        Principal::Submitter { submitter, .. } => {
            let b = format!("/desktop/s/{}", seg(submitter));
            vec![
                (b.clone(), "Dashboard", "dashboard"),
                (format!("{b}/relationships"), "Relationships", "relationships"),
                (format!("{b}/batch"), "HDT Batch", "batch"),
                (format!("{b}/caps"), "CAPs", "caps"),
                (format!("{b}/usage"), "Usage", "usage"),
                (format!("{b}/lookup"), "Beneficiary lookup", "lookup"),
            ]
        }
        Principal::Admin { .. } => vec![
            ("/desktop/admin/submitters".into(), "Submitters", "submitters"),
            ("/desktop/admin/caps".into(), "CAP review", "admin-caps"),
            ("/desktop/admin/audits".into(), "Audits", "audits"),
            ("/desktop/admin/windows".into(), "Windows", "windows"),
            ("/desktop/admin/bulletins".into(), "Bulletins", "bulletins"),
            ("/desktop/admin/outbox".into(), "Outbox", "outbox"),
            ("/desktop/admin/availability".into(), "Availability", "availability"),
            ("/desktop/admin/users".into(), "Users", "users"),
            ("/desktop/admin/relationship-rule".into(), "Rule", "rule"),
        ],
        Principal::Provider { npi, .. } => {
            vec![(format!("/desktop/p/{}", seg(npi)), "Vendor attestations", "provider")]
        }
    };
    html! {
        nav aria-label="Main" {
            @for (href, text, key) in &links {
                a href=(href) aria-current=[(*key == current).then_some("page")] { (text) }
            }
        }
        span.who {
            (ctx.p.username())
            @match &ctx.p {
                Principal::Admin { .. } => { " (help desk)" }
                Principal::Provider { npi, .. } => { " (provider " (npi) ")" }
                Principal::Submitter { .. } => {}
            }
        }
        form method="post" action="/desktop/signout" { (csrf_field(ctx)) button type="submit" { "Sign out" } }
    }
}

fn page(status: StatusCode, title: &str, ctx: Option<&Ctx>, current: &str, body: Markup) -> Response {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · HETS Desktop" }
                link rel="stylesheet" href="/desktop/style.css";
            }
            body {
                header.top {
                    a.brand href="/desktop" { "HETS Desktop" }
                    @if let Some(ctx) = ctx { (nav(ctx, current)) }
                }
                @if let Some(w) = ctx.and_then(|c| c.freeze.as_ref()) {
                    div.banner.freeze role="status" id="freeze-banner" {
                        "HDT is frozen until " (w.ends) " (" (w.reason) "): relationships cannot be added, edited or deleted until then. Signing in and reading keep working."
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    let mut r = (status, doc.into_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

fn ok_page(title: &str, ctx: &Ctx, current: &str, body: Markup) -> Result<Response, DesktopError> {
    Ok(page(StatusCode::OK, title, Some(ctx), current, body))
}

/// A text input with its label, hint and the error shown next to it.
fn input(name: &str, label: &str, kind: &str, value: &str, hint: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        div.field {
            label for=(name) { (label) @if let Some(h) = hint { " " span.hint { (h) } } }
            input type=(kind) id=(name) name=(name) value=(value)
                aria-invalid=[error.is_some().then_some("true")]
                aria-describedby=[error.is_some().then(|| format!("{name}-error"))];
            @if let Some(e) = error { div.field-error id=(format!("{name}-error")) role="alert" { (e) } }
        }
    }
}

fn textarea(name: &str, label: &str, value: &str, hint: Option<&str>, error: Option<&str>) -> Markup {
    html! {
        div.field {
            label for=(name) { (label) @if let Some(h) = hint { " " span.hint { (h) } } }
            textarea id=(name) name=(name) aria-invalid=[error.is_some().then_some("true")] { (value) }
            @if let Some(e) = error { div.field-error role="alert" { (e) } }
        }
    }
}

fn alert_ok(text: Option<&str>) -> Markup {
    html! { @if let Some(t) = text { div.alert.ok role="status" { (t) } } }
}

fn alert_error(text: Option<&str>) -> Markup {
    html! { @if let Some(t) = text { div.alert.error role="alert" { (t) } } }
}

// Sign-in.

async fn home(State(st): State<Pages>, headers: HeaderMap) -> Response {
    let done = tokio::task::spawn_blocking(move || match context(&st.svc, &headers) {
        Ok(Ctx { p: Principal::Submitter { submitter, .. }, .. }) => {
            see_other(&format!("/desktop/s/{}", seg(&submitter)))
        }
        Ok(Ctx { p: Principal::Provider { npi, .. }, .. }) => see_other(&format!("/desktop/p/{}", seg(&npi))),
        Ok(_) => see_other("/desktop/admin/submitters"),
        Err(_) => see_other("/desktop/signin"),
    })
    .await;
    done.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The sign-in form's own CSRF cookie: there is no session yet, so the form's token is checked
/// against a cookie set with the form (another site can neither read nor set it), which keeps a
/// forged form from signing a browser into someone else's account.
const SIGNIN_COOKIE: &str = "hets_signin";

fn signin_form(status: StatusCode, username: &str, error: Option<&str>, note: Option<&str>) -> Response {
    let Ok(token) = store::desktop::new_token() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the service failed; try again").into_response();
    };
    let body = html! {
        div.signin.card {
            (alert_ok(note))
            (alert_error(error))
            form method="post" action="/desktop/signin" {
                input type="hidden" name="csrf" value=(token);
                (input("username", "Username", "text", username, None, None))
                div.field {
                    label for="password" { "Password" }
                    input type="password" id="password" name="password" autocomplete="current-password";
                }
                button type="submit" { "Sign in" }
            }
            p.hint { "Five wrong passwords in a row lock the account for 30 minutes. A session ends after 30 idle minutes." }
        }
    };
    let mut r = page(status, "Sign in", None, "", body);
    let cookie = format!("{SIGNIN_COOKIE}={token}; Path=/desktop/signin; HttpOnly; Secure; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn signin_page(Query(q): Query<Fields>) -> Response {
    let note = q.contains_key("expired").then_some("Your session has ended; sign in again.");
    let note = note.or(q.contains_key("out").then_some("You are signed out."));
    signin_form(StatusCode::OK, "", None, note)
}

fn signin_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(SIGNIN_COOKIE).and_then(|r| r.strip_prefix('=')))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

async fn signin(State(st): State<Pages>, headers: HeaderMap, Form(form): Form<Fields>) -> Response {
    let expected = signin_cookie(&headers);
    let done = tokio::task::spawn_blocking(move || {
        let username = field(&form, "username").to_string();
        let sent = form.get("csrf").map_or("", String::as_str);
        if !expected.is_some_and(|e| constant_time_eq(e.as_bytes(), sent.as_bytes())) {
            let m = "this sign-in form has expired or did not come from this site; try again";
            return signin_form(StatusCode::FORBIDDEN, &username, Some(m), None);
        }
        let password = form.get("password").cloned().unwrap_or_default();
        match st.svc.sign_in(&username, &password) {
            Ok(s) => {
                let mut r = see_other("/desktop");
                let cookie = format!("{}={}; Path=/; HttpOnly; Secure; SameSite=Strict", super::api::COOKIE, s.token);
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                r
            }
            Err(e) => signin_form(status_of(&e), &username, Some(&message(&e)), None),
        }
    })
    .await;
    done.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn signout(State(st): State<Pages>, headers: HeaderMap, Form(form): Form<Fields>) -> Response {
    let token = cookie_token(&headers);
    act(st, headers, form, move |st, _, _| {
        if let Some(t) = token {
            st.svc.sign_out(&t)?;
        }
        let mut r = see_other("/desktop/signin?out=1");
        let gone = format!("{}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict", super::api::COOKIE);
        if let Ok(v) = HeaderValue::from_str(&gone) {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
        Ok(r)
    })
    .await
}

// The dashboard.

fn figures(v: &serde_json::Value) -> Markup {
    html! {
        @match v.as_object() {
            Some(map) => {
                @for (k, val) in map {
                    @if !val.is_object() && !val.is_array() {
                        span.muted { (k.replace('_', " ")) ": " } (val.to_string().trim_matches('"')) "; "
                    }
                }
            }
            None => { span.muted { "—" } }
        }
    }
}

async fn dashboard(State(st): State<Pages>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    view(st, headers, move |st, ctx| {
        let s = st.svc.status(&ctx.p, &id)?;
        let base = format!("/desktop/s/{}", seg(&id));
        let body = html! {
            div.card {
                dl.facts {
                    dt { "Submitter" } dd { (s.submitter) " · " (s.name) }
                    dt { "Status" } dd { span class=(format!("badge {}", s.status)) id="status" { (s.status.replace('_', " ")) } }
                    dt { "Why" } dd { (s.why.as_deref().unwrap_or("—")) }
                    dt { "Until" } dd { (s.until_text.as_deref().unwrap_or("—")) }
                    dt { "Suspensions / terminations" } dd { (s.suspensions) " / " (s.terminations) }
                }
            }
            @if ctx.p.is_admin() {
                div.card {
                    h2 { "Change the standing" }
                    form method="post" action=(format!("/desktop/admin/submitters/{}/standing", seg(&id))) {
                        (csrf_field(ctx))
                        div.grid {
                            div.field {
                                label for="action" { "Action" }
                                select id="action" name="action" {
                                    option value="suspend" { "Suspend" }
                                    option value="reinstate" { "Reinstate" }
                                    option value="terminate" { "Terminate" }
                                }
                            }
                            (input("hours", "Hours", "text", "24", Some("(suspensions only)"), None))
                        }
                        (textarea("reason", "Reason", "", Some("(the submitter reads it)"), None))
                        button type="submit" { "Apply" }
                    }
                }
            }
            h2 { "Latest audits" }
            @if s.audits.is_empty() {
                p.muted { "No audit has run for this submitter yet." }
            } @else {
                table {
                    thead { tr { th { "Period" } th { "NPI audit" } th { "AAA audit" } th { "Figures" } th { "Actions" } } }
                    tbody {
                        @for a in &s.audits {
                            tr {
                                td { (a.period) }
                                td { span class=(format!("badge {}", a.npi_verdict)) { (a.npi_verdict) } }
                                td { span class=(format!("badge {}", a.aaa_verdict)) { (a.aaa_verdict) } }
                                td.wrap { (figures(&a.figures)) }
                                td { (a.actions) }
                            }
                        }
                    }
                }
            }
            h2 { "Corrective action plans" }
            p { (s.caps.len()) " on file. " a href=(format!("{base}/caps")) { "See or submit a CAP" } }
        };
        ok_page(&format!("Dashboard · {}", s.submitter), ctx, "dashboard", body)
    })
    .await
}

// Relationships.

/// Which field a refusal belongs next to.
fn place(msg: &str) -> &'static str {
    if msg.contains("HDT is frozen") {
        "general"
    } else if msg.contains("end date") {
        "end_date"
    } else if msg.contains("effective date") {
        "effective_date"
    } else if msg.contains("NPI") {
        "npi"
    } else {
        "general"
    }
}

fn relationships_view(
    st: &Pages,
    ctx: &Ctx,
    id: &str,
    q: &Fields,
    form: &Fields,
    refused: Option<(StatusCode, String)>,
) -> Result<Response, DesktopError> {
    let search = field(q, "search");
    let offset: u32 = field(q, "offset").parse().unwrap_or(0);
    let list = st.svc.relationships(&ctx.p, id, search, offset, 100)?;
    let base = format!("/desktop/s/{}/relationships", seg(id));
    let err = refused.as_ref().map(|(_, m)| (place(m), m.as_str()));
    let at = |f: &str| err.filter(|(p, _)| *p == f).map(|(_, m)| m);
    let ok = match field(q, "ok") {
        "added" => Some("The relationship was added."),
        "edited" => Some("The relationship's dates were changed."),
        "deleted" => Some("The relationship was deleted."),
        _ => None,
    };
    let body = html! {
        (alert_ok(ok))
        (alert_error(at("general")))
        div.card {
            h2 { "Add a relationship" }
            form method="post" action=(base) {
                (csrf_field(ctx))
                div.grid {
                    (input("npi", "NPI", "text", field(form, "npi"), Some("(10 digits)"), at("npi")))
                    (input("effective_date", "Effective date", "date", field(form, "effective_date"), None, at("effective_date")))
                    (input("end_date", "End date", "date", field(form, "end_date"), Some("(optional, inclusive)"), at("end_date")))
                }
                button type="submit" { "Add relationship" }
            }
        }
        form.row method="get" action=(base) role="search" {
            div.field {
                label for="search" { "Search by NPI" }
                input type="text" id="search" name="search" value=(search) placeholder="NPI or its first digits";
            }
            div.field { button.secondary type="submit" { "Search" } }
        }
        p.muted { (list.total) " relationship" @if list.total != 1 { "s" } @if !search.is_empty() { " starting with " (search) } "." }
        table id="relationships" {
            thead { tr { th { "NPI" } th { "Status" } th { "Effective" } th { "End" } th { "" } } }
            tbody {
                @for r in &list.items {
                    tr {
                        td { (r.npi) }
                        td { span class=(format!("badge {}", r.status.as_str())) { (r.status.as_str()) } }
                        td { (r.effective_date) }
                        td { (r.end_date.as_deref().unwrap_or("—")) }
                        td {
                            a.button.small.secondary href=(format!("{base}/{}", seg(&r.npi))) aria-label=(format!("Edit NPI {}", r.npi)) { "Edit" }
                            " "
                            a.button.small.secondary href=(format!("{base}/{}/delete", seg(&r.npi))) aria-label=(format!("Delete NPI {}", r.npi)) { "Delete" }
                        }
                    }
                }
            }
        }
        @if u64::from(offset) + 100 < list.total {
            p { a href=(format!("{base}?search={}&offset={}", seg(search), offset + 100)) { "Next page" } }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    Ok(page(status, "Submitter/NPI relationships", Some(ctx), "relationships", body))
}

async fn relationships(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    view(st, headers, move |st, ctx| relationships_view(st, ctx, &id, &q, &Fields::new(), None)).await
}

async fn add_relationship(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let end = Some(field(form, "end_date")).filter(|s| !s.is_empty());
        match st.svc.add_relationship(&ctx.p, &id, field(form, "npi"), field(form, "effective_date"), end) {
            Ok(_) => Ok(see_other(&format!("/desktop/s/{}/relationships?ok=added", seg(&id)))),
            Err(e) => relationships_view(st, ctx, &id, &Fields::new(), form, Some(refusal(e)?)),
        }
    })
    .await
}

fn edit_view(
    st: &Pages,
    ctx: &Ctx,
    id: &str,
    npi: &str,
    form: Option<&Fields>,
    refused: Option<(StatusCode, String)>,
) -> Result<Response, DesktopError> {
    let list = st.svc.relationships(&ctx.p, id, npi, 0, 1)?;
    let Some(r) = list.items.into_iter().find(|r| r.npi == npi) else {
        return Err(DesktopError::NotFound(format!("no relationship with NPI {npi}")));
    };
    let eff = form.map_or(r.effective_date.clone(), |f| field(f, "effective_date").to_string());
    let end = form.map_or(r.end_date.clone().unwrap_or_default(), |f| field(f, "end_date").to_string());
    let err = refused.as_ref().map(|(_, m)| (place(m), m.as_str()));
    let at = |f: &str| err.filter(|(p, _)| *p == f).map(|(_, m)| m);
    let base = format!("/desktop/s/{}/relationships", seg(id));
    let body = html! {
        (alert_error(at("general").or(at("npi"))))
        div.card {
            p { "Status: " span class=(format!("badge {}", r.status.as_str())) { (r.status.as_str()) } }
            form method="post" action=(format!("{base}/{}", seg(npi))) {
                (csrf_field(ctx))
                div.grid {
                    (input("effective_date", "Effective date", "date", &eff, None, at("effective_date")))
                    (input("end_date", "End date", "date", &end, Some("(optional, inclusive)"), at("end_date")))
                }
                button type="submit" { "Save dates" } " "
                a.button.secondary href=(base) { "Cancel" }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    Ok(page(status, &format!("Edit the relationship with NPI {npi}"), Some(ctx), "relationships", body))
}

async fn edit_page(State(st): State<Pages>, headers: HeaderMap, Path((id, npi)): Path<(String, String)>) -> Response {
    view(st, headers, move |st, ctx| edit_view(st, ctx, &id, &npi, None, None)).await
}

async fn edit_relationship(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path((id, npi)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let end = Some(field(form, "end_date")).filter(|s| !s.is_empty());
        match st.svc.edit_relationship(&ctx.p, &id, &npi, field(form, "effective_date"), end) {
            Ok(_) => Ok(see_other(&format!("/desktop/s/{}/relationships?ok=edited", seg(&id)))),
            Err(e) => edit_view(st, ctx, &id, &npi, Some(form), Some(refusal(e)?)),
        }
    })
    .await
}

fn delete_view(ctx: &Ctx, id: &str, npi: &str, refused: Option<(StatusCode, String)>) -> Response {
    let base = format!("/desktop/s/{}/relationships", seg(id));
    let body = html! {
        (alert_error(refused.as_ref().map(|(_, m)| m.as_str())))
        div.card {
            p { "Delete the relationship between " strong { (id) } " and NPI " strong { (npi) } "? 270s for this NPI will then be answered with AAA 41 under the declared rule." }
            form method="post" action=(format!("{base}/{}/delete", seg(npi))) {
                (csrf_field(ctx))
                button.danger type="submit" { "Delete" } " "
                a.button.secondary href=(base) { "Cancel" }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    page(status, "Delete a relationship", Some(ctx), "relationships", body)
}

async fn delete_page(State(st): State<Pages>, headers: HeaderMap, Path((id, npi)): Path<(String, String)>) -> Response {
    view(st, headers, move |st, ctx| {
        let list = st.svc.relationships(&ctx.p, &id, &npi, 0, 1)?;
        if !list.items.iter().any(|r| r.npi == npi) {
            return Err(DesktopError::NotFound(format!("no relationship with NPI {npi}")));
        }
        Ok(delete_view(ctx, &id, &npi, None))
    })
    .await
}

async fn delete_relationship(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path((id, npi)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, _| match st.svc.delete_relationship(&ctx.p, &id, &npi) {
        Ok(()) => Ok(see_other(&format!("/desktop/s/{}/relationships?ok=deleted", seg(&id)))),
        Err(e) => Ok(delete_view(ctx, &id, &npi, Some(refusal(e)?))),
    })
    .await
}

// HDT Batch (D16).

struct Upload {
    name: String,
    outcome: Option<super::batch::BatchOutcome>,
}

fn batch_view(
    ctx: &Ctx,
    st: &Pages,
    id: &str,
    upload: Option<Upload>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let c = st.svc.batch_convention();
    let base = format!("/desktop/s/{}/batch", seg(id));
    // The latest results, kept in the store: downloadable later, from any session or node.
    let earlier = st.svc.batch_results(&ctx.p, id);
    let rows: Vec<Vec<String>> = upload
        .as_ref()
        .and_then(|u| u.outcome.as_ref())
        .map(|o| {
            csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(o.result_csv.as_bytes())
                .records()
                .filter_map(Result::ok)
                .map(|r| r.iter().map(str::to_string).collect())
                .collect()
        })
        .unwrap_or_default();
    let body = html! {
        div.card id="convention" {
            h2 { "File name convention in force" }
            p { code { (c.pattern) } " — set by "
                @match &c.release { Some(r) => { "release " strong { (r) } }, None => { "the original HDT rules" } }
                ". Example for today: " code { (c.example) } }
            p.hint { "CSV, UTF-8, header row " code { "action,npi,effective_date,end_date" } "; action ADD, EDIT or DELETE; dates YYYY-MM-DD; end date optional. One bad row never blocks the good rows. During an HDT freeze the whole file is refused." }
        }
        (alert_error(refused.as_ref().map(|(_, m)| m.as_str())))
        div.card {
            form method="post" action=(base) enctype="multipart/form-data" {
                (csrf_field(ctx))
                div.field {
                    label for="file" { "Batch file" }
                    input type="file" id="file" name="file" accept=".csv,text/csv" required;
                }
                button type="submit" { "Upload" }
            }
        }
        @if let Some(Upload { name, outcome: Some(o) }) = &upload {
            h2 { "Result of " (name) }
            p id="batch-summary" { strong { (o.accepted) } " accepted, " strong { (o.rejected) } " rejected. "
                a.button.small href=(format!("{base}/{}", seg(&o.result_name))) download=(o.result_name) id="result-link" { "Download " (o.result_name) } }
            table id="batch-result" {
                thead { tr { th { "Action" } th { "NPI" } th { "Effective" } th { "End" } th { "Status" } th { "Reason" } } }
                tbody {
                    @for r in rows.iter().take(1000) {
                        tr {
                            @for (i, v) in r.iter().enumerate() {
                                @if i == 4 { td { span class=(format!("badge {v}")) { (v) } } } @else { td { (v) } }
                            }
                        }
                    }
                }
            }
            @if rows.len() > 1000 { p.muted { "The first 1,000 rows are shown; the result file has them all." } }
        }
        h2 { "Latest uploads" }
        @match &earlier {
            Ok(list) if list.is_empty() => { p.muted { "No batch file uploaded yet." } }
            Ok(list) => {
                table id="batch-history" {
                    thead { tr { th { "Uploaded" } th { "File" } th { "By" } th.num { "Accepted" } th.num { "Rejected" } th { "Results" } } }
                    tbody {
                        @for r in list {
                            tr {
                                td { (when(r.at)) }
                                td { (r.file_name) }
                                td { (r.username) }
                                td.num { (r.accepted) }
                                td.num { (r.rejected) }
                                td { a href=(format!("{base}/{}", seg(&r.result_name))) download=(r.result_name) title=(r.result_name) { "Download" } }
                            }
                        }
                    }
                }
            }
            Err(e) => { p.muted { "The uploads cannot be listed now: " (e) } }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    page(status, "HDT Batch", Some(ctx), "batch", body)
}

async fn batch_page(State(st): State<Pages>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    view(st, headers, move |st, ctx| {
        // The same answer as for an unknown submitter when it is not one's own.
        st.svc.submitter(&ctx.p, &id)?;
        Ok(batch_view(ctx, st, &id, None, None))
    })
    .await
}

async fn batch_upload(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    mut mp: Multipart,
) -> Response {
    // The body is read here (async); the checks and the processing run on a blocking thread.
    let mut csrf = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut bad = None;
    loop {
        match mp.next_field().await {
            Ok(Some(f)) => {
                let name = f.name().unwrap_or("").to_string();
                let file_name = f.file_name().map(str::to_string);
                match f.bytes().await {
                    Ok(b) if name == "csrf" => csrf = Some(String::from_utf8_lossy(&b).into_owned()),
                    Ok(b) if name == "file" => file = Some((file_name.unwrap_or_default(), b.to_vec())),
                    Ok(_) => {}
                    Err(e) => {
                        bad = Some(format!("the upload could not be read: {}", e.body_text()));
                        break;
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                bad = Some(format!("the upload could not be read: {}", e.body_text()));
                break;
            }
        }
    }
    view(st, headers, move |st, ctx| {
        check_csrf(ctx, csrf.as_deref())?;
        if let Some(m) = bad {
            return Ok(batch_view(ctx, st, &id, None, Some((StatusCode::BAD_REQUEST, m))));
        }
        let Some((name, bytes)) = file.filter(|(n, _)| !n.is_empty()) else {
            return Ok(batch_view(
                ctx,
                st,
                &id,
                None,
                Some((StatusCode::BAD_REQUEST, "choose a batch file first".into())),
            ));
        };
        // The browser may send a path; the convention is about the file's own name.
        let name = name.rsplit(['/', '\\']).next().unwrap_or(&name).to_string();
        match st.svc.upload_batch(&ctx.p, &id, &name, &bytes) {
            Ok(o) => Ok(batch_view(ctx, st, &id, Some(Upload { name, outcome: Some(o) }), None)),
            Err(e) => Ok(batch_view(ctx, st, &id, Some(Upload { name, outcome: None }), Some(refusal(e)?))),
        }
    })
    .await
}

async fn batch_result(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    view(st, headers, move |st, ctx| {
        let kept = st.svc.batch_result(&ctx.p, &id, &name)?;
        Ok(csv_download(&kept.result_name, kept.result_csv))
    })
    .await
}

/// A result file as a download.
fn csv_download(name: &str, csv: String) -> Response {
    let mut r = csv.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

// CAPs.

fn caps_view(
    st: &Pages,
    ctx: &Ctx,
    id: &str,
    form: &Fields,
    refused: Option<(StatusCode, String)>,
    ok: bool,
) -> Result<Response, DesktopError> {
    let caps = st.svc.caps(&ctx.p, Some(id))?;
    let subject = match field(form, "subject") {
        "" => "submitter",
        s => s,
    };
    let body = html! {
        @if ok { (alert_ok(Some("Your corrective action plan was submitted; the help desk will review it."))) }
        table id="caps" {
            thead { tr { th { "CAP" } th { "Subject" } th { "State" } th { "Submitted" } th { "Decision" } } }
            tbody {
                @if caps.is_empty() { tr { td colspan="5" { span.muted { "No CAP on file." } } } }
                @for c in &caps {
                    tr {
                        td { (c.id) }
                        td { (c.subject) }
                        td { span class=(format!("badge {}", c.state.as_str())) { (c.state.as_str()) } }
                        td { (when(c.submitted)) " by " (c.submitted_by) }
                        td { @if let Some(d) = c.decided { (when(d)) " by " (c.decided_by.as_deref().unwrap_or("")) ": " } (c.comment.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        h2 { "Submit a corrective action plan" }
        div.card {
            (alert_error(refused.as_ref().map(|(_, m)| m.as_str())))
            form method="post" action=(format!("/desktop/s/{}/caps", seg(id))) {
                (csrf_field(ctx))
                (input("subject", "Subject", "text", subject, Some("(submitter for a termination, aaa_case:<id>, or relationship:<NPI>)"), None))
                (textarea("understanding", "Your understanding of the Rules of Behavior", field(form, "understanding"), None, None))
                (textarea("steps", "The specific steps you will take", field(form, "steps"), None, None))
                (textarea("expected_reduction", "The error-rate reduction you expect", field(form, "expected_reduction"), None, None))
                button type="submit" { "Submit CAP" }
            }
        }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    Ok(page(status, "Corrective action plans", Some(ctx), "caps", body))
}

async fn caps(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Response {
    view(st, headers, move |st, ctx| caps_view(st, ctx, &id, &Fields::new(), None, q.contains_key("ok"))).await
}

async fn submit_cap(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let cap = CapForm {
            subject: field(form, "subject").to_string(),
            understanding: field(form, "understanding").to_string(),
            steps: field(form, "steps").to_string(),
            expected_reduction: field(form, "expected_reduction").to_string(),
        };
        for (what, v) in [
            ("your understanding of the Rules of Behavior", &cap.understanding),
            ("the steps", &cap.steps),
            ("the expected error-rate reduction", &cap.expected_reduction),
        ] {
            if v.is_empty() {
                let m = format!("the CAP template needs {what}");
                return caps_view(st, ctx, &id, form, Some((StatusCode::BAD_REQUEST, m)), false);
            }
        }
        match st.svc.submit_cap(&ctx.p, &id, &cap) {
            Ok(_) => Ok(see_other(&format!("/desktop/s/{}/caps?ok=1", seg(&id)))),
            Err(DesktopError::Compliance(e)) => {
                caps_view(st, ctx, &id, form, Some((StatusCode::BAD_REQUEST, e.to_string())), false)
            }
            Err(e) => caps_view(st, ctx, &id, form, Some(refusal(e)?), false),
        }
    })
    .await
}

// Usage over time.

/// One day's figures (ET calendar days, like the audits).
#[derive(Clone, Copy, Default)]
struct Day {
    volume: u64,
    aaa: u64,
    rejected: u64,
}

fn usage_chart(days: &[(Date, Day)]) -> Markup {
    let (w, h, left, bottom, top) = (760.0_f64, 280.0_f64, 48.0_f64, 36.0_f64, 14.0_f64);
    let right = 48.0;
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let max = days.iter().map(|(_, d)| d.volume).max().unwrap_or(0).max(1);
    // A round top for the volume axis.
    let step = [1u64, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]
        .into_iter()
        .find(|s| s * 4 >= max)
        .unwrap_or(max.div_ceil(4));
    let ymax = (step * 4) as f64;
    let n = days.len().max(1) as f64;
    let slot = plot_w / n;
    let y = |v: f64| top + plot_h - v / ymax * plot_h;
    let share = |part: u64, d: &Day| if d.volume == 0 { 0.0 } else { part as f64 / d.volume as f64 };
    let line = |f: &dyn Fn(&Day) -> f64| -> String {
        days.iter()
            .enumerate()
            .map(|(i, (_, d))| format!("{:.1},{:.1}", left + slot * (i as f64 + 0.5), top + plot_h - f(d) * plot_h))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let aaa_line = line(&|d| share(d.aaa, d));
    let rej_line = line(&|d| share(d.rejected, d));
    html! {
        svg.chart viewBox=(format!("0 0 {w} {h}")) role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg" {
            title id="chart-title" { "Daily volume and error shares, last 30 days" }
            desc id="chart-desc" { "Bars: transactions a day (left axis). Lines: share of 271s with AAA and of 999/TA1 rejections (right axis, 0–100%)." }
            @for k in 0..=4u64 {
                @let yy = y((k * step) as f64);
                line x1=(left) x2=(w - right) y1=(format!("{yy:.1}")) y2=(format!("{yy:.1}")) stroke="#e3e8ee" {}
                text x=(left - 6.0) y=(format!("{:.1}", yy + 4.0)) text-anchor="end" font-size="11" fill="#5b6877" { (k * step) }
                text x=(w - right + 6.0) y=(format!("{:.1}", yy + 4.0)) font-size="11" fill="#5b6877" { (k * 25) "%" }
            }
            @for (i, (date, d)) in days.iter().enumerate() {
                @let x = left + slot * i as f64 + slot * 0.15;
                @let top_y = y(d.volume as f64);
                rect x=(format!("{x:.1}")) y=(format!("{top_y:.1}")) width=(format!("{:.1}", slot * 0.7)) height=(format!("{:.1}", top + plot_h - top_y)) fill="#9cc3e6" {
                    title { (date) ": " (d.volume) " transactions" }
                }
                @if i % 5 == 0 || i + 1 == days.len() {
                    text x=(format!("{:.1}", left + slot * (i as f64 + 0.5))) y=(h - bottom + 16.0) text-anchor="middle" font-size="11" fill="#5b6877" { (&date.to_string()[5..]) }
                }
            }
            polyline points=(aaa_line) fill="none" stroke="#c77700" stroke-width="2" {}
            polyline points=(rej_line) fill="none" stroke="#b3261e" stroke-width="2" stroke-dasharray="5 3" {}
            line x1=(left) x2=(w - right) y1=(top + plot_h) y2=(top + plot_h) stroke="#8795a6" {}
        }
        div.legend {
            span style="--c:#9cc3e6" { "Transactions a day" }
            span style="--c:#c77700" { "AAA share of 271s" }
            span style="--c:#b3261e" { "999/TA1 share" }
        }
    }
}

async fn usage(State(st): State<Pages>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    view(st, headers, move |st, ctx| {
        st.svc.submitter(&ctx.p, &id)?;
        let now = st.svc.now();
        // ET days, the audits' days, so a day here is the day an audit judged.
        let today = compliance::period::et_date(now);
        let first = today.add_days(-29);
        let from = compliance::Period::day(first).start;
        let mut days: Vec<(Date, Day)> = (0..30).map(|i| (first.add_days(i), Day::default())).collect();
        st.svc.store().scan_transactions(&id, from, now, &mut |r| {
            let i = (compliance::period::et_date(r.at).days_since_epoch() - first.days_since_epoch()) as usize;
            if let Some((_, d)) = days.get_mut(i) {
                d.volume += 1;
                match r.outcome {
                    store::Outcome::Response271Aaa => d.aaa += 1,
                    store::Outcome::Ack999 | store::Outcome::Ta1 => d.rejected += 1,
                    store::Outcome::Response271 => {}
                }
            }
        })?;
        let report = compliance::report::submitters_report(
            st.svc.store().as_ref(),
            from,
            Instant::from_unix(now.unix_seconds + 1),
            now,
            &compliance::Policy::default(),
        )
        .map_err(|e| DesktopError::Invalid(format!("the usage report failed: {e}")))?;
        let row = report.into_iter().find(|r| r.id == id);
        let pct = |s: Option<f64>| s.map_or("—".to_string(), |v| format!("{:.1}%", v * 100.0));
        let body = html! {
            @if let Some(r) = &row {
                div.card {
                    dl.facts {
                        dt { "Transactions, last 30 days" } dd id="usage-volume" { (r.volume) }
                        dt { "Valid-NPI share" } dd { (pct(r.valid_npi_share)) }
                        dt { "AAA share of 271s" } dd { (pct(r.aaa_share)) }
                        dt { "AAA codes" } dd { @if r.aaa_by_code.is_empty() { "—" } @for (c, n) in &r.aaa_by_code { (c) ": " (n) "  " } }
                    }
                }
            }
            (usage_chart(&days))
            table {
                thead { tr { th { "Day (ET)" } th.num { "Transactions" } th.num { "AAA" } th.num { "999/TA1" } } }
                tbody {
                    @for (date, d) in days.iter().rev().filter(|(_, d)| d.volume > 0) {
                        tr { td { (date) } td.num { (d.volume) } td.num { (d.aaa) } td.num { (d.rejected) } }
                    }
                }
            }
        };
        ok_page("Usage over the last 30 days", ctx, "usage", body)
    })
    .await
}

// Beneficiary lookup: form → 270 → the real-time engine → the 271 explained.

fn lookup_view(
    st: &Pages,
    ctx: &Ctx,
    id: &str,
    form: &Fields,
    errors: &[(&str, String)],
    answer: Option<(String, String)>,
) -> Result<Response, DesktopError> {
    let rels = st.svc.relationships(&ctx.p, id, "", 0, super::MAX_PAGE)?;
    let at = |f: &str| errors.iter().find(|(k, _)| *k == f).map(|(_, m)| m.as_str());
    let today = st.svc.now().date().to_string();
    let date = match field(form, "date") {
        "" => today.as_str(),
        d => d,
    };
    let services = match field(form, "services") {
        "" if form.is_empty() => "30",
        s => s,
    };
    let body = html! {
        (alert_error(at("general")))
        div.card {
            form method="post" action=(format!("/desktop/s/{}/lookup", seg(id))) {
                (csrf_field(ctx))
                div.grid {
                    div.field {
                        label for="npi" { "Provider NPI" span.hint { " (from your relationships)" } }
                        select id="npi" name="npi" aria-invalid=[at("npi").is_some().then_some("true")] {
                            @for r in &rels.items {
                                option value=(r.npi) selected[r.npi == field(form, "npi")] { (r.npi) " (" (r.status.as_str()) ")" }
                            }
                        }
                        @if let Some(e) = at("npi") { div.field-error role="alert" { (e) } }
                    }
                    (input("mbi", "MBI", "text", field(form, "mbi"), Some("(11 characters)"), at("mbi")))
                    (input("last", "Last name", "text", field(form, "last"), None, at("last")))
                    (input("first", "First name", "text", field(form, "first"), None, at("first")))
                    (input("dob", "Date of birth", "date", field(form, "dob"), None, at("dob")))
                    (input("date", "Date of service", "date", date, None, at("date")))
                    (input("services", "Service types", "text", services, Some("(e.g. 30 or 30,42)"), at("services")))
                }
                button type="submit" { "Look up" }
            }
        }
        @if let Some((explained, raw)) = &answer {
            h2 { "Eligibility" }
            pre.explain id="explanation" { (explained) }
            h2 { "The 271 as sent" }
            pre id="raw271" { (raw) }
        }
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(page(status, "Beneficiary lookup", Some(ctx), "lookup", body))
}

async fn lookup_page(State(st): State<Pages>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    view(st, headers, move |st, ctx| lookup_view(st, ctx, &id, &Fields::new(), &[], None)).await
}

async fn lookup(
    State(st): State<Pages>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    act(st, headers, form, move |st, ctx, form| {
        let Principal::Submitter { submitter, .. } = &ctx.p else {
            // A lookup is a transaction of the submitter's own, counted in its audits.
            return Err(DesktopError::Forbidden("a beneficiary lookup is made by a submitter's own users".into()));
        };
        if *submitter != id {
            return Err(DesktopError::NotFound(format!("no submitter {id}")));
        }
        let standing = st.svc.status(&ctx.p, &id)?;
        let mut errors = Vec::new();
        if standing.status != "active" {
            errors.push((
                "general",
                format!("{id} is {}: the eligibility service refuses its inquiries", standing.status.replace('_', " ")),
            ));
        }
        let npi = field(form, "npi");
        if npi.is_empty() {
            errors.push(("npi", "choose the provider's NPI (add a relationship first)".to_string()));
        }
        let mbi = field(form, "mbi").to_ascii_uppercase();
        if mbi.len() != 11 || !mbi.bytes().all(|b| b.is_ascii_alphanumeric()) {
            errors.push(("mbi", "an MBI is 11 letters and digits".to_string()));
        }
        let last = field(form, "last").to_ascii_uppercase();
        if last.is_empty() {
            errors.push(("last", "the last name is required".to_string()));
        }
        let first = field(form, "first").to_ascii_uppercase();
        let dob = Date::parse_iso(field(form, "dob"));
        if dob.is_none() {
            errors.push(("dob", "the date of birth must be a date (YYYY-MM-DD)".to_string()));
        }
        let date = Date::parse_iso(field(form, "date"));
        if date.is_none() {
            errors.push(("date", "the date of service must be a date (YYYY-MM-DD)".to_string()));
        }
        let services: Vec<String> = field(form, "services")
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if services.iter().any(|s| s.len() > 2 || !s.bytes().all(|b| b.is_ascii_alphanumeric())) {
            errors.push((
                "services",
                "service types are codes of 1 or 2 letters or digits, separated by commas".to_string(),
            ));
        }
        if [&last, &first].iter().any(|s| s.contains(['~', '*', '^', ':', '|'])) {
            errors.push(("last", "names cannot contain ~ * ^ : or |".to_string()));
        }
        let (Some(dob), Some(date), true) = (dob, date, errors.is_empty()) else {
            return lookup_view(st, ctx, &id, form, &errors, None);
        };
        let provider_name = st.svc.store().provider(npi)?.map_or_else(
            || "PROVIDER".to_string(),
            |p| p.name.to_ascii_uppercase().replace(['~', '*', '^', ':', '|'], " "),
        );
        let now = st.svc.now();
        let (today, time) = super::lookup::x12_now(now);
        let person = super::lookup::Person { mbi, last, first, dob, npi: npi.to_string() };
        let question = super::lookup::Question { period: Some((date, date)), services, hcpcs: Vec::new() };
        // ISA13 is nine digits.
        let control = st.control.fetch_add(1, Ordering::Relaxed) % 1_000_000_000;
        let payload = super::lookup::build_270(
            &id,
            super::super::pipeline::RECEIVER_ID,
            &provider_name,
            &person,
            &question,
            control,
            today,
            time,
        );
        let answer = st.responder.respond(&Inbound { payload: &payload, submitter: &id, at: now });
        // Codes and kinds only: the form's values are PHI.
        tracing::info!(user = %ctx.p.username(), submitter = %id, kind = ?answer.kind, "desktop beneficiary lookup");
        let raw = String::from_utf8_lossy(&answer.payload).replace('~', "~\n");
        let explained = match (answer.kind, x12::check_271(&answer.payload)) {
            (AnswerKind::Response271, x12::Checked::Accepted { transaction, .. }) => eligibility::explain(&transaction),
            (AnswerKind::Response271, _) => "The 271 could not be read back; see it below.".to_string(),
            (AnswerKind::Ack999, _) => "The inquiry was rejected with a 999; see it below.".to_string(),
            (AnswerKind::Ta1, _) => "The interchange was refused with a TA1; see it below.".to_string(),
        };
        lookup_view(st, ctx, &id, form, &[], Some((explained, raw)))
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    #[test]
    fn segments_are_escaped() {
        assert_eq!(super::seg("WDEMO001"), "WDEMO001");
        assert_eq!(super::seg("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn refusals_are_placed_next_to_their_field() {
        assert_eq!(super::place("NPI 1125213723 is not valid: its check digit is wrong"), "npi");
        assert_eq!(super::place("the end date is before the effective date"), "end_date");
        assert_eq!(super::place("HDT is frozen until 2026-12-03T04:00:00Z (x): relationships …"), "general");
    }
}
