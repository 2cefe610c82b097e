//! The JSON admin API under `/api/…`: every desktop and console operation, for scripts (and for
//! the console pages, which share [`DesktopService`]). Described by `/api/openapi.json`.
//!
//! Authentication: `POST /api/session` with `{"username", "password"}` answers a session token
//! and a CSRF token (and sets the `hets_session` cookie: `HttpOnly; Secure; SameSite=Strict`).
//! Scripts send the token as `Authorization: Bearer <token>`; a request authenticated that way
//! cannot be forged by another site, so it needs nothing more. A request authenticated by the
//! cookie (a browser) must also carry `X-CSRF-Token: <csrf token>` on every state-changing call
//! (POST, PUT, DELETE), else 403. Sessions end after 30 idle minutes (401).
//!
//! Errors are `{"error": "<message>"}` with 400 (bad input), 401 (no or expired session, wrong
//! password), 403 (not allowed, CSRF), 404 (unknown, or another submitter's), 409 (state: exists
//! already, HDT freeze, a CAP already decided…), 423 (account locked), 500 (store failure).
//! The store is synchronous: every call runs on a blocking thread.

use super::{DesktopError, DesktopService, NewSubmitterForm, Principal, StandingAction};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use compliance::CapForm;
use eligibility::Instant;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;
use store::{Audience, DesktopRole, NewDesktopUser, RelationshipRule};

/// The OpenAPI 3.0 description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The session cookie's name.
pub const COOKIE: &str = "hets_session";

type Api = Arc<DesktopService>;

/// The API's routes over a service (`AppState` holds the one `hets serve` configured; tests build
/// theirs with their own clock and policy).
pub fn router<S: Clone + Send + Sync + 'static>(service: Arc<DesktopService>) -> axum::Router<S> {
    spawn_bulletin_sender(Arc::downgrade(&service));
    axum::Router::new()
        .route("/api/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }))
        .route("/api/session", post(sign_in).get(session).delete(sign_out))
        .route("/api/releases", get(releases))
        .route("/api/batch/convention", get(convention))
        .route("/api/me/status", get(my_status))
        .route("/api/submitters", get(submitters).post(create_submitter))
        .route("/api/submitters/{id}", get(submitter))
        .route("/api/submitters/{id}/status", get(status))
        .route("/api/submitters/{id}/standing", post(standing))
        .route("/api/submitters/{id}/history", get(history))
        .route("/api/submitters/{id}/relationships", get(relationships).post(add_relationship))
        .route("/api/submitters/{id}/relationships/{npi}", put(edit_relationship).delete(delete_relationship))
        .route(
            "/api/submitters/{id}/batch",
            post(batch).layer(axum::extract::DefaultBodyLimit::max(super::batch::MAX_BYTES + 1024)),
        )
        .route("/api/submitters/{id}/batch/results", get(batch_results))
        .route("/api/submitters/{id}/batch/results/{name}", get(batch_result))
        .route("/api/submitters/{id}/caps", get(submitter_caps).post(submit_cap))
        .route("/api/caps", get(all_caps))
        .route("/api/caps/{cap}/decision", post(decide_cap))
        .route("/api/audits", get(audits))
        .route("/api/providers/{npi}/check", get(check_npi))
        .route("/api/providers/{npi}/attestations", get(attestations))
        .route("/api/providers/{npi}/attestations/{submitter}", put(attest))
        .route("/api/settings/relationship-rule", get(rule).put(set_rule))
        .route("/api/maintenance", get(maintenance).post(add_maintenance))
        .route("/api/maintenance/{wid}", axum::routing::delete(delete_maintenance))
        .route("/api/freezes", get(freezes).post(add_freeze))
        .route("/api/freezes/{wid}", axum::routing::delete(delete_freeze))
        .route("/api/bulletins", get(bulletins).post(compose_bulletin))
        .route("/api/bulletins/{bid}/send", post(send_bulletin))
        .route("/api/outbox", get(outbox))
        .route("/api/users", get(users).post(put_user))
        .route("/api/users/{username}/unlock", post(unlock))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such API endpoint") })
        .with_state(service)
}

/// Sends scheduled bulletins when their time comes, for as long as the service lives.
fn spawn_bulletin_sender(service: Weak<DesktopService>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
    handle.spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let Some(s) = service.upgrade() else { return };
            let r = tokio::task::spawn_blocking(move || s.send_due_bulletins()).await;
            match r {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(emails = n, "scheduled bulletins queued"),
                Ok(Err(e)) => tracing::warn!(error = %e, "sending scheduled bulletins"),
                Err(_) => return,
            }
        }
    });
}

// Plumbing.

fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn failure(e: DesktopError) -> Response {
    let status = match &e {
        DesktopError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        DesktopError::Forbidden(_) => StatusCode::FORBIDDEN,
        DesktopError::NotFound(_) => StatusCode::NOT_FOUND,
        DesktopError::Invalid(_) => StatusCode::BAD_REQUEST,
        DesktopError::Conflict(_) => StatusCode::CONFLICT,
        DesktopError::Locked { .. } => StatusCode::LOCKED,
        DesktopError::Store(_) | DesktopError::Compliance(_) => {
            // The message names the operation, never a key; the caller gets less.
            tracing::error!(error = %e, "desktop API");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "the service failed; try again");
        }
    };
    error(status, &e.to_string())
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the answer could not be written"),
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, DesktopError> {
    serde_json::from_slice(body).map_err(|e| DesktopError::Invalid(format!("the JSON body is not as expected: {e}")))
}

/// The session token and whether it came as a bearer token (a script) or a cookie (a browser).
fn token(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some((t.trim().to_string(), true));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE).and_then(|r| r.strip_prefix('=')))
        .map(|t| (t.to_string(), false))
}

/// Authenticates, checks CSRF for state-changing cookie requests, and runs `f` on a blocking
/// thread with the principal.
async fn run<T: serde::Serialize + Send + 'static>(
    api: Api,
    method: Method,
    headers: HeaderMap,
    ok: StatusCode,
    f: impl FnOnce(&DesktopService, &Principal) -> Result<T, DesktopError> + Send + 'static,
) -> Response {
    let done = tokio::task::spawn_blocking(move || -> Result<T, DesktopError> {
        let (principal, _) = authenticated(&api, &method, &headers)?;
        f(&api, &principal)
    })
    .await;
    match done {
        Ok(Ok(_)) if ok == StatusCode::NO_CONTENT => ok.into_response(),
        Ok(Ok(v)) => json(ok, &v),
        Ok(Err(e)) => failure(e),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the service failed; try again"),
    }
}

fn authenticated(
    api: &DesktopService,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(Principal, String), DesktopError> {
    let Some((token, bearer)) = token(headers) else {
        return Err(DesktopError::Unauthorized(
            "sign in first: POST /api/session, then send Authorization: Bearer <token>".into(),
        ));
    };
    let (principal, csrf) = api.authenticate(&token)?;
    let changes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if changes && !bearer {
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
            return Err(DesktopError::Forbidden("missing or wrong X-CSRF-Token".into()));
        }
    }
    Ok((principal, csrf))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The query string's parameters, percent-decoded.
fn query(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn number(q: &HashMap<String, String>, key: &str, default: u32) -> Result<u32, DesktopError> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| DesktopError::Invalid(format!("`{key}` must be a whole number"))),
    }
}

fn instant(field: &str, s: &str) -> Result<Instant, DesktopError> {
    Instant::parse_rfc3339(s)
        .map_err(|_| DesktopError::Invalid(format!("`{field}` must be an RFC 3339 instant, e.g. 2026-12-05T12:00:00Z")))
}

// Sessions.

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn sign_in(State(api): State<Api>, body: Bytes) -> Response {
    let done = tokio::task::spawn_blocking(move || {
        let c: Credentials = parse(&body)?;
        api.sign_in(&c.username, &c.password)
    })
    .await;
    match done {
        Ok(Ok(s)) => {
            let mut r = json(StatusCode::OK, &s);
            let cookie = format!("{COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict", s.token);
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(Err(e)) => failure(e),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the service failed; try again"),
    }
}

async fn session(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    let done = tokio::task::spawn_blocking(move || authenticated(&api, &method, &headers)).await;
    match done {
        Ok(Ok((p, csrf))) => {
            let (submitter, npi) = match &p {
                Principal::Admin { .. } => (None, None),
                Principal::Submitter { submitter, .. } => (Some(submitter.clone()), None),
                Principal::Provider { npi, .. } => (None, Some(npi.clone())),
            };
            json(
                StatusCode::OK,
                &serde_json::json!({ "username": p.username(), "role": p.role(), "submitter": submitter, "npi": npi, "csrf_token": csrf }),
            )
        }
        Ok(Err(e)) => failure(e),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the service failed; try again"),
    }
}

async fn sign_out(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    let done = tokio::task::spawn_blocking(move || {
        authenticated(&api, &method, &headers)?;
        match token(&headers) {
            Some((t, _)) => api.sign_out(&t),
            None => Ok(()),
        }
    })
    .await;
    match done {
        Ok(Ok(())) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            let gone = format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
            if let Ok(v) = HeaderValue::from_str(&gone) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(Err(e)) => failure(e),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the service failed; try again"),
    }
}

// Releases.

async fn releases(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    run(api, method, headers, StatusCode::OK, |s, _| {
        let all: Vec<_> = s
            .releases()
            .all()
            .iter()
            .map(|r| serde_json::json!({ "id": r.id, "effective": r.effective, "summary": r.summary, "hdt_batch_name": r.hdt_batch_name }))
            .collect();
        let in_force = s.releases().in_force(s.now()).id.clone();
        Ok(serde_json::json!({ "in_force": in_force, "releases": all, "hdt_batch": s.batch_convention() }))
    })
    .await
}

async fn convention(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    run(api, method, headers, StatusCode::OK, |s, _| Ok(s.batch_convention())).await
}

// Status and submitters.

async fn my_status(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    run(api, method, headers, StatusCode::OK, |s, p| match p {
        Principal::Submitter { submitter, .. } => s.status(p, &submitter.clone()),
        Principal::Admin { .. } => {
            Err(DesktopError::NotFound("an administrator has no submitter; use /api/submitters/{id}/status".into()))
        }
        Principal::Provider { .. } => Err(DesktopError::NotFound(
            "a provider user has no submitter; use /api/providers/{npi}/attestations".into(),
        )),
    })
    .await
}

async fn submitters(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    run(api, method, headers, StatusCode::OK, |s, p| s.submitters(p)).await
}

async fn create_submitter(State(api): State<Api>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    run(api, method, headers, StatusCode::CREATED, move |s, p| {
        let form: NewSubmitterForm = parse(&body)?;
        s.create_submitter(p, &form)
    })
    .await
}

async fn submitter(State(api): State<Api>, method: Method, headers: HeaderMap, Path(id): Path<String>) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| s.submitter(p, &id)).await
}

async fn status(State(api): State<Api>, method: Method, headers: HeaderMap, Path(id): Path<String>) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| s.status(p, &id)).await
}

#[derive(Deserialize)]
struct StandingForm {
    action: StandingAction,
    reason: String,
    #[serde(default)]
    hours: Option<u32>,
}

async fn standing(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| {
        let f: StandingForm = parse(&body)?;
        s.act(p, &id, f.action, &f.reason, f.hours)
    })
    .await
}

async fn history(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| s.history(p, &id, number(&query(&uri), "limit", 100)?)).await
}

// Relationships.

async fn relationships(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| {
        let q = query(&uri);
        let search = q.get("search").cloned().unwrap_or_default();
        s.relationships(p, &id, &search, number(&q, "offset", 0)?, number(&q, "limit", 50)?)
    })
    .await
}

#[derive(Deserialize)]
struct RelationshipForm {
    #[serde(default)]
    npi: String,
    effective_date: String,
    #[serde(default)]
    end_date: Option<String>,
}

async fn add_relationship(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    run(api, method, headers, StatusCode::CREATED, move |s, p| {
        let f: RelationshipForm = parse(&body)?;
        s.add_relationship(p, &id, f.npi.trim(), &f.effective_date, f.end_date.as_deref())
    })
    .await
}

async fn edit_relationship(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    Path((id, npi)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| {
        let f: RelationshipForm = parse(&body)?;
        s.edit_relationship(p, &id, &npi, &f.effective_date, f.end_date.as_deref())
    })
    .await
}

async fn delete_relationship(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    Path((id, npi)): Path<(String, String)>,
) -> Response {
    run(api, method, headers, StatusCode::NO_CONTENT, move |s, p| s.delete_relationship(p, &id, &npi)).await
}

/// `POST /api/submitters/{id}/batch?name=<upload file name>` with the CSV as the body. JSON
/// answer by default; `&format=csv` answers the result file itself, named in
/// `Content-Disposition`.
async fn batch(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let q = query(&uri);
    let as_csv = q.get("format").is_some_and(|f| f == "csv");
    let name = q.get("name").cloned().unwrap_or_default();
    let done = tokio::task::spawn_blocking(move || {
        let (p, _) = authenticated(&api, &method, &headers)?;
        api.upload_batch(&p, &id, &name, &body)
    })
    .await;
    match done {
        Ok(Ok(o)) if as_csv => {
            let mut r =
                (StatusCode::OK, [(header::CONTENT_TYPE, "text/csv; charset=utf-8")], o.result_csv).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", o.result_name)) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Ok(Ok(o)) => json(StatusCode::OK, &o),
        Ok(Err(e)) => failure(e),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the service failed; try again"),
    }
}

/// `GET /api/submitters/{id}/batch/results`: the latest uploads, newest first, without their
/// files.
async fn batch_results(State(api): State<Api>, method: Method, headers: HeaderMap, Path(id): Path<String>) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| s.batch_results(p, &id)).await
}

/// `GET /api/submitters/{id}/batch/results/{name}`: a kept result file, as CSV.
async fn batch_result(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let done = tokio::task::spawn_blocking(move || {
        let (p, _) = authenticated(&api, &method, &headers)?;
        api.batch_result(&p, &id, &name)
    })
    .await;
    match done {
        Ok(Ok(kept)) => {
            let mut r =
                (StatusCode::OK, [(header::CONTENT_TYPE, "text/csv; charset=utf-8")], kept.result_csv).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", kept.result_name)) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Ok(Err(e)) => failure(e),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the service failed; try again"),
    }
}

// CAPs and audits.

async fn submitter_caps(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| s.caps(p, Some(&id))).await
}

async fn submit_cap(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    run(api, method, headers, StatusCode::CREATED, move |s, p| {
        let form: CapForm = parse(&body)?;
        s.submit_cap(p, &id, &form)
    })
    .await
}

async fn all_caps(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    run(api, method, headers, StatusCode::OK, |s, p| s.caps(p, None)).await
}

#[derive(Deserialize)]
struct Decision {
    accept: bool,
    comment: String,
}

async fn decide_cap(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    Path(cap): Path<String>,
    body: Bytes,
) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| {
        let d: Decision = parse(&body)?;
        s.decide_cap(p, &cap, d.accept, &d.comment)
    })
    .await
}

async fn audits(State(api): State<Api>, method: Method, headers: HeaderMap, uri: Uri) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| {
        let q = query(&uri);
        let from = q.get("from").cloned().unwrap_or_else(|| "0000".into());
        let to = q.get("to").cloned().unwrap_or_else(|| "9999".into());
        s.audits(p, q.get("submitter").map(String::as_str), &from, &to)
    })
    .await
}

// Providers: NPI check and attestations.

async fn check_npi(State(api): State<Api>, method: Method, headers: HeaderMap, Path(npi): Path<String>) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, _| match s.check_npi(&npi) {
        Ok(()) => {
            Ok(serde_json::json!({ "npi": npi, "ok": true, "message": "the NPI is valid and enrolled in Medicare" }))
        }
        Err(DesktopError::Invalid(m)) => Ok(serde_json::json!({ "npi": npi, "ok": false, "message": m })),
        Err(e) => Err(e),
    })
    .await
}

async fn attestations(State(api): State<Api>, method: Method, headers: HeaderMap, Path(npi): Path<String>) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| s.attestations(p, &npi)).await
}

#[derive(Deserialize)]
struct AttestForm {
    state: store::AttestationState,
}

async fn attest(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    Path((npi, submitter)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| {
        let f: AttestForm = parse(&body)?;
        s.attest(p, &npi, &submitter, f.state == store::AttestationState::Attested)
    })
    .await
}

#[derive(Deserialize)]
struct RuleForm {
    rule: RelationshipRule,
}

async fn rule(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    run(api, method, headers, StatusCode::OK, |s, _| Ok(serde_json::json!({ "rule": s.relationship_rule()? }))).await
}

async fn set_rule(State(api): State<Api>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| {
        let f: RuleForm = parse(&body)?;
        s.set_relationship_rule(p, f.rule)?;
        Ok(serde_json::json!({ "rule": f.rule }))
    })
    .await
}

// Maintenance and freeze windows.

#[derive(Deserialize)]
struct WindowForm {
    starts: String,
    ends: String,
    reason: String,
    #[serde(default)]
    announce: bool,
}

async fn maintenance(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    run(api, method, headers, StatusCode::OK, |s, p| s.maintenance_windows(p)).await
}

async fn add_maintenance(State(api): State<Api>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    run(api, method, headers, StatusCode::CREATED, move |s, p| {
        let f: WindowForm = parse(&body)?;
        let (id, emails) =
            s.add_maintenance(p, instant("starts", &f.starts)?, instant("ends", &f.ends)?, &f.reason, f.announce)?;
        Ok(serde_json::json!({ "id": id, "emails_queued": emails }))
    })
    .await
}

async fn delete_maintenance(
    State(api): State<Api>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    run(api, method, headers, StatusCode::NO_CONTENT, move |s, p| s.delete_maintenance(p, id)).await
}

async fn freezes(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    run(api, method, headers, StatusCode::OK, |s, _| s.freeze_windows()).await
}

async fn add_freeze(State(api): State<Api>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    run(api, method, headers, StatusCode::CREATED, move |s, p| {
        let f: WindowForm = parse(&body)?;
        let id = s.add_freeze(p, instant("starts", &f.starts)?, instant("ends", &f.ends)?, &f.reason)?;
        Ok(serde_json::json!({ "id": id }))
    })
    .await
}

async fn delete_freeze(State(api): State<Api>, method: Method, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    run(api, method, headers, StatusCode::NO_CONTENT, move |s, p| s.delete_freeze(p, id)).await
}

// Bulletins and the outbox.

#[derive(Deserialize)]
struct BulletinForm {
    release: String,
    title: String,
    body: String,
    audience: Audience,
    /// When to email it; absent: now (sent by the next pass, within a minute).
    #[serde(default)]
    scheduled: Option<String>,
}

async fn bulletins(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    run(api, method, headers, StatusCode::OK, |s, p| s.bulletins(p)).await
}

async fn compose_bulletin(State(api): State<Api>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    run(api, method, headers, StatusCode::CREATED, move |s, p| {
        let f: BulletinForm = parse(&body)?;
        let at = match f.scheduled.as_deref() {
            Some(t) => instant("scheduled", t)?,
            None => s.now(),
        };
        s.compose_bulletin(p, &f.release, &f.title, &f.body, f.audience, at)
    })
    .await
}

async fn send_bulletin(State(api): State<Api>, method: Method, headers: HeaderMap, Path(id): Path<i64>) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| {
        let n = s.send_bulletin(p, id)?;
        Ok(serde_json::json!({ "id": id, "emails_queued": n }))
    })
    .await
}

async fn outbox(State(api): State<Api>, method: Method, headers: HeaderMap, uri: Uri) -> Response {
    run(api, method, headers, StatusCode::OK, move |s, p| s.outbox(p, number(&query(&uri), "limit", 100)?)).await
}

// Desktop users.

#[derive(Deserialize)]
struct UserForm {
    username: String,
    role: DesktopRole,
    #[serde(default)]
    submitter: Option<String>,
    /// A provider user's NPI.
    #[serde(default)]
    npi: Option<String>,
    password: String,
}

async fn users(State(api): State<Api>, method: Method, headers: HeaderMap) -> Response {
    run(api, method, headers, StatusCode::OK, |s, p| s.users(p)).await
}

async fn put_user(State(api): State<Api>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    run(api, method, headers, StatusCode::CREATED, move |s, p| {
        let f: UserForm = parse(&body)?;
        s.put_user(
            p,
            &NewDesktopUser {
                username: f.username.clone(),
                role: f.role,
                submitter: f.submitter,
                npi: f.npi,
                password: f.password,
            },
        )?;
        Ok(serde_json::json!({ "username": f.username }))
    })
    .await
}

async fn unlock(State(api): State<Api>, method: Method, headers: HeaderMap, Path(username): Path<String>) -> Response {
    run(api, method, headers, StatusCode::NO_CONTENT, move |s, p| s.unlock_user(p, &username)).await
}
