//! Email notices (issue #5): the notice kinds, their templates, and SMTP submission.
//!
//! The durable outbox and its delivery loop live elsewhere; they store a [`NoticeKind`] (by
//! [`NoticeKind::as_str`]) and the [`Vars`], call [`render`] and [`Mailer::send`] on a blocking
//! thread, and use [`MailError::is_permanent`], [`backoff`] and [`MAX_ATTEMPTS`] to decide
//! between retrying later and leaving the message failed for an administrator.
//!
//! # Templates
//!
//! Every kind has `templates/email/<kind>.txt` and `<kind>.html`, compiled into the binary. The
//! `.txt` starts with a `Subject: ...` line and a blank line. Placeholders are `{{name}}`; each
//! must be one of the kind's variables (below) and must have a value, or rendering fails
//! naming the template and the placeholder. Values are HTML-escaped in the HTML part only.
//! Instants are preformatted by the caller (for example `2026-03-02 14:00 UTC`), and
//! `figures`/`summary` may span several lines.
//!
//! Every kind takes `submitter_name`, `submitter_id` and `helpdesk` (for example
//! `MCARE help desk, 1-866-324-7315, mcare@example.org`); in addition:
//!
//! | kind                      | further variables                                          |
//! |---------------------------|------------------------------------------------------------|
//! | `suspension`              | `reason`, `figures`, `suspended_at`, `until`               |
//! | `termination`             | `reason`, `figures`, `terminated_at`, `cap_deadline`       |
//! | `permanent_termination`   | `reason`, `effective_at`                                   |
//! | `reinstatement`           | `reason`, `reinstated_at`                                  |
//! | `aaa_notice`              | `period`, `figures`, `cap_deadline`                        |
//! | `aaa_suspension`          | `reason`, `figures`, `cap_deadline`, `suspended_at`        |
//! | `aaa_case_closed`         | `reason`, `figures`, `closed_at`                           |
//! | `relationship_suspended`  | `npi`, `reason`, `figures`, `suspended_at`, `cap_deadline` |
//! | `relationship_reinstated` | `npi`, `reason`, `reinstated_at`                           |
//! | `cap_received`            | `cap_reference`, `cap_for`, `received_at`, `review_deadline` |
//! | `cap_accepted`            | `cap_reference`, `cap_for`, `decided_at`, `reason`         |
//! | `cap_rejected`            | `cap_reference`, `cap_for`, `decided_at`, `reason`, `cap_deadline` |
//! | `outage`                  | `starts_at`, `ends_at`, `reason`                           |
//! | `release_bulletin`        | `release`, `effective_at`, `summary`                       |
//!
//! [`variables`] returns the same lists; a test checks them against the template files.
//!
//! No notice carries PHI: a relationship notice names the provider's NPI, never the
//! beneficiary's MBI, name or birth date.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde::{Deserialize, Deserializer};

/// Placeholder values, by name.
pub type Vars = BTreeMap<String, String>;

/// After this many failed attempts a message is left failed for an administrator.
pub const MAX_ATTEMPTS: u32 = 12;

/// The first retry delay; each further failure doubles it.
const BACKOFF_BASE: Duration = Duration::from_secs(30);
/// The longest delay between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(3600);

/// How long to wait before the next attempt after `attempts` failed ones: 30 s after the
/// first, doubling, at most 1 h. `0` is treated as `1`, so a caller that counts from zero
/// still waits.
pub fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1);
    // 30 s * 2^7 already exceeds the cap, so larger exponents need not be computed (and
    // could overflow).
    if doublings >= 7 {
        return BACKOFF_CAP;
    }
    BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP)
}

/// One kind of compliance notice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NoticeKind {
    /// 24-hour automatic suspension after a failed NPI audit (D13).
    Suspension,
    /// Termination pending a corrective action plan (D13).
    Termination,
    /// Termination for good (D13, after two earlier terminations).
    PermanentTermination,
    /// Access restored after a suspension or termination.
    Reinstatement,
    /// AAA error-rate case opened; CAP due by the deadline (D14).
    AaaNotice,
    /// No CAP, or no improvement, by the AAA case's deadline (D14).
    AaaSuspension,
    /// AAA error-rate case closed (D14).
    AaaCaseClosed,
    /// Submitter/NPI relationship suspended for repeated NPI+MBI inquiries (D15).
    RelationshipSuspended,
    /// Submitter/NPI relationship restored (D15).
    RelationshipReinstated,
    /// A corrective action plan was received.
    CapReceived,
    /// A corrective action plan was accepted.
    CapAccepted,
    /// A corrective action plan was rejected.
    CapRejected,
    /// A scheduled maintenance window.
    Outage,
    /// A release bulletin.
    ReleaseBulletin,
}

impl NoticeKind {
    /// Every kind, in declaration order.
    pub const ALL: [NoticeKind; 14] = [
        NoticeKind::Suspension,
        NoticeKind::Termination,
        NoticeKind::PermanentTermination,
        NoticeKind::Reinstatement,
        NoticeKind::AaaNotice,
        NoticeKind::AaaSuspension,
        NoticeKind::AaaCaseClosed,
        NoticeKind::RelationshipSuspended,
        NoticeKind::RelationshipReinstated,
        NoticeKind::CapReceived,
        NoticeKind::CapAccepted,
        NoticeKind::CapRejected,
        NoticeKind::Outage,
        NoticeKind::ReleaseBulletin,
    ];

    /// The stable name stored in the outbox; also the template file stem. Never rename one.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Suspension => "suspension",
            NoticeKind::Termination => "termination",
            NoticeKind::PermanentTermination => "permanent_termination",
            NoticeKind::Reinstatement => "reinstatement",
            NoticeKind::AaaNotice => "aaa_notice",
            NoticeKind::AaaSuspension => "aaa_suspension",
            NoticeKind::AaaCaseClosed => "aaa_case_closed",
            NoticeKind::RelationshipSuspended => "relationship_suspended",
            NoticeKind::RelationshipReinstated => "relationship_reinstated",
            NoticeKind::CapReceived => "cap_received",
            NoticeKind::CapAccepted => "cap_accepted",
            NoticeKind::CapRejected => "cap_rejected",
            NoticeKind::Outage => "outage",
            NoticeKind::ReleaseBulletin => "release_bulletin",
        }
    }

    /// The inverse of [`NoticeKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The variables a kind's templates use (the table in the module documentation).
pub fn variables(kind: NoticeKind) -> &'static [&'static str] {
    match kind {
        NoticeKind::Suspension => {
            &["submitter_name", "submitter_id", "helpdesk", "reason", "figures", "suspended_at", "until"]
        }
        NoticeKind::Termination => {
            &["submitter_name", "submitter_id", "helpdesk", "reason", "figures", "terminated_at", "cap_deadline"]
        }
        NoticeKind::PermanentTermination => &["submitter_name", "submitter_id", "helpdesk", "reason", "effective_at"],
        NoticeKind::Reinstatement => &["submitter_name", "submitter_id", "helpdesk", "reason", "reinstated_at"],
        NoticeKind::AaaNotice => &["submitter_name", "submitter_id", "helpdesk", "period", "figures", "cap_deadline"],
        NoticeKind::AaaSuspension => {
            &["submitter_name", "submitter_id", "helpdesk", "reason", "figures", "cap_deadline", "suspended_at"]
        }
        NoticeKind::AaaCaseClosed => &["submitter_name", "submitter_id", "helpdesk", "reason", "figures", "closed_at"],
        NoticeKind::RelationshipSuspended => {
            &["submitter_name", "submitter_id", "helpdesk", "npi", "reason", "figures", "suspended_at", "cap_deadline"]
        }
        NoticeKind::RelationshipReinstated => {
            &["submitter_name", "submitter_id", "helpdesk", "npi", "reason", "reinstated_at"]
        }
        NoticeKind::CapReceived => &[
            "submitter_name",
            "submitter_id",
            "helpdesk",
            "cap_reference",
            "cap_for",
            "received_at",
            "review_deadline",
        ],
        NoticeKind::CapAccepted => {
            &["submitter_name", "submitter_id", "helpdesk", "cap_reference", "cap_for", "decided_at", "reason"]
        }
        NoticeKind::CapRejected => &[
            "submitter_name",
            "submitter_id",
            "helpdesk",
            "cap_reference",
            "cap_for",
            "decided_at",
            "reason",
            "cap_deadline",
        ],
        NoticeKind::Outage => &["submitter_name", "submitter_id", "helpdesk", "starts_at", "ends_at", "reason"],
        NoticeKind::ReleaseBulletin => {
            &["submitter_name", "submitter_id", "helpdesk", "release", "effective_at", "summary"]
        }
    }
}

/// The two template files of one kind, compiled in so that the binary needs no files.
struct Template {
    txt_name: &'static str,
    txt: &'static str,
    html_name: &'static str,
    html: &'static str,
}

macro_rules! template {
    ($stem:literal) => {
        Template {
            txt_name: concat!($stem, ".txt"),
            txt: include_str!(concat!("../templates/email/", $stem, ".txt")),
            html_name: concat!($stem, ".html"),
            html: include_str!(concat!("../templates/email/", $stem, ".html")),
        }
    };
}

fn template(kind: NoticeKind) -> Template {
    // Literal stems (include_str! needs them); the test checks they equal `as_str`.
    match kind {
        NoticeKind::Suspension => template!("suspension"),
        NoticeKind::Termination => template!("termination"),
        NoticeKind::PermanentTermination => template!("permanent_termination"),
        NoticeKind::Reinstatement => template!("reinstatement"),
        NoticeKind::AaaNotice => template!("aaa_notice"),
        NoticeKind::AaaSuspension => template!("aaa_suspension"),
        NoticeKind::AaaCaseClosed => template!("aaa_case_closed"),
        NoticeKind::RelationshipSuspended => template!("relationship_suspended"),
        NoticeKind::RelationshipReinstated => template!("relationship_reinstated"),
        NoticeKind::CapReceived => template!("cap_received"),
        NoticeKind::CapAccepted => template!("cap_accepted"),
        NoticeKind::CapRejected => template!("cap_rejected"),
        NoticeKind::Outage => template!("outage"),
        NoticeKind::ReleaseBulletin => template!("release_bulletin"),
    }
}

/// The raw template sources of a kind, `(text, html)`, for tests and previews.
pub fn template_sources(kind: NoticeKind) -> (&'static str, &'static str) {
    let t = template(kind);
    (t.txt, t.html)
}

/// A rendered notice, ready to address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Rendered {
    /// The email of this notice to one recipient.
    pub fn addressed_to(self, address: impl Into<String>) -> Email {
        Email { to: address.into(), subject: self.subject, text: self.text, html: self.html }
    }
}

/// Renders a notice's subject, plain-text body and HTML body.
pub fn render(kind: NoticeKind, vars: &Vars) -> Result<Rendered, MailError> {
    let t = template(kind);
    let allowed = variables(kind);
    let Some(rest) = t.txt.strip_prefix("Subject: ") else {
        return Err(MailError::Template {
            template: t.txt_name,
            problem: "the first line must be `Subject: ...`".to_owned(),
        });
    };
    let (subject_line, body) = match rest.split_once('\n') {
        Some((subject, body)) => (subject.trim_end_matches('\r'), body),
        None => (rest, ""),
    };
    let body = body.strip_prefix("\r\n").or_else(|| body.strip_prefix('\n')).ok_or_else(|| MailError::Template {
        template: t.txt_name,
        problem: "a blank line must follow the subject line".to_owned(),
    })?;
    let subject = fill(t.txt_name, subject_line, allowed, vars, false)?;
    // A line break in a value would otherwise end the Subject header early.
    if subject.contains(['\r', '\n']) {
        return Err(MailError::Template {
            template: t.txt_name,
            problem: "a value used in the subject contains a line break".to_owned(),
        });
    }
    Ok(Rendered {
        subject: subject.trim().to_owned(),
        text: fill(t.txt_name, body, allowed, vars, false)?,
        html: fill(t.html_name, t.html, allowed, vars, true)?,
    })
}

/// Replaces each `{{name}}` in `src` by its value. One pass: a value that itself contains
/// `{{...}}` is copied as is, so submitter-supplied text can never pull in other variables.
fn fill(template: &'static str, src: &str, allowed: &[&str], vars: &Vars, html: bool) -> Result<String, MailError> {
    let mut out = String::with_capacity(src.len() + 256);
    let mut rest = src;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(MailError::Template { template, problem: "a `{{` is never closed by `}}`".to_owned() });
        };
        let name = after[..close].trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(MailError::Template {
                template,
                problem: format!("malformed placeholder `{{{{{}}}}}`", &after[..close]),
            });
        }
        if !allowed.contains(&name) {
            return Err(MailError::UnknownPlaceholder { template, placeholder: name.to_owned() });
        }
        let Some(value) = vars.get(name) else {
            return Err(MailError::MissingValue { template, placeholder: name.to_owned() });
        };
        if html {
            escape_html(value, &mut out);
        } else {
            out.push_str(value);
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn escape_html(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// One message to one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    /// A mailbox: `ops@example.org` or `Ops Team <ops@example.org>`.
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain SMTP: only for a relay on the same host or a trusted network.
    #[default]
    None,
    /// Plain connection upgraded with STARTTLS, which is required (usually port 587).
    StartTls,
    /// TLS from the first byte ("implicit TLS", usually port 465).
    Tls,
}

/// The `[smtp]` section of the configuration.
///
/// ```toml
/// [smtp]
/// host = "smtp.example.org"
/// port = 587
/// from = "HETS Help Desk <hets@example.org>"
/// security = "starttls"   # "none" | "starttls" | "tls"
/// username = "hets"
/// password = "..."
/// timeout_secs = 30
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// The From mailbox, for example `HETS Help Desk <hets@example.org>`.
    pub from: String,
    pub security: SmtpSecurity,
    /// Both or neither: AUTH is used only when both are set.
    pub username: Option<String>,
    pub password: Option<String>,
    /// Per SMTP command; written as whole seconds (`timeout_secs`), like the other timeouts
    /// of the configuration file.
    #[serde(rename = "timeout_secs", deserialize_with = "seconds")]
    pub timeout: Duration,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "localhost".to_owned(),
            port: 25,
            from: "openhets <hets@localhost>".to_owned(),
            security: SmtpSecurity::None,
            username: None,
            password: None,
            timeout: Duration::from_secs(30),
        }
    }
}

// By hand, so that the password never reaches a log line.
impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_secs)
}

/// Why a notice could not be rendered or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("email template {template}: placeholder `{{{{{placeholder}}}}}` is not a variable of this notice")]
    UnknownPlaceholder { template: &'static str, placeholder: String },
    #[error("email template {template}: no value for placeholder `{{{{{placeholder}}}}}`")]
    MissingValue { template: &'static str, placeholder: String },
    #[error("email template {template}: {problem}")]
    Template { template: &'static str, problem: String },
    #[error("invalid {field} address {address:?}: {source}")]
    Address {
        /// `from` or `to`.
        field: &'static str,
        address: String,
        source: lettre::address::AddressError,
    },
    #[error("SMTP configuration: {0}")]
    Config(String),
    #[error("building the message to {to:?}: {source}")]
    Build { to: String, source: lettre::error::Error },
    #[error("SMTP server {server} ({kind}): {source}", kind = if *.permanent { "permanent" } else { "transient" })]
    Smtp {
        /// `host:port`.
        server: String,
        /// The server answered 5xx: sending the same message again would fail the same way.
        permanent: bool,
        source: lettre::transport::smtp::Error,
    },
}

impl MailError {
    /// True when retrying the same message cannot help: the outbox marks it failed at once
    /// instead of backing off. Network failures, timeouts, TLS failures and 4xx answers are
    /// transient.
    pub fn is_permanent(&self) -> bool {
        match self {
            MailError::Smtp { permanent, .. } => *permanent,
            // Rendering and addressing depend only on the stored message and the build.
            MailError::UnknownPlaceholder { .. }
            | MailError::MissingValue { .. }
            | MailError::Template { .. }
            | MailError::Address { .. }
            | MailError::Build { .. }
            | MailError::Config(_) => true,
        }
    }
}

/// SMTP submission through lettre's blocking transport; run [`Mailer::send`] on a blocking
/// thread. Each send opens its own connection, so one failure never poisons the next.
#[derive(Clone)]
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    server: String,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Checks the configuration (From address, credentials, TLS parameters); connects only
    /// when sending.
    pub fn new(config: &SmtpConfig) -> Result<Mailer, MailError> {
        let from: Mailbox = config.from.parse().map_err(|source| MailError::Address {
            field: "from",
            address: config.from.clone(),
            source,
        })?;
        if config.host.trim().is_empty() {
            return Err(MailError::Config("smtp.host is empty".to_owned()));
        }
        let tls = |what: &str| {
            TlsParameters::new(config.host.clone())
                .map_err(|e| MailError::Config(format!("{what} to {}: {e}", config.host)))
        };
        let tls = match config.security {
            SmtpSecurity::None => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls("STARTTLS")?),
            SmtpSecurity::Tls => Tls::Wrapper(tls("TLS")?),
        };
        let mut builder = SmtpTransport::builder_dangerous(config.host.as_str())
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout));
        match (&config.username, &config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            }
            (None, None) => {}
            _ => {
                return Err(MailError::Config("smtp.username and smtp.password must be set together".to_owned()));
            }
        }
        Ok(Mailer { transport: builder.build(), from, server: format!("{}:{}", config.host, config.port) })
    }

    /// The From mailbox of every message.
    pub fn from_mailbox(&self) -> &Mailbox {
        &self.from
    }

    /// Sends one multipart/alternative message (plain text, then HTML) with a fresh
    /// Message-ID.
    pub fn send(&self, email: &Email) -> Result<(), MailError> {
        self.deliver(email, None)
    }

    /// Like [`Mailer::send`], with the Message-ID `<{local}@{from's domain}>`. The outbox
    /// delivers at least once; giving every attempt of one outbox row the same id (say
    /// `hets-outbox-42`) lets mail systems and readers recognise a resend as the same message.
    /// `local` may hold ASCII letters, digits, `.`, `-` and `_`.
    pub fn send_with_id(&self, email: &Email, local: &str) -> Result<(), MailError> {
        let valid = !local.is_empty()
            && !local.starts_with('.')
            && !local.ends_with('.')
            && local.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return Err(MailError::Config(format!("invalid Message-ID local part {local:?}")));
        }
        let id = format!("<{local}@{}>", self.from.email.domain());
        self.deliver(email, Some(id))
    }

    fn deliver(&self, email: &Email, message_id: Option<String>) -> Result<(), MailError> {
        let to: Mailbox =
            email.to.parse().map_err(|source| MailError::Address { field: "to", address: email.to.clone(), source })?;
        let body = MultiPart::alternative()
            .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(email.text.clone()))
            .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(email.html.clone()));
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.as_str())
            .message_id(message_id)
            .multipart(body)
            .map_err(|source| MailError::Build { to: email.to.clone(), source })?;
        self.transport.send(&message).map(|_| ()).map_err(|source| MailError::Smtp {
            server: self.server.clone(),
            permanent: source.is_permanent(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variables every notice takes.
    const COMMON: [&str; 3] = ["submitter_name", "submitter_id", "helpdesk"];

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_placeholder_outside_the_kinds_variables_is_named() {
        let err = fill(
            "x.txt",
            "Dear {{submitter_name}}, {{mbi}}",
            &["submitter_name"],
            &vars(&[("submitter_name", "A")]),
            false,
        )
        .err();
        assert!(
            matches!(&err, Some(MailError::UnknownPlaceholder { template: "x.txt", placeholder }) if placeholder == "mbi"),
            "{err:?}"
        );
    }

    #[test]
    fn malformed_and_unclosed_placeholders_are_errors() {
        for src in ["{{ Bad }}", "{{}}", "{{name"] {
            let err = fill("x.html", src, &["name"], &vars(&[("name", "v")]), true).err();
            assert!(matches!(err, Some(MailError::Template { template: "x.html", .. })), "{src}: {err:?}");
        }
    }

    #[test]
    fn values_are_inserted_once_and_escaped_only_in_html() {
        let v = vars(&[("a", "<b>{{b}}</b>"), ("b", "x")]);
        let allowed = ["a", "b"];
        assert_eq!(fill("t.txt", "[{{a}}] [{{ b }}]", &allowed, &v, false).ok().as_deref(), Some("[<b>{{b}}</b>] [x]"));
        assert_eq!(fill("t.html", "[{{a}}]", &allowed, &v, true).ok().as_deref(), Some("[&lt;b&gt;{{b}}&lt;/b&gt;]"));
    }

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        let secs: Vec<u64> = (0..=MAX_ATTEMPTS + 2).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs[..9], [30, 30, 60, 120, 240, 480, 960, 1920, 3600]);
        assert!(secs[9..].iter().all(|&s| s == 3600));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(3600));
    }

    #[test]
    fn every_kind_takes_the_common_variables() {
        for kind in NoticeKind::ALL {
            for v in COMMON {
                assert!(variables(kind).contains(&v), "{kind} lacks {v}");
            }
        }
    }

    #[test]
    fn html_escaping() {
        let mut out = String::new();
        escape_html(r#"A&B <x> "q" 'a'"#, &mut out);
        assert_eq!(out, "A&amp;B &lt;x&gt; &quot;q&quot; &#39;a&#39;");
    }
}
