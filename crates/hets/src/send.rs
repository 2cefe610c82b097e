//! `hets send`: the CORE real-time client. Builds a 270 from flags (or takes one from a file),
//! sends it over SOAP 1.2 or HTTP MIME with a username/password or a client certificate, and
//! prints the 271 for people (or raw). With `--load`, drives many requests and reports
//! throughput and latency.

mod envelope;
mod load;
mod net;

use anyhow::{Result, anyhow, bail};
use clap::{Args, ValueEnum};
use envelope::{Mode, RequestFields};
use std::path::PathBuf;
use std::process::ExitCode;
use x12::Date;

/// What a load run asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Real-time 270s on the SOAP or MIME endpoint.
    Eligibility,
    /// `GET /healthz`: the HTTP ceiling of the same server under the same client.
    Healthz,
}

#[derive(Args, Debug)]
pub struct SendArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The envelope: SOAP 1.2 or HTTP MIME multipart.
    #[arg(long, value_enum, default_value = "soap")]
    mode: Mode,
    /// Username (the submitter id) for WS-Security UsernameToken or the MIME UserName field.
    #[arg(long)]
    user: Option<String>,
    /// Password for --user (default: the HETS_PASSWORD environment variable, which keeps it
    /// out of the process list).
    #[arg(long)]
    password: Option<String>,
    /// Client certificate chain (PEM) for mutual TLS, instead of --user/--password.
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long)]
    key: Option<PathBuf>,
    /// CA certificate(s) (PEM) to trust for the server's certificate (default: the web PKI).
    #[arg(long)]
    ca: Option<PathBuf>,
    /// SenderID, ISA06 and GS02 (default: --user).
    #[arg(long)]
    submitter: Option<String>,
    /// ReceiverID, ISA08, GS03 and the information source (2100A).
    #[arg(long, default_value = "CMS")]
    payer: String,
    /// Send this 270 as it is (`-` for standard input) instead of building one from flags.
    #[arg(long, conflicts_with_all = ["npi", "mbi", "last", "first", "dob", "date", "from", "to", "service", "hcpcs"])]
    file: Option<String>,
    /// The provider's NPI (2100B).
    #[arg(long)]
    npi: Option<String>,
    /// The provider's name (2100B NM103).
    #[arg(long, default_value = "PROVIDER")]
    provider_name: String,
    /// The beneficiary's MBI.
    #[arg(long)]
    mbi: Option<String>,
    /// The beneficiary's last name.
    #[arg(long)]
    last: Option<String>,
    /// The beneficiary's first name.
    #[arg(long)]
    first: Option<String>,
    /// The beneficiary's birth date (YYYY-MM-DD or CCYYMMDD).
    #[arg(long)]
    dob: Option<String>,
    /// The date of service (default: none sent, the server's today).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    date: Option<String>,
    /// The first day of a period of service (with --to).
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// The last day of a period of service (with --from).
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Service type codes for one EQ (default 30 when no --hcpcs is given).
    #[arg(long, value_delimiter = ',')]
    service: Vec<String>,
    /// HCPCS codes, one EQ each.
    #[arg(long, value_delimiter = ',')]
    hcpcs: Vec<String>,
    /// Print the answer's X12 as it came instead of explaining it.
    #[arg(long)]
    raw: bool,
    /// Give up on a response after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,

    /// Load mode: send many requests and report throughput and latency.
    #[arg(long)]
    load: bool,
    /// Load mode: concurrent connections (one task each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Load mode: seconds to run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Load mode: seconds of load before the measured --duration (not counted in throughput or
    /// latency; errors still count).
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Load mode: what to request.
    #[arg(long, value_enum, default_value = "eligibility")]
    target: Target,
    /// Load mode: beneficiaries from a CSV file (mbi,last_name,first_name,birth_date[,npi]).
    #[arg(long, conflicts_with_all = ["population_seed", "population"])]
    mbis: Option<PathBuf>,
    /// Load mode: synthetic beneficiaries of the population `hets seed --seed S` made.
    #[arg(long, requires = "population")]
    population_seed: Option<u64>,
    /// Load mode: the size of that population (`hets seed --beneficiaries N`).
    #[arg(long, requires = "population_seed")]
    population: Option<u64>,
    /// Load mode: write the PayloadIDs of the 271s received to this file, one a line (to compare
    /// with the server's transaction records).
    #[arg(long)]
    received: Option<PathBuf>,
    /// Load mode: the demo dataset whose beneficiaries to ask about (and whose MBIs a synthetic
    /// population avoids); default: the built-in one.
    #[arg(long)]
    personas: Option<PathBuf>,
    /// Load mode: client runtime worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

// The 270 builder is shared with the desktop's beneficiary lookup.
pub use server::desktop::lookup::{Person, Question};

/// Parses `YYYY-MM-DD` or `CCYYMMDD`.
pub fn parse_date(flag: &str, s: &str) -> Result<Date> {
    let d = if s.len() == 8 { Date::parse_ccyymmdd(s.as_bytes()) } else { Date::parse_iso(s) };
    d.ok_or_else(|| anyhow!("--{flag}: not a date (YYYY-MM-DD or CCYYMMDD): {s}"))
}

/// Builds a 270 interchange from `sender` to `payer` about `p`, dated now.
pub fn build_270(sender: &str, payer: &str, provider_name: &str, p: &Person, q: &Question, control: u32) -> Vec<u8> {
    let (today, now) = crate::clock::now();
    server::desktop::lookup::build_270(sender, payer, provider_name, p, q, control, today, now)
}

/// Now as an ISO 8601 UTC TimeStamp (`2026-03-02T14:07:55Z`).
pub fn timestamp() -> String {
    let (d, t) = crate::clock::now();
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", d.year, d.month, d.day, t.hour, t.minute, t.second)
}

/// A control number for ISA13/GS06 from the PayloadID's randomness (1..=999,999,999).
fn control_number(id: &uuid::Uuid) -> u32 {
    let b = id.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) % 999_999_999 + 1
}

/// Credentials and identities, checked once.
pub struct Auth {
    pub sender: String,
    pub credentials: Option<(String, String)>,
}

fn auth(args: &SendArgs) -> Result<Auth> {
    let from_env = || std::env::var("HETS_PASSWORD").ok().filter(|p| !p.is_empty());
    let credentials = match (&args.user, args.password.clone().or_else(from_env)) {
        (Some(u), Some(p)) => Some((u.clone(), p)),
        (None, None) => None,
        _ => bail!("--user and --password go together"),
    };
    if credentials.is_none() && args.cert.is_none() {
        bail!("give --user ID --password P, or --cert PEM --key PEM (mutual TLS)");
    }
    let sender = match (&args.submitter, &args.user) {
        (Some(s), _) | (None, Some(s)) => s.clone(),
        (None, None) => bail!("--submitter is needed with a client certificate (the SenderID)"),
    };
    Ok(Auth { sender, credentials })
}

fn connector(args: &SendArgs) -> Result<net::Connector> {
    let url = net::BaseUrl::parse(&args.url)?;
    let files = net::TlsFiles { ca: args.ca.as_deref(), cert: args.cert.as_deref(), key: args.key.as_deref() };
    net::Connector::new(url, &files)
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    let mut b = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    Ok(b.enable_all().build()?)
}

/// The command.
pub fn send(args: &SendArgs) -> Result<ExitCode> {
    if args.load {
        return load::run(args);
    }
    let auth = auth(args)?;
    let connector = connector(args)?;
    let payload = match &args.file {
        Some(file) => crate::x12cmd::read(file)?,
        None => {
            let person = person_from_flags(args)?;
            let question = question_from_flags(args)?;
            build_270(&auth.sender, &args.payer, &args.provider_name, &person, &question, {
                let id = uuid::Uuid::new_v4();
                control_number(&id)
            })
        }
    };
    let payload_id = uuid::Uuid::new_v4().to_string();
    let ts = timestamp();
    let fields = RequestFields {
        payload_id: &payload_id,
        timestamp: &ts,
        sender: &auth.sender,
        receiver: &args.payer,
        credentials: auth.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        payload: &payload,
    };
    let body = envelope::request(args.mode, &fields);
    let req = connector.request(
        hyper::Method::POST,
        args.mode.path(),
        Some(&body.content_type),
        bytes::Bytes::from(body.bytes),
    )?;
    let rt = runtime(1)?;
    let timeout = std::time::Duration::from_secs(args.timeout);
    let reply = rt.block_on(async {
        tokio::time::timeout(timeout, async {
            let mut conn = connector.connect().await?;
            net::exchange(&mut conn, req).await
        })
        .await
        .map_err(|_| anyhow!("no response within {} s", args.timeout))?
    });
    let reply = match reply {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hets send: {e:#}");
            return Ok(ExitCode::from(1));
        }
    };
    Ok(report(&reply, &payload_id, args.raw, &mut std::io::stdout().lock(), &mut std::io::stderr().lock()))
}

/// Prints what the server answered and chooses the exit status: 0 for a 271, 1 for anything
/// else (999, TA1, envelope error, SOAP fault, HTTP error).
fn report(
    reply: &net::Reply,
    payload_id: &str,
    raw: bool,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> ExitCode {
    let parsed = envelope::parse(&reply.content_type, &reply.body);
    if !reply.status.is_success() {
        let _ = writeln!(err, "hets send: HTTP {}", reply.status);
        if let Some(r) = &reply.retry_after {
            let _ = writeln!(err, "hets send: the server asks to retry after {r} s");
        }
        match &parsed {
            Some(r) if r.is_envelope() => describe_failure(r, err),
            _ => {
                let _ = writeln!(err, "{}", envelope::text(&reply.body));
            }
        }
        return ExitCode::from(1);
    }
    let Some(r) = parsed.filter(|r| r.is_envelope()) else {
        let _ = writeln!(err, "hets send: HTTP {}, but no CORE envelope in the response:", reply.status);
        let _ = writeln!(err, "{}", envelope::text(&reply.body));
        return ExitCode::from(1);
    };
    // Anything but Success is a refusal. Some servers leave ErrorCode empty on a TA1 or 999:
    // a payload then still says what happened.
    let refused = if r.error_code.is_empty() { r.payload.is_empty() } else { r.error_code != "Success" };
    if r.fault.is_some() || refused {
        describe_failure(&r, err);
        return ExitCode::from(1);
    }
    if !r.payload_id.is_empty() && r.payload_id != payload_id {
        let _ = writeln!(
            err,
            "hets send: warning: the response's PayloadID {} is not the request's {payload_id}",
            r.payload_id
        );
    }
    match r.payload_type.as_str() {
        envelope::PAYLOAD_TYPE_271 => {
            if raw {
                let _ = out.write_all(&r.payload);
                let _ = writeln!(out);
                return ExitCode::SUCCESS;
            }
            match x12::check_271(&r.payload) {
                x12::Checked::Accepted { transaction, .. } => {
                    let _ = write!(out, "{}", eligibility::explain(&transaction));
                    ExitCode::SUCCESS
                }
                _ => {
                    let _ = writeln!(err, "hets send: the 271 does not read as a valid 271; here it is as it came:");
                    let _ = out.write_all(&r.payload);
                    let _ = writeln!(out);
                    ExitCode::from(1)
                }
            }
        }
        t => {
            let what = match t {
                envelope::PAYLOAD_TYPE_999 => "a 999 (the 270 was rejected)".to_string(),
                envelope::PAYLOAD_TYPE_TA1 => "a TA1 (the interchange was rejected)".to_string(),
                other => format!("PayloadType {other}"),
            };
            let _ = writeln!(err, "hets send: the server answered with {what}");
            let _ = out.write_all(&r.payload);
            let _ = writeln!(out);
            ExitCode::from(1)
        }
    }
}

fn describe_failure(r: &envelope::Response, err: &mut dyn std::io::Write) {
    if let Some((codes, reason)) = &r.fault {
        let _ = writeln!(err, "SOAP fault: {}: {reason}", codes.join(" / "));
    } else {
        let _ = writeln!(err, "ErrorCode: {}", r.error_code);
        let _ = writeln!(err, "ErrorMessage: {}", r.error_message);
    }
}

fn required<'a>(v: &'a Option<String>, flag: &str) -> Result<&'a str> {
    v.as_deref().filter(|s| !s.trim().is_empty()).ok_or_else(|| anyhow!("--{flag} is required (or give --file)"))
}

fn person_from_flags(args: &SendArgs) -> Result<Person> {
    Ok(Person {
        npi: required(&args.npi, "npi")?.trim().to_string(),
        mbi: required(&args.mbi, "mbi")?.trim().to_ascii_uppercase(),
        last: required(&args.last, "last")?.trim().to_ascii_uppercase(),
        first: required(&args.first, "first")?.trim().to_ascii_uppercase(),
        dob: parse_date("dob", required(&args.dob, "dob")?)?,
    })
}

fn question_from_flags(args: &SendArgs) -> Result<Question> {
    let period = match (&args.date, &args.from, &args.to) {
        (Some(d), _, _) => {
            let d = parse_date("date", d)?;
            Some((d, d))
        }
        (None, Some(f), Some(t)) => {
            let (f, t) = (parse_date("from", f)?, parse_date("to", t)?);
            if t < f {
                bail!("--to is before --from");
            }
            Some((f, t))
        }
        _ => None,
    };
    for s in &args.service {
        if !x12::is_service_type(s.as_bytes()) {
            bail!("--service: {s} is not a service type code");
        }
    }
    Ok(Question {
        period,
        services: args.service.clone(),
        hcpcs: args.hcpcs.iter().map(|h| h.to_ascii_uppercase()).collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn built_270_is_accepted() {
        let p = Person {
            mbi: "2DG9NX3WK42".into(),
            last: "HARTWELL".into(),
            first: "MARGARET".into(),
            dob: Date::new(1951, 3, 14).unwrap(),
            npi: "1125213722".into(),
        };
        let q = Question {
            period: Some((Date::new(2026, 1, 1).unwrap(), Date::new(2026, 11, 16).unwrap())),
            services: vec!["30".into(), "42".into()],
            hcpcs: vec!["G0439".into()],
        };
        let bytes = build_270("WDEMO001", "CMS", "BAYSIDE FAMILY MEDICINE", &p, &q, 4711);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("ISA*00*          *00*          *ZZ*WDEMO001       *ZZ*CMS            *"), "{text}");
        assert!(text.contains("GS*HS*WDEMO001*CMS*"));
        assert!(text.contains("NM1*IL*1*HARTWELL*MARGARET****MI*2DG9NX3WK42~DMG*D8*19510314~"));
        assert!(text.contains("DTP*291*RD8*20260101-20261116~EQ*30^42~EQ**HC|G0439~"), "{text}");
        match x12::check_270(&bytes, &x12::Rules::default()) {
            x12::Checked::Accepted { .. } => {}
            other => panic!("not accepted: {other:?}"),
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("dob", "1951-03-14").unwrap(), Date::new(1951, 3, 14).unwrap());
        assert_eq!(parse_date("dob", "19510314").unwrap(), Date::new(1951, 3, 14).unwrap());
        assert!(parse_date("dob", "1951-02-30").is_err());
    }

    #[test]
    fn timestamps_are_iso_utc() {
        let t = timestamp();
        assert_eq!(t.len(), 20);
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
