//! `hets.toml`: the settings of `hets serve`, with environment overrides (`HETS_LISTEN`,
//! `HETS_DB`, `HETS_MAX_IN_FLIGHT`, `HETS_MAX_BODY_BYTES`), and `hets config init`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde::Deserialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The commented default written by `hets config init`; it parses to [`ServeConfig::default`].
pub const DEFAULT_TOML: &str = r#"# hets serve configuration. Every key is optional; the values below are the defaults.
# Environment variables override the file: HETS_LISTEN, HETS_DB, HETS_MAX_IN_FLIGHT,
# HETS_MAX_BODY_BYTES.

# Address and port of the CORE endpoints (plain HTTP/1.1).
listen = "127.0.0.1:8080"

# The database: sqlite:PATH (embedded default) or postgres://USER@HOST:PORT/DATABASE. Several
# hets serve processes may share one PostgreSQL database.
db = "sqlite:./hets-data/hets.db"

# Largest request body accepted; larger requests get 413.
max_body_bytes = 65536

# Seconds a client has to send its request head (the connection is closed after) and its body
# (408 after).
header_timeout_secs = 10
body_timeout_secs = 10

# The internal deadline of one request: a 270 not answered within it gets AAA 42 (D3).
deadline_secs = 15

# Requests processed at once; beyond, requests are refused at once with 503 + Retry-After
# (load shedding) instead of queueing without bound.
max_in_flight = 1024

# Seconds a verified password stays verified in memory (argon2 is deliberately slow; a
# changed or revoked password takes effect after this), and seconds a submitter's status and
# the maintenance windows are cached (a suspension made on another node is enforced within it).
auth_cache_ttl_secs = 60
status_ttl_secs = 2

# During a scheduled maintenance window the real-time endpoints answer 503 with Retry-After.
# With this set, the server instead closes every new connection at once (D12's other option;
# health checks and the desktop on the same listener are refused too).
maintenance_refuses_connections = false

# Seconds in-flight requests get to finish on shutdown (SIGTERM or Ctrl-C).
drain_secs = 20

# TLS (1.2 and 1.3): PEM files of the server certificate chain and its key. With tls_client_ca,
# clients may authenticate by a certificate from that CA instead of a password (mutual TLS):
# the certificate's subject CN is the submitter id. A certificate from any other CA fails the
# handshake. Leave these out for plain HTTP (local use, or TLS ended by a proxy).
# tls_cert = "/etc/hets/server.pem"
# tls_key = "/etc/hets/server.key"
# tls_client_ca = "/etc/hets/client-ca.pem"

# Security audits and compliance (D13–D15). hets serve runs the scheduler: every tick it ends
# timed suspensions, suspends submitters whose AAA case passed its deadline, audits each ET
# calendar day once it has ended (audit_delay_minutes after midnight ET; with several nodes on
# one PostgreSQL database exactly one node audits a day), and delivers the email outbox.
[compliance]
scheduler = true
tick_secs = 60
audit_delay_minutes = 15
# Printed in every notice.
helpdesk = "openhets help desk, helpdesk@localhost"

# The audit policy; the defaults are the decisions D13–D15. Shares are per mille.
[compliance.policy]
valid_npi_min_per_mille = 995
npi_min_volume = 100
suspension_hours = 24
suspensions_to_terminate = 3
terminations_to_ban = 3
aaa_max_per_mille = 100
aaa_min_volume = 100
cap_days = 14
repeat_threshold = 30
repeat_window_hours = 24

# Email notices go out through this SMTP server. Without an [smtp] table the notices wait in
# the outbox (hets outbox list) and nothing is sent.
# [smtp]
# host = "smtp.example.org"
# port = 587
# from = "HETS Help Desk <hets@example.org>"
# security = "starttls"      # none | starttls | tls
# username = "hets"
# password = "..."
# timeout_secs = 30
"#;

/// `[compliance]`: the scheduler and the audit policy.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplianceConfig {
    pub scheduler: bool,
    pub tick_secs: u64,
    pub audit_delay_minutes: i64,
    pub helpdesk: String,
    pub policy: compliance::Policy,
}

impl Default for ComplianceConfig {
    fn default() -> ComplianceConfig {
        ComplianceConfig {
            scheduler: true,
            tick_secs: 60,
            audit_delay_minutes: 15,
            helpdesk: compliance::service::DEFAULT_HELPDESK.into(),
            policy: compliance::Policy::default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: String,
    pub db: String,
    pub max_body_bytes: usize,
    pub header_timeout_secs: u64,
    pub body_timeout_secs: u64,
    pub deadline_secs: u64,
    pub max_in_flight: usize,
    pub auth_cache_ttl_secs: u64,
    pub status_ttl_secs: u64,
    pub drain_secs: u64,
    pub maintenance_refuses_connections: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    pub compliance: ComplianceConfig,
    pub smtp: Option<compliance::mail::SmtpConfig>,
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            listen: "127.0.0.1:8080".into(),
            db: store::DEFAULT_URL.into(),
            max_body_bytes: 65536,
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            deadline_secs: 15,
            max_in_flight: 1024,
            auth_cache_ttl_secs: 60,
            status_ttl_secs: 2,
            drain_secs: 20,
            maintenance_refuses_connections: false,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            compliance: ComplianceConfig::default(),
            smtp: None,
        }
    }
}

impl ServeConfig {
    /// The file (if given), then the environment.
    pub fn load(path: Option<&std::path::Path>) -> Result<ServeConfig> {
        let mut c = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("{}", p.display()))?
            }
            None => ServeConfig::default(),
        };
        if let Ok(v) = std::env::var("HETS_LISTEN") {
            c.listen = v;
        }
        if let Ok(v) = std::env::var("HETS_DB") {
            c.db = v;
        }
        if let Ok(v) = std::env::var("HETS_MAX_IN_FLIGHT") {
            c.max_in_flight = v.parse().context("HETS_MAX_IN_FLIGHT")?;
        }
        if let Ok(v) = std::env::var("HETS_MAX_BODY_BYTES") {
            c.max_body_bytes = v.parse().context("HETS_MAX_BODY_BYTES")?;
        }
        Ok(c)
    }

    /// The TLS files, when TLS is configured.
    pub fn tls(&self) -> Result<Option<server::tls::TlsFiles>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(server::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: self.tls_client_ca.clone(),
            })),
            (None, None) if self.tls_client_ca.is_none() => Ok(None),
            _ => Err(anyhow::anyhow!("TLS needs both tls_cert and tls_key (tls_client_ca needs them too)")),
        }
    }

    pub fn server(&self) -> server::http::Config {
        server::http::Config {
            max_body_bytes: self.max_body_bytes,
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            deadline: Duration::from_secs(self.deadline_secs),
            max_in_flight: self.max_in_flight,
            auth_cache_ttl: Duration::from_secs(self.auth_cache_ttl_secs),
            status_ttl: Duration::from_secs(self.status_ttl_secs),
            maintenance_refuses_connections: self.maintenance_refuses_connections,
            ..server::http::Config::default()
        }
    }
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Write the commented default configuration.
    Init(InitArgs),
}

#[derive(Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(default_value = "hets.toml")]
    path: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

pub fn run(cmd: &ConfigCommand) -> Result<ExitCode> {
    match cmd {
        ConfigCommand::Init(a) => {
            if a.path.exists() && !a.force {
                eprintln!("hets config init: {} exists (use --force to replace it)", a.path.display());
                return Ok(ExitCode::from(1));
            }
            std::fs::write(&a.path, DEFAULT_TOML).with_context(|| format!("writing {}", a.path.display()))?;
            println!("wrote {}", a.path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_commented_default_is_the_default() {
        let c: ServeConfig = toml::from_str(DEFAULT_TOML).unwrap();
        let d = ServeConfig::default();
        assert_eq!(
            (c.listen, c.db, c.max_in_flight, c.deadline_secs),
            (d.listen, d.db, d.max_in_flight, d.deadline_secs)
        );
    }
}
