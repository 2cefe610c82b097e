//! `hets serve` (the CORE endpoints) and `hets admin maintenance` (D12 windows as data).

use crate::config::ServeConfig;
use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use compliance::mail::Mailer;
use compliance::{Compliance, Period, SystemClock};
use eligibility::{Instant, Personas, Releases, Settings};
use server::Responder;
use server::http::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use store::synthetic::Population;

const PERSONAS: &str = include_str!("../../../data/personas.toml");
/// The synthetic population `--demo` adds to the personas: enough to feel real, seeded in
/// seconds.
const DEMO_POPULATION: u64 = 20_000;
/// The demo desktop users' passwords (docs/desktop.md): `wdemo001`… and `helpdesk`.
const DEMO_DESKTOP_PASSWORD: &str = "demo-desktop-pass";
const DEMO_HELPDESK_PASSWORD: &str = "demo-helpdesk-pass";
/// The demo provider user: the persona provider (BAYSIDE FAMILY MEDICINE), who attests its
/// vendors on `/desktop/p/1125213722`.
const DEMO_PROVIDER_NPI: &str = "1125213722";
const DEMO_PROVIDER_USER: &str = "npi1125213722";
const DEMO_PROVIDER_PASSWORD: &str = "demo-provider-pass";

#[derive(Args)]
pub struct ServeArgs {
    /// Create and seed a demo database in --data-dir when there is none, and print how to try it.
    #[arg(long)]
    demo: bool,
    /// Address to listen on (default 127.0.0.1:8080, or the configuration's `listen`).
    #[arg(long)]
    listen: Option<String>,
    /// With --demo: the directory of the demo's SQLite database.
    #[arg(long, default_value = "./hets-data")]
    data_dir: PathBuf,
    /// The database (overrides the configuration; postgres://… for scale-out).
    #[arg(long)]
    db: Option<String>,
    /// The configuration file (see `hets config init`).
    #[arg(long)]
    config: Option<PathBuf>,
}

fn init_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("HETS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // JSON lines on stderr: request id, PayloadID, submitter, codes; never PHI.
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

pub fn serve(args: &ServeArgs) -> Result<ExitCode> {
    init_logs();
    let mut config = ServeConfig::load(args.config.as_deref())?;
    if let Some(l) = &args.listen {
        config.listen = l.clone();
    }
    if args.demo && args.db.is_none() {
        config.db = format!("sqlite:{}", args.data_dir.join("hets.db").display());
    }
    if let Some(db) = &args.db {
        config.db = db.clone();
    }
    let addr: SocketAddr = config.listen.parse().with_context(|| format!("--listen {}", config.listen))?;
    // Held until the process ends.
    let _claim = store::claim_for_serving(&config.db)
        .with_context(|| format!("claiming the database {}", crate::respond::redact(&config.db)))?;
    let store = store::open(&config.db)
        .with_context(|| format!("opening the database {}", crate::respond::redact(&config.db)))?;
    if args.demo && store.counts()?.beneficiaries == 0 {
        seed_demo(store.as_ref())?;
    }
    // Also for a demo database seeded before the desktop (or its provider user) existed.
    if args.demo && (store.desktop_user("helpdesk")?.is_none() || store.desktop_user(DEMO_PROVIDER_USER)?.is_none()) {
        seed_demo_desktop_users(store.as_ref())?;
    }
    let responder = Arc::new(Responder::new(store.clone(), Releases::builtin()?, Settings::default())?);

    let tls = match config.tls()? {
        Some(files) => Some(tokio_rustls::TlsAcceptor::from(server::tls::server_config(&files)?)),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Blocking threads run the store reads and the request path: a few per core keep the
    // database connections busy without hundreds of threads contending for them.
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(4 * cores)
        .build()
        .context("starting the runtime")?;
    let drain = std::time::Duration::from_secs(config.drain_secs);
    let compliance_config = config.compliance.clone();
    let scheduled = Arc::new(Compliance::new(
        store.clone(),
        compliance_config.policy.clone(),
        Arc::new(SystemClock),
        compliance_config.helpdesk.clone(),
    ));
    let state = AppState::with_compliance(
        responder.clone(),
        config.server(),
        Arc::new(SystemClock),
        scheduled.clone(),
        &compliance_config.helpdesk,
    );
    let mailer = match &config.smtp {
        Some(smtp) => Some(Mailer::new(smtp).context("the [smtp] configuration")?),
        None => None,
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
        let local = listener.local_addr()?;
        print_banner(scheme, local, args.demo);
        // Purge replayable answers older than 24 hours (D11) now and then.
        let purge_store = store.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                let s = purge_store.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let purged = s.purge_replays(now_minus(86_400));
                    if first {
                        // The embedded store reads its PayloadIDs into memory on the first
                        // lookup: this one, not a submitter's.
                        let _ = s.replay("", "", now_minus(86_400));
                    }
                    purged
                })
                .await;
                first = false;
                tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            }
        });
        if compliance_config.scheduler {
            tokio::spawn(scheduler(scheduled, mailer, compliance_config));
        }
        server::http::serve(listener, state, tls, shutdown_signal(), drain).await?;
        anyhow::Ok(())
    })?;
    responder.flush();
    Ok(ExitCode::SUCCESS)
}

/// The compliance scheduler: every tick, on a blocking thread, the service's tick, the audits
/// of the last seven ET days that have ended (a no-op once done; on PostgreSQL one node at a
/// time), and the outbox. A failing step is logged and retried next tick.
async fn scheduler(c: Arc<Compliance>, mailer: Option<Mailer>, config: crate::config::ComplianceConfig) {
    let mailer = mailer.map(Arc::new);
    loop {
        let (c2, m2) = (c.clone(), mailer.clone());
        let delay = config.audit_delay_minutes * 60;
        let done = tokio::task::spawn_blocking(move || {
            if let Err(e) = c2.tick() {
                tracing::warn!(error = %e, "compliance tick failed");
            }
            // The last week's days, oldest first: a node that was down catches up, and a day
            // already audited costs one query.
            let last = Instant::from_unix(c2.now().unix_seconds - delay);
            for back in (0..7).rev() {
                let period = Period::last_complete(Instant::from_unix(last.unix_seconds - back * 86_400));
                match c2.audit(&period) {
                    Ok(run) if !run.audited.is_empty() => {
                        tracing::info!(period = %run.period, audited = run.audited.len(), "audit ran");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, period = %period.name(), "audit failed; retried next tick"),
                }
            }
            if let Some(m) = m2 {
                match c2.deliver(&m, 500) {
                    Ok(d) if d.sent + d.retrying + d.gave_up > 0 => {
                        tracing::info!(sent = d.sent, retrying = d.retrying, failed = d.gave_up, "outbox delivered");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "outbox delivery failed"),
                }
            }
        })
        .await;
        if done.is_err() {
            tracing::error!("the compliance scheduler step panicked; continuing");
        }
        tokio::time::sleep(std::time::Duration::from_secs(config.tick_secs.max(1))).await;
    }
}

fn now_minus(secs: i64) -> Instant {
    let (date, time) = crate::clock::now();
    let now = Instant::at(date, time);
    Instant { unix_seconds: now.unix_seconds - secs, centis: 0 }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn seed_demo(store: &dyn store::Store) -> Result<()> {
    let personas = Personas::from_toml(PERSONAS).context("the built-in personas")?;
    store.set_bulk_load(true)?;
    store::load_personas(store, &personas).context("loading the personas")?;
    let population = Population::new(1, DEMO_POPULATION, 500, 10, personas.meta.reference_date).reserving(&personas);
    store.put_providers(&population.providers())?;
    store.put_submitters(&population.submitters())?;
    store.put_relationships(&population.relationships())?;
    let mut start = 0;
    while start < DEMO_POPULATION {
        let end = (start + 5_000).min(DEMO_POPULATION);
        store.put_beneficiaries(&population.beneficiaries(start..end).collect::<Vec<_>>())?;
        start = end;
    }
    store.set_bulk_load(false)?;
    eprintln!("hets serve: seeded the demo personas and {DEMO_POPULATION} synthetic beneficiaries");
    Ok(())
}

/// The demo's desktop users: one per demo submitter (its id in lower case) and the help desk,
/// with the passwords of docs/desktop.md.
fn seed_demo_desktop_users(store: &dyn store::Store) -> Result<()> {
    let personas = Personas::from_toml(PERSONAS).context("the built-in personas")?;
    let mut users: Vec<store::NewDesktopUser> = personas
        .submitters
        .iter()
        .map(|s| store::NewDesktopUser {
            username: s.id.to_ascii_lowercase(),
            role: store::DesktopRole::Submitter,
            submitter: Some(s.id.clone()),
            npi: None,
            password: DEMO_DESKTOP_PASSWORD.into(),
        })
        .collect();
    users.push(store::NewDesktopUser {
        username: "helpdesk".into(),
        role: store::DesktopRole::Admin,
        submitter: None,
        npi: None,
        password: DEMO_HELPDESK_PASSWORD.into(),
    });
    users.push(store::NewDesktopUser {
        username: DEMO_PROVIDER_USER.into(),
        role: store::DesktopRole::Provider,
        submitter: None,
        npi: Some(DEMO_PROVIDER_NPI.into()),
        password: DEMO_PROVIDER_PASSWORD.into(),
    });
    for u in &users {
        store.put_desktop_user(u, now_minus(0)).context("creating the demo desktop users")?;
    }
    Ok(())
}

fn print_banner(scheme: &str, addr: SocketAddr, demo: bool) {
    let base = format!("{scheme}://{addr}");
    println!("hets serve: listening on {base}");
    println!("  SOAP 1.2  POST {base}/eligibility/realtime/soap   (WSDL: GET {base}/eligibility/realtime/soap?wsdl)");
    println!("  MIME      POST {base}/eligibility/realtime/mime");
    println!("  health    GET  {base}/healthz   {base}/readyz   {base}/metrics");
    if demo {
        println!("demo submitter: user WDEMO001, password demo-clearinghouse-pass");
        println!(
            "desktop API (docs/desktop.md, {base}/api/openapi.json): users wdemo001..wdemo004, password {DEMO_DESKTOP_PASSWORD}; help desk: helpdesk, password {DEMO_HELPDESK_PASSWORD}"
        );
        println!(
            "  curl -s {base}/api/session -d '{{\"username\":\"wdemo001\",\"password\":\"{DEMO_DESKTOP_PASSWORD}\"}}'"
        );
        println!(
            "desktop provider (attests its vendors at {base}/desktop/p/{DEMO_PROVIDER_NPI}): user {DEMO_PROVIDER_USER}, password {DEMO_PROVIDER_PASSWORD}"
        );
        println!("try it:");
        println!(
            "  cargo run -p hets -- send --url {base} --user WDEMO001 --password demo-clearinghouse-pass --mode soap \\\n    --npi 1125213722 --mbi 2DG9NX3WK42 --last HARTWELL --first MARGARET --dob 1951-03-14"
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Scheduled maintenance windows (D12): the real-time endpoints answer 503 during one.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),
}

#[derive(Subcommand)]
pub enum MaintenanceCommand {
    /// Schedule a window.
    Add {
        #[arg(long, default_value = store::DEFAULT_URL)]
        db: String,
        /// Start, RFC 3339 (e.g. 2026-12-06T02:00:00Z).
        #[arg(long)]
        from: String,
        /// End (excluded), RFC 3339.
        #[arg(long)]
        to: String,
        /// Told to submitters in the 503 body.
        #[arg(long)]
        reason: String,
    },
    /// List the windows that have not ended.
    List {
        #[arg(long, default_value = store::DEFAULT_URL)]
        db: String,
    },
    /// Delete a window by id.
    Delete {
        #[arg(long, default_value = store::DEFAULT_URL)]
        db: String,
        id: i64,
    },
}

pub fn admin(cmd: &AdminCommand) -> Result<ExitCode> {
    let AdminCommand::Maintenance(m) = cmd;
    match m {
        MaintenanceCommand::Add { db, from, to, reason } => {
            let store = store::open(db)?;
            let window = store::MaintenanceWindow {
                id: 0,
                starts: Instant::parse_rfc3339(from)?,
                ends: Instant::parse_rfc3339(to)?,
                reason: reason.clone(),
            };
            let id = store.add_maintenance(&window).map_err(|e| anyhow!("{e}"))?;
            println!("maintenance window {id}: {} to {}: {}", window.starts, window.ends, window.reason);
            // Every submitter hears of it (the outbox delivers).
            let config = ServeConfig::load(None)?;
            let c = Compliance::new(store, config.compliance.policy, Arc::new(SystemClock), config.compliance.helpdesk);
            let n = c.announce_outage(window.starts, window.ends, &window.reason)?;
            println!("outage notice queued for {n} submitters");
        }
        MaintenanceCommand::List { db } => {
            let store = store::open(db)?;
            for w in store.maintenance_windows(now_minus(0))? {
                println!("{}\t{}\t{}\t{}", w.id, w.starts, w.ends, w.reason);
            }
        }
        MaintenanceCommand::Delete { db, id } => {
            let store = store::open(db)?;
            if !store.delete_maintenance(*id)? {
                eprintln!("hets admin maintenance delete: no window {id}");
                return Ok(ExitCode::from(1));
            }
            println!("deleted maintenance window {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
