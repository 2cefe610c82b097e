//! What the HETS Desktop (HDT) and its help-desk console keep (migration 0004): desktop users
//! and their sessions, submitter profiles, provider attestations, HDT freeze windows (D12),
//! release bulletins and a few operator settings.
//!
//! As with the compliance tables, the store keeps rows, not rules: who may see what, NPI checks
//! and freeze windows are the desktop service's business (`server::desktop`). The one rule kept
//! here is the sign-in lockout, because its counters must change atomically with the check.

use eligibility::Instant;
use x12::Date;

use crate::{Relationship, StoreError};

/// Wrong passwords in a row that lock a desktop account.
pub const LOCKOUT_ATTEMPTS: u32 = 5;
/// How long a locked account stays locked (an administrator may unlock it earlier).
pub const LOCKOUT_SECONDS: i64 = 30 * 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DesktopRole {
    /// Acts for one submitter only.
    Submitter,
    /// The help desk: acts on every submitter.
    Admin,
    /// A provider, bound to one NPI: attests or revokes its vendor relationships (domain §5.6).
    Provider,
}

impl DesktopRole {
    pub fn as_str(self) -> &'static str {
        match self {
            DesktopRole::Submitter => "submitter",
            DesktopRole::Admin => "admin",
            DesktopRole::Provider => "provider",
        }
    }

    pub fn parse(s: &str) -> Option<DesktopRole> {
        match s {
            "submitter" => Some(DesktopRole::Submitter),
            "admin" => Some(DesktopRole::Admin),
            "provider" => Some(DesktopRole::Provider),
            _ => None,
        }
    }
}

/// A desktop account, without its password.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DesktopUser {
    pub username: String,
    pub role: DesktopRole,
    /// The submitter a submitter user acts for; `None` for the other roles.
    pub submitter: Option<String>,
    /// The NPI a provider user acts for; `None` for the other roles.
    pub npi: Option<String>,
    pub failed_attempts: u32,
    pub locked_until: Option<Instant>,
    pub created: Instant,
}

/// A desktop account to create or replace (the password is hashed by the store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDesktopUser {
    pub username: String,
    pub role: DesktopRole,
    pub submitter: Option<String>,
    /// The NPI of a provider user (format checked here, enrollment by the desktop service).
    pub npi: Option<String>,
    pub password: String,
}

/// The outcome of a sign-in attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    Ok(DesktopUser),
    /// Unknown user or wrong password (the two are not told apart).
    Wrong,
    /// Locked after too many wrong passwords, until this instant.
    Locked {
        until: Instant,
    },
}

/// A signed-in session. Only a hash of the session token is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub username: String,
    /// The token state-changing browser requests must echo (`X-CSRF-Token`).
    pub csrf: String,
    pub created: Instant,
    pub last_seen: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionMethod {
    Soap,
    Mime,
    Both,
}

impl ConnectionMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionMethod::Soap => "soap",
            ConnectionMethod::Mime => "mime",
            ConnectionMethod::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<ConnectionMethod> {
        match s {
            "soap" => Some(ConnectionMethod::Soap),
            "mime" => Some(ConnectionMethod::Mime),
            "both" => Some(ConnectionMethod::Both),
            _ => None,
        }
    }
}

/// What the help desk keeps of a submitter beyond its real-time credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitterProfile {
    pub submitter: String,
    /// Trading partner agreement signed on.
    pub tpa_date: Option<Date>,
    /// Rules of Behavior acknowledged on.
    pub rob_date: Option<Date>,
    pub connection: ConnectionMethod,
    /// Subject of the client certificate it connects with (mutual TLS), if any.
    pub certificate_subject: Option<String>,
}

/// A new trading partner, created with its profile in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSubmitter {
    pub id: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub profile: SubmitterProfile,
}

/// One page of a submitter's relationships.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationshipPage {
    pub items: Vec<Relationship>,
    /// How many match the search in all.
    pub total: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationState {
    Attested,
    Revoked,
}

impl AttestationState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttestationState::Attested => "attested",
            AttestationState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<AttestationState> {
        match s {
            "attested" => Some(AttestationState::Attested),
            "revoked" => Some(AttestationState::Revoked),
            _ => None,
        }
    }
}

/// A provider's word on one vendor relationship (domain §5.6): the NPI attests (or revokes) that
/// the submitter transacts for it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Attestation {
    pub npi: String,
    pub submitter: String,
    pub state: AttestationState,
    pub at: Instant,
}

/// An HDT freeze window (D12): relationship changes are refused from `starts` until `ends`
/// (excluded); sign-in keeps working.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreezeWindow {
    /// The store's id (ignored when adding).
    pub id: i64,
    pub starts: Instant,
    pub ends: Instant,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    All,
    /// Submitters connecting by SOAP (or both).
    Soap,
    /// Submitters connecting by MIME (or both).
    Mime,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::All => "all",
            Audience::Soap => "soap",
            Audience::Mime => "mime",
        }
    }

    pub fn parse(s: &str) -> Option<Audience> {
        match s {
            "all" => Some(Audience::All),
            "soap" => Some(Audience::Soap),
            "mime" => Some(Audience::Mime),
            _ => None,
        }
    }

    /// True when a submitter connecting by `method` is in this audience.
    pub fn includes(self, method: ConnectionMethod) -> bool {
        match self {
            Audience::All => true,
            Audience::Soap => method != ConnectionMethod::Mime,
            Audience::Mime => method != ConnectionMethod::Soap,
        }
    }
}

/// One HDT Batch upload's result file (D16), kept with the upload's relationship changes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BatchResult {
    /// The store's id (ignored when writing).
    pub id: i64,
    pub submitter: String,
    /// Who uploaded it.
    pub username: String,
    /// The uploaded file's name.
    pub file_name: String,
    /// `<stem>_RESULTS.csv`.
    pub result_name: String,
    pub at: Instant,
    pub accepted: u32,
    pub rejected: u32,
    /// The result file (empty in listings, which leave it out).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub result_csv: String,
}

/// A release bulletin: composed, scheduled, then sent (queued in the outbox) once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bulletin {
    /// The store's id (ignored when adding).
    pub id: i64,
    pub release: String,
    pub title: String,
    pub body: String,
    pub audience: Audience,
    pub scheduled: Instant,
    pub sent: Option<Instant>,
}

/// Which facts let a submitter inquire for an NPI (domain §5.6: CMS ran the vendor-declared and
/// the provider-attested systems in parallel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationshipRule {
    /// The submitter's declared (HDT) relationship, as before attestation.
    #[default]
    Declared,
    /// The provider's attestation of the vendor.
    Attested,
    /// Both.
    Both,
}

impl RelationshipRule {
    /// The settings key it is stored under.
    pub const SETTING: &'static str = "relationship_rule";

    pub fn as_str(self) -> &'static str {
        match self {
            RelationshipRule::Declared => "declared",
            RelationshipRule::Attested => "attested",
            RelationshipRule::Both => "both",
        }
    }

    pub fn parse(s: &str) -> Option<RelationshipRule> {
        match s {
            "declared" => Some(RelationshipRule::Declared),
            "attested" => Some(RelationshipRule::Attested),
            "both" => Some(RelationshipRule::Both),
            _ => None,
        }
    }
}

/// A fresh session or CSRF token: 256 random bits from the operating system, as hex.
pub fn new_token() -> Result<String, StoreError> {
    use argon2::password_hash::rand_core::{OsRng, RngCore};
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| StoreError::Password(format!("no randomness: {e}")))?;
    Ok(hex(&bytes))
}

/// The hash a session token is kept under. Tokens carry 256 random bits, so a fast hash is
/// enough: there is nothing to guess by brute force.
pub fn token_hash(token: &str) -> String {
    use blake2::{Blake2b512, Digest};
    let digest = Blake2b512::digest(token.as_bytes());
    hex(&digest[..32])
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

pub(crate) fn check_submitter_user(u: &NewDesktopUser) -> Result<(), StoreError> {
    if u.username.trim().is_empty() {
        return Err(StoreError::invalid("desktop user", "the username is empty"));
    }
    // The same binding the table's CHECK constraints hold, said in words before the database
    // says it in SQL.
    if (u.role == DesktopRole::Submitter) != u.submitter.is_some() {
        return Err(StoreError::invalid(
            "desktop user",
            "a submitter user needs a submitter id; other users have none",
        ));
    }
    if (u.role == DesktopRole::Provider) != u.npi.is_some() {
        return Err(StoreError::invalid("desktop user", "a provider user needs an NPI; other users have none"));
    }
    if let Some(npi) = &u.npi
        && (npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(StoreError::invalid("desktop user", "a provider user's NPI is 10 digits"));
    }
    Ok(())
}

/// The lockout rule: the state after one attempt. `ok` is whether the password matched.
/// Returns (failed attempts, locked until, the answer).
pub(crate) fn after_attempt(user: &DesktopUser, ok: bool, now: Instant) -> (u32, Option<Instant>, SignIn) {
    if let Some(until) = user.locked_until.filter(|u| *u > now) {
        // A locked account does not even look at the password: no guessing while locked.
        return (user.failed_attempts, Some(until), SignIn::Locked { until });
    }
    // A lock that has run out starts the count again.
    let failed = if user.locked_until.is_some() { 0 } else { user.failed_attempts };
    if ok {
        let mut u = user.clone();
        u.failed_attempts = 0;
        u.locked_until = None;
        return (0, None, SignIn::Ok(u));
    }
    let failed = failed + 1;
    if failed >= LOCKOUT_ATTEMPTS {
        let until = Instant::from_unix(now.unix_seconds + LOCKOUT_SECONDS);
        (failed, Some(until), SignIn::Locked { until })
    } else {
        (failed, None, SignIn::Wrong)
    }
}
