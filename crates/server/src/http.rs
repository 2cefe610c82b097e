//! The CORE real-time endpoints over HTTP/1.1 (D9, D10), health, readiness and metrics.
//!
//! Per request, in this order: load shedding (a fixed number of requests in flight; the next
//! one gets 503 + `Retry-After` at once instead of queueing without bound) → maintenance
//! window (503 + `Retry-After` until its end) → content type → body (size limit, read
//! deadline) → envelope syntax (SOAP fault / MIME 400) → authentication (401) → submitter
//! status (403) → the CORE checks of [`crate::core::check`] → duplicate PayloadID (D11) → the
//! request path under the internal deadline (AAA 42 when missed) → group commit of the record
//! → the response. Logs and metric labels carry ids and codes only, never PHI.

use crate::core::{self, EnvelopeError, ErrorCode, Fault, RequestFields, Response};
use crate::pipeline::{Inbound, RECEIVER_ID, Responder};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post};
use compliance::{Clock, Compliance, Policy, SystemClock};
use eligibility::{Instant, SubmitterStatus};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use store::{MaintenanceWindow, Replay, Store, Submitter};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The tunables of the endpoints (see `hets config init` for the documented defaults).
#[derive(Clone, Debug)]
pub struct Config {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// A client must send its request head within this (else the connection is closed).
    pub header_timeout: Duration,
    /// A client must send its whole body within this (else 408).
    pub body_timeout: Duration,
    /// The internal deadline of the request path (D3: AAA 42 when missed).
    pub deadline: Duration,
    /// Requests processed at once; more are shed with 503.
    pub max_in_flight: usize,
    /// `Retry-After` seconds of a shed request.
    pub shed_retry_after_secs: u64,
    /// How long a verified password stays verified in memory.
    pub auth_cache_ttl: Duration,
    /// How long a submitter's status and the maintenance windows are cached: a suspension made
    /// on another node is enforced within this.
    pub status_ttl: Duration,
    /// The transaction instant of every request, instead of the clock (demo and tests).
    pub fixed_instant: Option<Instant>,
    /// D12's other way of being down: during a maintenance window, close every new connection
    /// at once instead of answering 503 (the whole listener, health and desktop included).
    pub maintenance_refuses_connections: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_body_bytes: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(15),
            max_in_flight: 1024,
            shed_retry_after_secs: 1,
            auth_cache_ttl: Duration::from_secs(60),
            status_ttl: Duration::from_secs(2),
            fixed_instant: None,
            maintenance_refuses_connections: false,
        }
    }
}

/// A submitter as read at an instant.
type KnownSubmitter = (Option<Arc<Submitter>>, std::time::Instant);

/// Everything the handlers share.
pub struct AppState {
    responder: Arc<Responder>,
    store: Arc<dyn Store>,
    config: Config,
    permits: Arc<Semaphore>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// The handles of the metrics every answered request touches.
    answered: AnsweredMetrics,
    /// (submitter, digest of the password) → when verified.
    passwords: Mutex<HashMap<Credentials, std::time::Instant>>,
    /// Credentials being verified now, one gate each: requests that present the same new
    /// credentials at once wait for one Argon2 check instead of each running their own.
    verifying: Mutex<HashMap<Credentials, Arc<tokio::sync::Mutex<()>>>>,
    /// Each submitter as last read (None: no such submitter), for `status_ttl`; shared, not
    /// copied, by the requests that find it.
    submitters: Mutex<HashMap<String, KnownSubmitter>>,
    windows: Mutex<Option<(Vec<MaintenanceWindow>, std::time::Instant)>>,
    next_id: AtomicU64,
    draining: AtomicBool,
    /// The transaction instant and the instant against which suspensions and maintenance
    /// windows are judged (tests move it).
    clock: Arc<dyn Clock>,
    /// The desktop and admin API's service layer.
    desktop: Arc<crate::desktop::DesktopService>,
}

/// A submitter id and a digest of the password presented with it.
type Credentials = (String, u128);

impl AppState {
    pub fn new(responder: Arc<Responder>, config: Config) -> Arc<AppState> {
        AppState::with_clock(responder, config, Arc::new(SystemClock))
    }

    /// With the default compliance policy and help desk (tests).
    pub fn with_clock(responder: Arc<Responder>, config: Config, clock: Arc<dyn Clock>) -> Arc<AppState> {
        let helpdesk = compliance::service::DEFAULT_HELPDESK;
        let c = Arc::new(Compliance::new(responder.store().clone(), Policy::default(), clock.clone(), helpdesk));
        AppState::with_compliance(responder, config, clock, c, helpdesk)
    }

    /// With the compliance service `hets serve` configured (its policy and help desk), which the
    /// desktop and the admin API act through.
    pub fn with_compliance(
        responder: Arc<Responder>,
        config: Config,
        clock: Arc<dyn Clock>,
        compliance: Arc<Compliance>,
        helpdesk: &str,
    ) -> Arc<AppState> {
        let store = responder.store().clone();
        let desktop = Arc::new(crate::desktop::DesktopService::new(
            store.clone(),
            compliance,
            clock.clone(),
            responder.releases().clone(),
            helpdesk,
        ));
        Arc::new(AppState {
            desktop,
            clock,
            responder,
            store,
            permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            config,
            metrics: metrics_handle(),
            answered: AnsweredMetrics::new(),
            passwords: Mutex::new(HashMap::new()),
            verifying: Mutex::new(HashMap::new()),
            submitters: Mutex::new(HashMap::new()),
            windows: Mutex::new(None),
            next_id: AtomicU64::new(1),
            draining: AtomicBool::new(false),
        })
    }
}

/// One Prometheus recorder per process (tests start several servers in one).
fn metrics_handle() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0];
            // A group commit takes a fraction of a millisecond and carries 1 to 2,000 records.
            let commit_seconds = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 1.0];
            let commit_records = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0];
            let full = |name: &str| metrics_exporter_prometheus::Matcher::Full(name.to_string());
            let builder = metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(&buckets)
                .and_then(|b| b.set_buckets_for_metric(full("hets_record_commit_seconds"), &commit_seconds))
                .and_then(|b| b.set_buckets_for_metric(full("hets_record_commit_records"), &commit_records));
            match builder.map(|b| b.install_recorder()) {
                Ok(Ok(h)) => Some(h),
                _ => {
                    tracing::warn!("the metrics recorder could not be installed; /metrics will be empty");
                    None
                }
            }
        })
        .clone()
}

/// The metrics of an answered request, looked up once: each `counter!`/`histogram!` call
/// builds its key, hashes it and searches the registry. Made after `metrics_handle` has
/// installed the recorder. Other outcomes go through the macros.
struct AnsweredMetrics {
    in_flight: metrics::Gauge,
    /// By [`Binding`]: requests answered with outcome `success`, and their latency.
    success: [(metrics::Counter, metrics::Histogram); 2],
}

impl AnsweredMetrics {
    fn new() -> AnsweredMetrics {
        let success = |b: Binding| {
            let labels = [("endpoint", b.label()), ("outcome", SUCCESS)];
            (metrics::counter!("hets_requests_total", &labels), metrics::histogram!("hets_request_seconds", &labels))
        };
        AnsweredMetrics {
            in_flight: metrics::gauge!("hets_requests_in_flight"),
            success: [success(Binding::Soap), success(Binding::Mime)],
        }
    }
}

/// The outcome label of a request answered with a 271.
const SUCCESS: &str = "success";

/// The routes.
pub fn router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route("/eligibility/realtime/soap", post(soap).get(wsdl))
        .route("/eligibility/realtime/mime", post(mime))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(crate::desktop::api::router(state.desktop.clone()))
        .merge(crate::desktop::pages::router(state.desktop.clone(), state.responder.clone()))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, then stops accepting, lets in-flight
/// requests finish (up to `drain`), and returns. With `tls`, every connection is TLS, and a
/// verified client certificate authenticates its submitter ([`crate::tls`]).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let app = router(state.clone());
    // Each connection task holds a clone of `alive` and watches `stop`: on shutdown they finish
    // the request in progress and close; the drain waits until no clone is left.
    let alive = Arc::new(());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let header_timeout = state.config.header_timeout;
    // The Prometheus recorder keeps histogram samples until upkeep folds them into buckets:
    // without it memory grows with every request.
    let upkeep = state.metrics.clone().map(|h| {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                h.run_upkeep();
            }
        })
    });
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if state.config.maintenance_refuses_connections && maintenance_now(&state).await.is_some() {
                    metrics::counter!("hets_refused_connections_total", "reason" => "maintenance").increment(1);
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let (app, tls, stopped, alive) = (app.clone(), tls.clone(), stopped.clone(), alive.clone());
                tokio::spawn(async move {
                    match tls {
                        None => connection(stream, app, None, stopped, header_timeout).await,
                        Some(acceptor) => {
                            // The handshake is bounded like a request head: a silent client
                            // does not hold a connection.
                            let Ok(Ok(tls_stream)) = tokio::time::timeout(header_timeout, acceptor.accept(stream)).await
                            else {
                                metrics::counter!("hets_tls_handshake_failures_total").increment(1);
                                return;
                            };
                            let identity = tls_stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .and_then(|c| crate::tls::subject_cn(c.as_ref()))
                                .map(crate::tls::ClientCertificate);
                            connection(tls_stream, app, identity, stopped, header_timeout).await;
                        }
                    }
                    drop(alive);
                });
            }
            () = &mut shutdown => break,
        }
    }
    state.draining.store(true, Ordering::Relaxed);
    if let Some(u) = upkeep {
        u.abort();
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop.send(true);
    let drained = async {
        while Arc::strong_count(&alive) > 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(drain, drained).await.is_err() {
        tracing::warn!("drain deadline passed with connections still open");
    }
    Ok(())
}

async fn connection<I>(
    io: I,
    app: axum::Router,
    identity: Option<crate::tls::ClientCertificate>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    header_timeout: Duration,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;
    let app = app.map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
        if let Some(id) = &identity {
            req.extensions_mut().insert(id.clone());
        }
        req
    });
    let service = hyper_util::service::TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
    let mut conn = std::pin::pin!(builder.serve_connection(TokioIo::new(io), service));
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stopped.wait_for(|s| *s) => {}
    }
    // Finish the request in progress, then close (keep-alive ends).
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// Binds and serves in the background (tests): the bound address, a sender that shuts the
/// server down, and the server task.
pub async fn spawn(
    addr: SocketAddr,
    state: Arc<AppState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        listener,
        state,
        tls,
        async move {
            let _ = rx.await;
        },
        Duration::from_secs(20),
    ));
    Ok((local, tx, task))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Binding {
    // Indexes of `AnsweredMetrics::success`.
    Soap = 0,
    Mime = 1,
}

impl Binding {
    fn label(self) -> &'static str {
        match self {
            Binding::Soap => "soap",
            Binding::Mime => "mime",
        }
    }
}

async fn wsdl(State(_state): State<Arc<AppState>>, req: Request) -> HttpResponse {
    if req.uri().query().is_some_and(|q| q.eq_ignore_ascii_case("wsdl")) {
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        let address = format!("http://{host}/eligibility/realtime/soap");
        return ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], core::wsdl(&address)).into_response();
    }
    (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")], "POST a SOAP 1.2 request, or GET ?wsdl\n")
        .into_response()
}

async fn readyz(State(state): State<Arc<AppState>>) -> HttpResponse {
    if state.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response();
    }
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.submitter("")).await {
        Ok(Ok(_)) => "ready\n".into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "the database does not answer\n").into_response(),
    }
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> HttpResponse {
    let body = match &state.metrics {
        Some(h) => {
            h.run_upkeep();
            h.render()
        }
        None => String::new(),
    };
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

async fn soap(State(state): State<Arc<AppState>>, req: Request) -> HttpResponse {
    handle(state, Binding::Soap, req).await
}

async fn mime(State(state): State<Arc<AppState>>, req: Request) -> HttpResponse {
    handle(state, Binding::Mime, req).await
}

/// What became of a request, for the log line and the metrics.
struct Outcome {
    label: &'static str,
    error_code: Option<&'static str>,
    payload_id: Option<String>,
    submitter: Option<String>,
    aaa: Vec<String>,
}

impl Outcome {
    fn new(label: &'static str) -> Outcome {
        Outcome { label, error_code: None, payload_id: None, submitter: None, aaa: Vec::new() }
    }
}

async fn handle(state: Arc<AppState>, binding: Binding, req: Request) -> HttpResponse {
    let started = std::time::Instant::now();
    let request_id = state.next_id.fetch_add(1, Ordering::Relaxed);
    let answered = &state.answered;
    answered.in_flight.increment(1.0);
    let (response, outcome) = process(&state, binding, req).await;
    answered.in_flight.decrement(1.0);
    let elapsed = started.elapsed();
    let endpoint = binding.label();
    let status = response.status().as_u16();
    if outcome.label == SUCCESS {
        let (count, latency) = &answered.success[binding as usize];
        count.increment(1);
        latency.record(elapsed.as_secs_f64());
    } else {
        metrics::counter!("hets_requests_total", "endpoint" => endpoint, "outcome" => outcome.label).increment(1);
        metrics::histogram!("hets_request_seconds", "endpoint" => endpoint, "outcome" => outcome.label)
            .record(elapsed.as_secs_f64());
    }
    if let Some(code) = outcome.error_code {
        metrics::counter!("hets_envelope_errors_total", "endpoint" => endpoint, "error_code" => code).increment(1);
    }
    for code in &outcome.aaa {
        metrics::counter!("hets_aaa_total", "code" => code.clone()).increment(1);
    }
    tracing::info!(
        request_id,
        endpoint,
        status,
        outcome = outcome.label,
        error_code = outcome.error_code.unwrap_or(""),
        payload_id = outcome.payload_id.as_deref().unwrap_or(""),
        submitter = outcome.submitter.as_deref().unwrap_or(""),
        micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

fn now_instant() -> Instant {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Instant { unix_seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX), centis: (d.subsec_millis() / 10) as u8 }
}

fn retry_after(status: StatusCode, secs: u64, body: String, content_type: &'static str) -> HttpResponse {
    let mut r = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn content_type(binding: Binding) -> &'static str {
    match binding {
        Binding::Soap => "application/soap+xml; charset=utf-8",
        Binding::Mime => "text/plain; charset=utf-8",
    }
}

/// An envelope-level reply: SOAP answers 200 with `CoreEnvelopeError` (403 for
/// `UnAuthorized`), MIME 400 with the error body (403 for `UnAuthorized`).
fn envelope_reply(binding: Binding, fields: &RequestFields, e: &EnvelopeError) -> HttpResponse {
    let r = Response::error(fields, RECEIVER_ID, now_instant().to_string(), e);
    let status = match (binding, e.code) {
        (_, ErrorCode::UnAuthorized) => StatusCode::FORBIDDEN,
        (Binding::Soap, _) => StatusCode::OK,
        (Binding::Mime, _) => StatusCode::BAD_REQUEST,
    };
    core_reply(binding, status, &r)
}

fn core_reply(binding: Binding, status: StatusCode, r: &Response) -> HttpResponse {
    match binding {
        Binding::Soap => {
            (status, [(header::CONTENT_TYPE, content_type(Binding::Soap))], core::write_soap(r)).into_response()
        }
        Binding::Mime => {
            let ct = format!("multipart/form-data; boundary={}", core::RESPONSE_BOUNDARY);
            let mut resp = (status, core::write_multipart(r)).into_response();
            if let Ok(v) = HeaderValue::from_str(&ct) {
                resp.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            resp
        }
    }
}

fn fault_reply(status: StatusCode, f: &Fault) -> HttpResponse {
    (status, [(header::CONTENT_TYPE, content_type(Binding::Soap))], core::write_fault(f)).into_response()
}

/// A refusal before the envelope could be read: a SOAP fault, or a plain MIME error body.
fn early_error(binding: Binding, status: StatusCode, fault_code: &'static str, message: &str) -> HttpResponse {
    match binding {
        Binding::Soap => fault_reply(status, &Fault { code: fault_code, subcode: None, reason: message.to_string() }),
        Binding::Mime => {
            (status, [(header::CONTENT_TYPE, content_type(Binding::Mime))], format!("{message}\n")).into_response()
        }
    }
}

fn digest(payload: &[u8]) -> String {
    use std::fmt::Write as _;
    let (a, b) = digest_halves(payload);
    let mut out = String::with_capacity(32);
    let _ = write!(out, "{a:016x}{b:016x}");
    out
}

/// Two salted SipHash passes make a 128-bit digest: a retry must match byte for byte, and a
/// collision between two different payloads of one sender's PayloadID is negligible.
fn digest_halves(bytes: &[u8]) -> (u64, u64) {
    let half = |salt: u8| {
        let mut h = std::hash::DefaultHasher::new();
        salt.hash(&mut h);
        bytes.hash(&mut h);
        h.finish()
    };
    (half(0x5a), half(0xa5))
}

fn password_key(password: &str) -> u128 {
    let (a, b) = digest_halves(password.as_bytes());
    (u128::from(a) << 64) | u128::from(b)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// The maintenance window in force now, if any (cached for `status_ttl`).
async fn maintenance_now(state: &Arc<AppState>) -> Option<MaintenanceWindow> {
    let now = state.clock.now();
    let cached = {
        let guard = state.windows.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().filter(|(_, at)| at.elapsed() < state.config.status_ttl).map(|(w, _)| w.clone())
    };
    let windows = match cached {
        Some(w) => w,
        None => {
            let store = state.store.clone();
            let fresh = match blocking(move || store.maintenance_windows(now)).await {
                Some(Ok(w)) => w,
                _ => Vec::new(),
            };
            *state.windows.lock().unwrap_or_else(|e| e.into_inner()) = Some((fresh.clone(), std::time::Instant::now()));
            fresh
        }
    };
    windows.into_iter().find(|w| w.starts <= now && now < w.ends)
}

async fn authenticate(state: &Arc<AppState>, user: &str, password: &str) -> Result<bool, ()> {
    let key = (user.to_string(), password_key(password));
    let verified = |state: &AppState| {
        let cache = state.passwords.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&key).is_some_and(|at| at.elapsed() < state.config.auth_cache_ttl)
    };
    if verified(state) {
        return Ok(true);
    }
    // A burst of new connections (a client starting 32 at once) presents the same credentials
    // together: without the gate each would run Argon2 (19 MiB and tens of milliseconds apiece)
    // on the two cores the answers need.
    let gate = {
        let mut verifying = state.verifying.lock().unwrap_or_else(|e| e.into_inner());
        // A request dropped mid-check (its client went away) leaves its gate behind; keep
        // only the gates someone still holds once they pile up.
        if verifying.len() > 10_000 {
            verifying.retain(|_, g| Arc::strong_count(g) > 1);
        }
        verifying.entry(key.clone()).or_insert_with(|| Arc::new(tokio::sync::Mutex::new(()))).clone()
    };
    let result = {
        let _turn = gate.lock().await;
        if verified(state) {
            Ok(true)
        } else {
            let store = state.store.clone();
            let (u, p) = (user.to_string(), password.to_string());
            match blocking(move || store.verify_password(&u, &p)).await {
                Some(Ok(true)) => {
                    let mut cache = state.passwords.lock().unwrap_or_else(|e| e.into_inner());
                    if cache.len() > 10_000 {
                        cache.clear();
                    }
                    cache.insert(key.clone(), std::time::Instant::now());
                    Ok(true)
                }
                Some(Ok(false)) => Ok(false),
                _ => Err(()),
            }
        }
    };
    // The last one through removes the gate (one that arrives later makes a new one and finds
    // the cache filled).
    let mut verifying = state.verifying.lock().unwrap_or_else(|e| e.into_inner());
    if Arc::strong_count(&gate) <= 2 {
        verifying.remove(&key);
    }
    result
}

async fn submitter(state: &Arc<AppState>, id: &str) -> Result<Option<Arc<Submitter>>, ()> {
    {
        let cache = state.submitters.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, at)) = cache.get(id)
            && at.elapsed() < state.config.status_ttl
        {
            return Ok(s.clone());
        }
    }
    let store = state.store.clone();
    let key = id.to_string();
    match blocking(move || store.submitter(&key)).await {
        Some(Ok(s)) => {
            let s = s.map(Arc::new);
            state
                .submitters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.to_string(), (s.clone(), std::time::Instant::now()));
            Ok(s)
        }
        _ => Err(()),
    }
}

/// Why a submitter may not send now, if it may not.
fn refusal(s: &Submitter, now: Instant) -> Option<String> {
    match s.status {
        SubmitterStatus::Active => None,
        SubmitterStatus::Suspended => match s.suspended_until {
            Some(until) if until <= now => None,
            Some(until) => Some(format!(
                "submitter {} is suspended until {until} (failed audit); requests are refused until then",
                s.id
            )),
            None => Some(format!("submitter {} is suspended until a corrective action plan is accepted", s.id)),
        },
        SubmitterStatus::Terminated => {
            Some(format!("submitter {} is terminated until a corrective action plan is submitted and accepted", s.id))
        }
        SubmitterStatus::PermanentlyTerminated => Some(format!("submitter {} is permanently terminated", s.id)),
    }
}

async fn process(state: &Arc<AppState>, binding: Binding, req: Request) -> (HttpResponse, Outcome) {
    // Shedding first: an overloaded server must refuse cheaply.
    let Ok(_permit) = state.permits.clone().try_acquire_owned() else {
        metrics::counter!("hets_shed_total", "endpoint" => binding.label()).increment(1);
        let body = "the server is at capacity; retry shortly\n".to_string();
        return (
            retry_after(
                StatusCode::SERVICE_UNAVAILABLE,
                state.config.shed_retry_after_secs,
                body,
                "text/plain; charset=utf-8",
            ),
            Outcome::new("shed"),
        );
    };
    if let Some(w) = maintenance_now(state).await {
        let secs = u64::try_from(w.ends.unix_seconds - state.clock.now().unix_seconds).unwrap_or(1);
        let body = format!("scheduled maintenance until {}: {}\n", w.ends, w.reason);
        return (
            retry_after(StatusCode::SERVICE_UNAVAILABLE, secs, body, "text/plain; charset=utf-8"),
            Outcome::new("maintenance"),
        );
    }
    let certificate = req.extensions().get::<crate::tls::ClientCertificate>().map(|c| c.0.clone());
    let (parts, body) = req.into_parts();
    let ct = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let boundary = match binding {
        Binding::Soap => {
            let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if mime == "text/xml" {
                let f = Fault {
                    code: "VersionMismatch",
                    subcode: None,
                    reason: "SOAP 1.1 (text/xml) is not supported; send SOAP 1.2 as application/soap+xml".into(),
                };
                return (fault_reply(StatusCode::UNSUPPORTED_MEDIA_TYPE, &f), Outcome::new("unsupported_media_type"));
            }
            if mime != "application/soap+xml" {
                let m = "send SOAP 1.2 as application/soap+xml";
                return (
                    early_error(binding, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Sender", m),
                    Outcome::new("unsupported_media_type"),
                );
            }
            None
        }
        Binding::Mime => match core::boundary(&ct) {
            Some(b) => Some(b),
            None => {
                let m = "send multipart/form-data with a boundary";
                return (
                    early_error(binding, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Sender", m),
                    Outcome::new("unsupported_media_type"),
                );
            }
        },
    };
    let bytes = match read_body(state, &parts.headers, body).await {
        Ok(b) => b,
        Err((status, message)) => {
            let label = if status == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "body_timeout" };
            return (early_error(binding, status, "Sender", message), Outcome::new(label));
        }
    };
    // Envelope syntax and credentials.
    let (fields, user, password) = match &boundary {
        None => match core::parse_soap(&bytes) {
            Ok(r) => (r.fields, r.username, r.password),
            Err(f) => {
                let status = StatusCode::from_u16(f.status()).unwrap_or(StatusCode::BAD_REQUEST);
                return (fault_reply(status, &f), Outcome::new("fault"));
            }
        },
        Some(b) => match core::parse_multipart(&bytes, b) {
            Ok(f) => {
                let (u, p) = (f.user_name.clone(), f.password.clone());
                (f, u, p)
            }
            Err(m) => {
                return (early_error(binding, StatusCode::BAD_REQUEST, "Sender", &m), Outcome::new("bad_multipart"));
            }
        },
    };
    let mut outcome = Outcome::new(SUCCESS);
    outcome.payload_id = fields.payload_id.as_deref().filter(|p| core::is_uuid(p)).map(str::to_string);
    // Authentication: UsernameToken / UserName+Password, or the mutual-TLS certificate. When
    // both are present they must name the same submitter.
    let user = match (user.filter(|u| !u.is_empty()), password, certificate) {
        (Some(user), Some(password), cert) => {
            match authenticate(state, &user, &password).await {
                Ok(true) => {}
                Ok(false) => {
                    return (
                        unauthorized(binding, &fields, "the user name or password is not valid"),
                        Outcome::new("unauthenticated"),
                    );
                }
                Err(()) => return (unavailable(binding), Outcome::new("store_unavailable")),
            }
            if let Some(cert) = cert.filter(|c| *c != user) {
                let e = EnvelopeError::new(
                    ErrorCode::UnAuthorized,
                    format!("the client certificate names {cert}, the credentials {user}"),
                );
                outcome.label = "forbidden";
                outcome.error_code = Some(e.code.as_str());
                return (envelope_reply(binding, &fields, &e), outcome);
            }
            user
        }
        (_, _, Some(cert)) => cert,
        _ => return (unauthorized(binding, &fields, "credentials are required"), Outcome::new("unauthenticated")),
    };
    outcome.submitter = Some(user.clone());
    let at_clock = state.clock.now();
    match submitter(state, &user).await {
        Ok(Some(s)) => {
            if let Some(why) = refusal(&s, at_clock) {
                outcome.label = "forbidden";
                outcome.error_code = Some(ErrorCode::UnAuthorized.as_str());
                return (envelope_reply(binding, &fields, &EnvelopeError::new(ErrorCode::UnAuthorized, why)), outcome);
            }
        }
        Ok(None) => {
            return (
                unauthorized(binding, &fields, "the user name or password is not valid"),
                Outcome::new("unauthenticated"),
            );
        }
        Err(()) => return (unavailable(binding), Outcome::new("store_unavailable")),
    }
    let checked = match core::check(&fields, &user, RECEIVER_ID) {
        Ok(c) => c,
        Err(e) => {
            outcome.label = if e.code == ErrorCode::UnAuthorized { "forbidden" } else { "envelope_error" };
            outcome.error_code = Some(e.code.as_str());
            return (envelope_reply(binding, &fields, &e), outcome);
        }
    };
    let at = state.config.fixed_instant.unwrap_or(at_clock);
    let request_digest = digest(checked.payload.as_bytes());
    // D11 (a retry of an answered PayloadID) and the request path, under the internal deadline.
    let since = Instant { unix_seconds: at_clock.unix_seconds - 86_400, centis: 0 };
    let deadline = state.config.deadline;
    let finished: Option<Result<Work, store::StoreError>> = if state.responder.store().calls_inline() {
        // The embedded store reads a local file in microseconds and never waits for its writer
        // (WAL), so the work runs right here: a hop to a blocking thread and back (two thread
        // wake-ups) cost more than the reads. Nothing can stop a stalled disk midway; an answer
        // that comes too late is still replaced by AAA 42, as on the network store.
        let started = std::time::Instant::now();
        let work = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            find_work(&state.responder, &checked, &request_digest, since, at)
        }));
        match work {
            Ok(w) => (started.elapsed() <= deadline).then_some(w),
            Err(_) => return (unavailable(binding), Outcome::new("internal_error")),
        }
    } else {
        // A network store's calls block for round trips: on a blocking thread, in one hop,
        // abandoned (with AAA 42) when the deadline passes.
        let (responder, checked, digest) = (state.responder.clone(), checked.clone(), request_digest.clone());
        let work = tokio::task::spawn_blocking(move || find_work(&responder, &checked, &digest, since, at));
        match tokio::time::timeout(deadline, work).await {
            Ok(Ok(w)) => Some(w),
            Ok(Err(_)) => return (unavailable(binding), Outcome::new("internal_error")),
            Err(_) => None,
        }
    };
    let answer = match finished {
        Some(Ok(Work::Answer(a))) => a,
        Some(Ok(Work::Replay(replay))) => {
            outcome.label = "replayed";
            let r = success(&checked, replay.payload_type, text(replay.response));
            return (core_reply(binding, StatusCode::OK, &r), outcome);
        }
        Some(Ok(Work::Conflict)) => {
            let e = EnvelopeError::new(
                ErrorCode::PayloadIdIllegal,
                "PayloadID was already used in the last 24 hours for a different payload; send a new PayloadID",
            );
            outcome.label = "envelope_error";
            outcome.error_code = Some(e.code.as_str());
            return (envelope_reply(binding, &fields, &e), outcome);
        }
        Some(Err(_)) => return (unavailable(binding), Outcome::new("store_unavailable")),
        None => {
            tracing::warn!("the internal deadline passed; answering AAA 42");
            // Answered without the store: no read to wait for.
            let inbound = Inbound { payload: checked.payload.as_bytes(), submitter: &checked.sender_id, at };
            state.responder.unavailable(&inbound)
        }
    };
    outcome.aaa = answer.record.aaa_codes.clone();
    let payload_type = answer.kind.payload_type();
    // The reply is written first, and its payload then goes to the stored answer (D11) as it
    // is: one copy of the answer, not two.
    let mut r = success(&checked, payload_type.to_string(), text(answer.payload));
    let reply = core_reply(binding, StatusCode::OK, &r);
    let mut replay = Replay {
        sender: checked.sender_id.clone(),
        payload_id: checked.payload_id.clone(),
        at: at_clock,
        request_digest,
        payload_type: payload_type.to_string(),
        response: r.payload.take().map(String::into_bytes).unwrap_or_default(),
    };
    // Compressed here, beside the other requests' work, rather than in the commit that every
    // request of the batch waits for.
    state.responder.store().pack_replay(&mut replay);
    // Released only once the record (and the replay) is committed.
    if !state.responder.record(answer.record, Some(replay)).await {
        return (unavailable(binding), Outcome::new("record_failed"));
    }
    (reply, outcome)
}

/// X12 bytes as the envelope's text: ours are ASCII, so this takes the buffer over without a
/// copy; anything else is made valid UTF-8 rather than refused.
fn text(x12: Vec<u8>) -> String {
    String::from_utf8(x12).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The request path proper: a retry of an answered PayloadID (D11), or the answer.
fn find_work(
    responder: &Responder,
    checked: &core::Checked,
    request_digest: &str,
    since: Instant,
    at: Instant,
) -> Result<Work, store::StoreError> {
    if let Some(replay) = responder.store().replay(&checked.sender_id, &checked.payload_id, since)? {
        return Ok(if replay.request_digest == request_digest { Work::Replay(replay) } else { Work::Conflict });
    }
    let inbound = Inbound { payload: checked.payload.as_bytes(), submitter: &checked.sender_id, at };
    Ok(Work::Answer(responder.prepare(&inbound)))
}

/// What the store part of a request found.
enum Work {
    Answer(crate::pipeline::Answer),
    Replay(Replay),
    Conflict,
}

fn success(checked: &core::Checked, payload_type: String, payload: String) -> Response {
    Response {
        payload_type,
        payload_id: checked.payload_id.clone(),
        time_stamp: now_instant().to_string(),
        sender_id: RECEIVER_ID.into(),
        receiver_id: checked.sender_id.clone(),
        payload: Some(payload),
        error_code: ErrorCode::Success,
        error_message: "Envelope processed".into(),
    }
}

/// 401: a SOAP fault `wsse:FailedAuthentication`, or the MIME `UnAuthorized` body.
fn unauthorized(binding: Binding, fields: &RequestFields, message: &str) -> HttpResponse {
    match binding {
        Binding::Soap => fault_reply(StatusCode::UNAUTHORIZED, &core::auth_fault(message)),
        Binding::Mime => {
            let e = EnvelopeError::new(ErrorCode::UnAuthorized, message);
            let r = Response::error(fields, RECEIVER_ID, now_instant().to_string(), &e);
            core_reply(binding, StatusCode::UNAUTHORIZED, &r)
        }
    }
}

/// The store is down (or the record could not be committed): 503, try again shortly.
fn unavailable(binding: Binding) -> HttpResponse {
    let message = "the service is temporarily unable to answer; retry shortly";
    let body = match binding {
        Binding::Soap => core::write_fault(&Fault { code: "Receiver", subcode: None, reason: message.into() }),
        Binding::Mime => format!("{message}\n"),
    };
    retry_after(StatusCode::SERVICE_UNAVAILABLE, 5, body, content_type(binding))
}

async fn read_body(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, (StatusCode, &'static str)> {
    let limit = state.config.max_body_bytes;
    let too_large = (StatusCode::PAYLOAD_TOO_LARGE, "the request is larger than this endpoint accepts");
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limit)
    {
        return Err(too_large);
    }
    let limited = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(state.config.body_timeout, limited.collect()).await {
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(too_large),
        Ok(Err(_)) => Err((StatusCode::BAD_REQUEST, "the request body could not be read")),
        Err(_) => Err((StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time")),
    }
}
