//! `hets send --load`: many requests over keep-alive HTTP/1.1 connections, one task and one
//! connection per unit of concurrency, for a fixed time. Request bodies are built before the
//! clock starts; each request only copies its template and writes a fresh PayloadID into it.

use super::{Person, SendArgs, Target, auth, build_270, connector, envelope, net, runtime, timestamp};
use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most this many distinct beneficiaries get a prebuilt request.
const MAX_TEMPLATES: u64 = 4096;
/// A placeholder PayloadID, replaced in every copy of a template.
const PLACEHOLDER_ID: &str = "00000000-0000-4000-8000-000000000000";
/// The demo dataset `hets serve --demo` and `hets seed --demo` load.
const BUILTIN_PERSONAS: &str = include_str!("../../../../data/personas.toml");
/// The NPI of the demo dataset's first provider, related to the demo submitters.
const DEFAULT_NPI: &str = "1125213722";

/// One prebuilt request.
struct Template {
    body: Bytes,
    /// Where the PayloadID sits in `body` (None for bodies without one).
    id_at: Option<usize>,
}

struct Plan {
    method: hyper::Method,
    path: String,
    content_type: Option<String>,
    templates: Vec<Template>,
    /// A body counts as a success when its status is 200 and it contains this.
    marker: Option<memchr::memmem::Finder<'static>>,
}

/// What one task measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    /// The PayloadIDs of the 271s received (with --received).
    ids: Vec<[u8; 36]>,
    errors: u64,
    first_error: Option<String>,
}

pub fn run(args: &SendArgs) -> Result<ExitCode> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if !(args.duration > 0.0 && args.duration.is_finite()) {
        bail!("--duration must be a positive number of seconds");
    }
    let connector = Arc::new(connector(args)?);
    let plan = Arc::new(plan(args)?);
    let rt = runtime(args.threads.max(1))?;
    let duration = Duration::from_secs_f64(args.duration);
    let concurrency = args.concurrency;
    let timeout = Duration::from_secs(args.timeout);
    let templates = plan_size(args.target, &plan);
    let keep_ids = args.received.is_some();
    if !(args.warmup >= 0.0 && args.warmup.is_finite()) {
        bail!("--warmup must be zero or a positive number of seconds");
    }
    let warmup = Duration::from_secs_f64(args.warmup);
    let (tallies, elapsed) = rt.block_on(async move {
        // Connections (and TLS handshakes) are opened before the clock starts.
        let mut opening = Vec::with_capacity(concurrency);
        for _ in 0..concurrency {
            let connector = Arc::clone(&connector);
            opening.push(tokio::spawn(async move { connector.connect().await.ok() }));
        }
        let mut conns = Vec::with_capacity(concurrency);
        for o in opening {
            conns.push(o.await.ok().flatten());
        }
        let start = Instant::now() + warmup;
        let deadline = start + duration;
        let mut tasks = Vec::with_capacity(concurrency);
        for (task, conn) in conns.into_iter().enumerate() {
            let (connector, plan) = (Arc::clone(&connector), Arc::clone(&plan));
            let w =
                Worker { task, stride: concurrency, connector, plan, measure_from: start, deadline, timeout, keep_ids };
            tasks.push(tokio::spawn(w.run(conn)));
        }
        let mut tallies = Vec::with_capacity(concurrency);
        for t in tasks {
            match t.await {
                Ok(tally) => tallies.push(tally),
                Err(e) => tallies.push(Tally { errors: 1, first_error: Some(e.to_string()), ..Tally::default() }),
            }
        }
        (tallies, start.elapsed())
    });
    let mut all: Vec<u32> = Vec::with_capacity(tallies.iter().map(|t| t.latencies_us.len()).sum());
    let mut errors = 0;
    let mut first_error = None;
    let mut received = Vec::new();
    for t in tallies {
        all.extend_from_slice(&t.latencies_us);
        for id in &t.ids {
            received.extend_from_slice(id);
            received.push(b'\n');
        }
        errors += t.errors;
        if first_error.is_none() {
            first_error = t.first_error;
        }
    }
    all.sort_unstable();
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ok = all.len() as u64;
    println!(
        "hets send --load: target={} mode={} url={} concurrency={} threads={} beneficiaries={}",
        match args.target {
            Target::Eligibility => "eligibility",
            Target::Healthz => "healthz",
        },
        match args.mode {
            envelope::Mode::Soap => "soap",
            envelope::Mode::Mime => "mime",
        },
        args.url,
        args.concurrency,
        args.threads.max(1),
        templates
    );
    println!("requests={} ok={ok} errors={errors} elapsed={secs:.2}s", ok + errors);
    if let Some(e) = &first_error {
        eprintln!("hets send --load: first error: {e}");
    }
    if let Some(path) = &args.received {
        std::fs::write(path, &received).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{}", summary_line(ok as f64 / secs, &all, errors));
    Ok(if ok == 0 || errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn plan_size(target: Target, plan: &Plan) -> usize {
    match target {
        Target::Eligibility => plan.templates.len(),
        Target::Healthz => 0,
    }
}

/// `throughput=<tx>/s p50=<ms> p90=<ms> p99=<ms> max=<ms> errors=<n>` over sorted latencies.
fn summary_line(throughput: f64, sorted_us: &[u32], errors: u64) -> String {
    let ms = |p: f64| percentile(sorted_us, p) as f64 / 1000.0;
    let max = sorted_us.last().copied().unwrap_or(0) as f64 / 1000.0;
    format!(
        "throughput={throughput:.1}/s p50={:.3} p90={:.3} p99={:.3} max={max:.3} errors={errors}",
        ms(0.50),
        ms(0.90),
        ms(0.99)
    )
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn plan(args: &SendArgs) -> Result<Plan> {
    if args.target == Target::Healthz {
        return Ok(Plan {
            method: hyper::Method::GET,
            path: "/healthz".to_string(),
            content_type: None,
            templates: vec![Template { body: Bytes::new(), id_at: None }],
            marker: None,
        });
    }
    let auth = auth(args)?;
    if let Some(file) = &args.file {
        // One interchange, sent again and again (each time with a fresh PayloadID).
        let payload = crate::x12cmd::read(file)?;
        let fields = envelope::RequestFields {
            payload_id: PLACEHOLDER_ID,
            timestamp: &timestamp(),
            sender: &auth.sender,
            receiver: &args.payer,
            credentials: auth.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
            payload: &payload,
        };
        let body = envelope::request(args.mode, &fields);
        let id_at = memchr::memmem::find(&body.bytes, PLACEHOLDER_ID.as_bytes());
        return Ok(Plan {
            method: hyper::Method::POST,
            path: args.mode.path().to_string(),
            content_type: Some(body.content_type),
            templates: vec![Template { body: Bytes::from(body.bytes), id_at }],
            marker: Some(memchr::memmem::Finder::new(envelope::PAYLOAD_TYPE_271.as_bytes())),
        });
    }
    let people = people(args)?;
    if people.is_empty() {
        bail!("no beneficiary to ask about");
    }
    let question = super::question_from_flags(args)?;
    let ts = timestamp();
    let mut templates = Vec::with_capacity(people.len());
    let mut content_type = String::new();
    for (i, p) in people.iter().enumerate() {
        let payload = build_270(&auth.sender, &args.payer, &args.provider_name, p, &question, i as u32 + 1);
        let fields = envelope::RequestFields {
            payload_id: PLACEHOLDER_ID,
            timestamp: &ts,
            sender: &auth.sender,
            receiver: &args.payer,
            credentials: auth.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
            payload: &payload,
        };
        let body = envelope::request(args.mode, &fields);
        let id_at = memchr::memmem::find(&body.bytes, PLACEHOLDER_ID.as_bytes());
        content_type = body.content_type;
        templates.push(Template { body: Bytes::from(body.bytes), id_at });
    }
    Ok(Plan {
        method: hyper::Method::POST,
        path: args.mode.path().to_string(),
        content_type: Some(content_type),
        templates,
        marker: Some(memchr::memmem::Finder::new(envelope::PAYLOAD_TYPE_271.as_bytes())),
    })
}

/// The beneficiaries of a load run: a CSV file, a synthetic population, or the demo personas.
fn people(args: &SendArgs) -> Result<Vec<Person>> {
    let npi = args.npi.clone().unwrap_or_else(|| DEFAULT_NPI.to_string());
    if let Some(path) = &args.mbis {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return people_from_csv(&text, &npi).with_context(|| format!("in {}", path.display()));
    }
    let text = match &args.personas {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        None => BUILTIN_PERSONAS.to_string(),
    };
    let personas = eligibility::Personas::from_toml(&text)?;
    if let (Some(seed), Some(n)) = (args.population_seed, args.population) {
        if n == 0 {
            bail!("--population must be at least 1");
        }
        let population =
            store::synthetic::Population::new(seed, n, 0, 0, personas.meta.reference_date).reserving(&personas);
        let count = n.min(MAX_TEMPLATES);
        return Ok((0..count)
            .filter_map(|k| {
                let b = population.beneficiary(k * n / count);
                Some(Person {
                    mbi: b.mbi,
                    last: b.last_name,
                    first: b.first_name,
                    dob: b.birth_date?,
                    npi: npi.clone(),
                })
            })
            .collect());
    }
    Ok(personas
        .beneficiaries
        .iter()
        .filter_map(|b| {
            Some(Person {
                mbi: b.mbi.clone(),
                last: b.last_name.clone(),
                first: b.first_name.clone(),
                dob: b.birth_date?,
                npi: npi.clone(),
            })
        })
        .collect())
}

/// `mbi,last_name,first_name,birth_date[,npi]` per line; `#` comments, blank lines and a header
/// line are skipped.
fn people_from_csv(text: &str, npi: &str) -> Result<Vec<Person>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if n == 0 && f.first().is_some_and(|s| s.eq_ignore_ascii_case("mbi")) {
            continue;
        }
        let [mbi, last, first, dob, rest @ ..] = f.as_slice() else {
            bail!("line {}: expected mbi,last_name,first_name,birth_date[,npi]", n + 1);
        };
        let dob = super::parse_date("mbis", dob).with_context(|| format!("line {}", n + 1))?;
        out.push(Person {
            mbi: mbi.to_ascii_uppercase(),
            last: last.to_ascii_uppercase(),
            first: first.to_ascii_uppercase(),
            dob,
            npi: rest.first().filter(|s| !s.is_empty()).map_or_else(|| npi.to_string(), |s| s.to_string()),
        });
    }
    Ok(out)
}

/// A small fast generator for PayloadIDs (xorshift64*), seeded from the OS per task.
struct Ids(u64);

impl Ids {
    fn new() -> Ids {
        let seed = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
        Ids(seed)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A v4 UUID, hyphenated lower case, written into `out`.
    fn write(&mut self, out: &mut [u8]) {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let s = id.hyphenated().encode_lower(&mut buf);
        out.copy_from_slice(s.as_bytes());
    }
}

/// One task: one connection, requests back to back until the deadline.
struct Worker {
    task: usize,
    stride: usize,
    connector: Arc<net::Connector>,
    plan: Arc<Plan>,
    /// Answers before this instant (the warm-up) are not measured.
    measure_from: Instant,
    deadline: Instant,
    timeout: Duration,
    keep_ids: bool,
}

impl Worker {
    async fn run(self, mut conn: Option<net::Conn>) -> Tally {
        let Worker { task, stride, connector, plan, measure_from, deadline, timeout, keep_ids } = self;
        let mut tally = Tally { latencies_us: Vec::with_capacity(1 << 16), ..Tally::default() };
        let mut ids = Ids::new();
        let mut next = task;
        let n = plan.templates.len();
        let fail = |tally: &mut Tally, e: String| {
            tally.errors += 1;
            if tally.first_error.is_none() {
                tally.first_error = Some(e);
            }
        };
        while Instant::now() < deadline {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => match connector.connect().await {
                    Ok(c) => conn.insert(c),
                    Err(e) => {
                        fail(&mut tally, format!("{e:#}"));
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                },
            };
            // A connection the server closed between requests (keep-alive timeout, Connection:
            // close) is replaced without counting an error: no request was lost on it.
            if c.ready().await.is_err() {
                conn = None;
                continue;
            }
            let t = &plan.templates[next % n];
            next = next.wrapping_add(stride);
            let mut id = [0u8; 36];
            let body = match t.id_at {
                Some(at) => {
                    let mut v = t.body.to_vec();
                    if let Some(slot) = v.get_mut(at..at + PLACEHOLDER_ID.len()) {
                        ids.write(&mut id);
                        slot.copy_from_slice(&id);
                    }
                    Bytes::from(v)
                }
                None => t.body.clone(),
            };
            let req = match connector.request(plan.method.clone(), &plan.path, plan.content_type.as_deref(), body) {
                Ok(r) => r,
                Err(e) => {
                    fail(&mut tally, format!("{e:#}"));
                    break;
                }
            };
            let started = Instant::now();
            match tokio::time::timeout(timeout, net::exchange(c, req)).await {
                Ok(Ok(reply)) => {
                    let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    let ok = reply.status == hyper::StatusCode::OK
                        && plan.marker.as_ref().is_none_or(|m| m.find(&reply.body).is_some());
                    if ok {
                        if started >= measure_from {
                            tally.latencies_us.push(us);
                        }
                        if keep_ids && t.id_at.is_some() {
                            tally.ids.push(id);
                        }
                    } else {
                        let head = String::from_utf8_lossy(&reply.body[..reply.body.len().min(300)]).into_owned();
                        fail(&mut tally, format!("HTTP {}: {head}", reply.status));
                    }
                }
                Ok(Err(e)) => {
                    fail(&mut tally, format!("{e:#}"));
                    conn = None;
                }
                Err(_) => {
                    fail(&mut tally, format!("no response within {} s", timeout.as_secs()));
                    conn = None;
                }
            }
        }
        tally
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles_and_line() {
        let v: Vec<u32> = (1..=1000).map(|i| i * 10).collect();
        assert_eq!(percentile(&v, 0.5), 5000);
        assert_eq!(percentile(&v, 0.99), 9900);
        assert_eq!(
            summary_line(12345.67, &v, 3),
            "throughput=12345.7/s p50=5.000 p90=9.000 p99=9.900 max=10.000 errors=3"
        );
        assert_eq!(summary_line(0.0, &[], 0), "throughput=0.0/s p50=0.000 p90=0.000 p99=0.000 max=0.000 errors=0");
    }

    #[test]
    fn ids_are_v4() {
        let mut ids = Ids::new();
        let mut a = [0u8; 36];
        let mut b = [0u8; 36];
        ids.write(&mut a);
        ids.write(&mut b);
        assert_ne!(a, b);
        let u = uuid::Uuid::parse_str(std::str::from_utf8(&a).unwrap()).unwrap();
        assert_eq!(u.get_version_num(), 4);
    }

    #[test]
    fn csv_people() {
        let p = people_from_csv(
            "mbi,last,first,dob\n# x\n2dg9nx3wk42,Hartwell,Margaret,1951-03-14\n1AA0AA0AA00,X,Y,19500101,1497429880\n",
            "1125213722",
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].mbi.as_str(), p[0].npi.as_str()), ("2DG9NX3WK42", "1125213722"));
        assert_eq!(p[1].npi, "1497429880");
        assert!(people_from_csv("x,y\n", "1").is_err());
    }
}
