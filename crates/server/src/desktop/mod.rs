//! The HETS Desktop (HDT) service: what submitter users and the help desk do by hand, shared by
//! the JSON admin API ([`api`]) and the console pages built on top of it.
//!
//! Every operation takes the acting [`Principal`] and enforces authorisation itself: a submitter
//! user sees and changes its own submitter's data only, and asking for another submitter's
//! data answers exactly as for a submitter that does not exist ([`DesktopError::NotFound`]), so
//! nothing is revealed. Help-desk operations refuse submitter users ([`DesktopError::Forbidden`]).
//! A provider user is bound to one NPI: it attests or revokes that NPI's vendor relationships
//! and reads them, and nothing else (a submitter's data and the help desk's refuse it, 403).
//! The service is synchronous (the store is): the API calls it on blocking threads.
//!
//! Every relationship change (screen, batch, API) is refused during an HDT freeze window (D12),
//! with the window's end in the message; signing in keeps working.

pub mod api;
pub mod batch;
pub mod lookup;
pub mod pages;

use compliance::mail::{self, NoticeKind, Vars};
use compliance::{CapForm, Clock, Compliance, ComplianceError, SubmitterEvent, service::when};
use eligibility::{Enrollment, Instant, Releases, SubmitterStatus};
use std::sync::Arc;
use store::desktop::{new_token, token_hash};
use store::{
    Attestation, AttestationState, Audience, AuditRecord, Bulletin, Cap, ConnectionMethod, DesktopRole, DesktopUser,
    FreezeWindow, MaintenanceWindow, NewDesktopUser, NewSubmitter, OutboxMessage, Relationship, RelationshipPage,
    RelationshipRule, RelationshipStatus, Session, SignIn, StatusChange, Store, StoreError, Submitter,
    SubmitterProfile,
};
use x12::Date;

/// A session unused this long is over (sign in again).
pub const IDLE_TIMEOUT_SECONDS: i64 = 30 * 60;
/// The largest page of relationships one call returns.
pub const MAX_PAGE: u32 = 500;

/// Who acts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// A submitter user, bound to one submitter id.
    Submitter { username: String, submitter: String },
    /// A help-desk administrator.
    Admin { username: String },
    /// A provider user, bound to one NPI (domain §5.6: the provider attests its vendors).
    Provider { username: String, npi: String },
}

impl Principal {
    pub fn username(&self) -> &str {
        match self {
            Principal::Submitter { username, .. }
            | Principal::Admin { username }
            | Principal::Provider { username, .. } => username,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Admin { .. })
    }

    pub fn role(&self) -> DesktopRole {
        match self {
            Principal::Submitter { .. } => DesktopRole::Submitter,
            Principal::Admin { .. } => DesktopRole::Admin,
            Principal::Provider { .. } => DesktopRole::Provider,
        }
    }

    fn of(user: &DesktopUser) -> Result<Principal, DesktopError> {
        match (user.role, &user.submitter) {
            (DesktopRole::Admin, _) => Ok(Principal::Admin { username: user.username.clone() }),
            (DesktopRole::Submitter, Some(s)) => {
                Ok(Principal::Submitter { username: user.username.clone(), submitter: s.clone() })
            }
            (DesktopRole::Submitter, None) => Err(DesktopError::Forbidden("this account has no submitter".into())),
            (DesktopRole::Provider, _) => match &user.npi {
                Some(npi) => Ok(Principal::Provider { username: user.username.clone(), npi: npi.clone() }),
                None => Err(DesktopError::Forbidden("this account has no NPI".into())),
            },
        }
    }
}

/// Why an operation was refused. Messages are for the person at the screen; none carries PHI.
#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    /// No session, an expired session, or a wrong password.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong (an invalid NPI, a date, a file name…).
    #[error("{0}")]
    Invalid(String),
    /// The state does not allow it (a relationship that exists already, an HDT freeze…).
    #[error("{0}")]
    Conflict(String),
    /// The account is locked after too many wrong passwords.
    #[error("the account is locked after too many wrong passwords until {}", when(*until))]
    Locked { until: Instant },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Compliance(ComplianceError),
}

impl From<ComplianceError> for DesktopError {
    fn from(e: ComplianceError) -> DesktopError {
        match e {
            ComplianceError::NotFound(m) => DesktopError::NotFound(m),
            ComplianceError::Refused(m) => DesktopError::Conflict(m),
            ComplianceError::Store(s) => DesktopError::Store(s),
            other => DesktopError::Compliance(other),
        }
    }
}

/// A new session: the token (sent back as a bearer token) and the CSRF token.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SignedIn {
    pub token: String,
    pub csrf_token: String,
    pub username: String,
    pub role: DesktopRole,
    pub submitter: Option<String>,
    /// The NPI a provider user acts for.
    pub npi: Option<String>,
    pub idle_timeout_seconds: i64,
}

/// A submitter's standing as its users see it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StatusView {
    pub submitter: String,
    pub name: String,
    /// `active`, `suspended`, `terminated` or `permanently_terminated`.
    pub status: String,
    /// The latest reason for the standing, from the compliance history.
    pub why: Option<String>,
    /// When a timed suspension ends; `null` otherwise.
    pub until: Option<Instant>,
    /// What lifts it, in words.
    pub until_text: Option<String>,
    pub suspensions: u16,
    pub terminations: u16,
    /// The latest audits, newest first, with their figures.
    pub audits: Vec<AuditView>,
    pub caps: Vec<Cap>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct AuditView {
    pub period: String,
    pub at: Instant,
    pub npi_verdict: String,
    pub aaa_verdict: String,
    pub figures: serde_json::Value,
    pub actions: String,
}

impl From<AuditRecord> for AuditView {
    fn from(a: AuditRecord) -> AuditView {
        AuditView {
            period: a.period,
            at: a.at,
            npi_verdict: a.npi_verdict,
            aaa_verdict: a.aaa_verdict,
            figures: serde_json::from_str(&a.figures).unwrap_or(serde_json::Value::Null),
            actions: a.actions,
        }
    }
}

/// A relationship as the desktop shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RelationshipView {
    pub npi: String,
    pub status: RelationshipStatus,
    pub effective_date: String,
    pub end_date: Option<String>,
}

impl From<&Relationship> for RelationshipView {
    fn from(r: &Relationship) -> RelationshipView {
        RelationshipView {
            npi: r.npi.clone(),
            status: r.status,
            effective_date: r.effective.to_string(),
            end_date: r.end.map(|d| d.to_string()),
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct RelationshipList {
    pub submitter: String,
    pub total: u64,
    pub offset: u32,
    pub limit: u32,
    pub items: Vec<RelationshipView>,
}

/// A provider's attestations and the relationship rule they count under.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProviderAttestations {
    pub npi: String,
    /// The provider's name in the enrollment registry, when it is there.
    pub name: Option<String>,
    pub attestations: Vec<Attestation>,
    pub rule: RelationshipRule,
}

/// What a relationship rule asks of a 270, in words (the pages show it next to the rule).
pub fn rule_meaning(rule: RelationshipRule) -> &'static str {
    match rule {
        RelationshipRule::Declared => {
            "A 270 is answered when the submitter has declared a relationship with the NPI in HDT, active on the inquiry date. Attestations are kept but not needed."
        }
        RelationshipRule::Attested => {
            "A 270 is answered when the provider has attested the submitter as its vendor. The submitter's declared relationship is not needed."
        }
        RelationshipRule::Both => {
            "A 270 is answered only when the submitter has declared an active relationship with the NPI and the provider has attested the submitter."
        }
    }
}

/// A submitter with its profile, for the help desk.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SubmitterView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: String,
    pub suspended_until: Option<Instant>,
    pub tpa_date: Option<String>,
    pub rob_date: Option<String>,
    pub connection: ConnectionMethod,
    pub certificate_subject: Option<String>,
}

/// What the help desk fills in to create a submitter.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct NewSubmitterForm {
    pub id: String,
    pub name: String,
    pub email: String,
    pub password: String,
    /// `YYYY-MM-DD`.
    pub tpa_date: String,
    /// `YYYY-MM-DD`.
    pub rob_date: String,
    pub connection: ConnectionMethod,
    #[serde(default)]
    pub certificate_subject: Option<String>,
    /// Also create a desktop user of this name for the submitter, with the same password.
    #[serde(default)]
    pub desktop_username: Option<String>,
}

/// A help-desk action on a submitter's standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StandingAction {
    /// Suspends for `hours` (default 24).
    Suspend,
    Reinstate,
    Terminate,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct WindowView {
    pub id: i64,
    pub starts: Instant,
    pub ends: Instant,
    pub reason: String,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct BulletinView {
    pub id: i64,
    pub release: String,
    pub title: String,
    pub body: String,
    pub audience: Audience,
    pub scheduled: Instant,
    pub sent: Option<Instant>,
}

impl From<Bulletin> for BulletinView {
    fn from(b: Bulletin) -> BulletinView {
        BulletinView {
            id: b.id,
            release: b.release,
            title: b.title,
            body: b.body,
            audience: b.audience,
            scheduled: b.scheduled,
            sent: b.sent,
        }
    }
}

/// The HDT Batch naming convention in force and the release that set it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BatchConvention {
    pub pattern: String,
    /// `null` when no release names one (the convention before R2020Q100).
    pub release: Option<String>,
    pub example: String,
}

pub struct DesktopService {
    store: Arc<dyn Store>,
    compliance: Arc<Compliance>,
    clock: Arc<dyn Clock>,
    releases: Releases,
    helpdesk: String,
}

impl DesktopService {
    pub fn new(
        store: Arc<dyn Store>,
        compliance: Arc<Compliance>,
        clock: Arc<dyn Clock>,
        releases: Releases,
        helpdesk: impl Into<String>,
    ) -> DesktopService {
        DesktopService { store, compliance, clock, releases, helpdesk: helpdesk.into() }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    // Sessions.

    /// Signs in: a new session with its CSRF token. A wrong password and an unknown user are
    /// the same [`DesktopError::Unauthorized`]; the fifth wrong password in a row locks the
    /// account for 30 minutes ([`DesktopError::Locked`]).
    pub fn sign_in(&self, username: &str, password: &str) -> Result<SignedIn, DesktopError> {
        let now = self.now();
        match self.store.verify_desktop_user(username, password, now)? {
            SignIn::Ok(user) => {
                let principal = Principal::of(&user)?;
                let token = new_token()?;
                let csrf = new_token()?;
                self.store.create_session(&Session {
                    token_hash: token_hash(&token),
                    username: user.username.clone(),
                    csrf: csrf.clone(),
                    created: now,
                    last_seen: now,
                })?;
                tracing::info!(user = %user.username, admin = principal.is_admin(), "desktop sign-in");
                Ok(SignedIn {
                    token,
                    csrf_token: csrf,
                    username: user.username,
                    role: user.role,
                    submitter: user.submitter,
                    npi: user.npi,
                    idle_timeout_seconds: IDLE_TIMEOUT_SECONDS,
                })
            }
            SignIn::Wrong => Err(DesktopError::Unauthorized("wrong username or password".into())),
            SignIn::Locked { until } => {
                tracing::warn!(user = %username, "desktop sign-in refused: account locked");
                Err(DesktopError::Locked { until })
            }
        }
    }

    /// The principal of a session token, and its CSRF token; refreshes the idle timer. An
    /// unknown, signed-out or idle session is [`DesktopError::Unauthorized`].
    pub fn authenticate(&self, token: &str) -> Result<(Principal, String), DesktopError> {
        let expired = || DesktopError::Unauthorized("no session or the session has expired; sign in again".into());
        let now = self.now();
        let hash = token_hash(token);
        let session = self.store.session(&hash)?.ok_or_else(expired)?;
        if now.unix_seconds - session.last_seen.unix_seconds > IDLE_TIMEOUT_SECONDS {
            self.store.delete_session(&hash)?;
            return Err(expired());
        }
        let user = self.store.desktop_user(&session.username)?.ok_or_else(expired)?;
        let principal = Principal::of(&user)?;
        self.store.touch_session(&hash, now)?;
        Ok((principal, session.csrf))
    }

    pub fn sign_out(&self, token: &str) -> Result<(), DesktopError> {
        self.store.delete_session(&token_hash(token))?;
        Ok(())
    }

    // Authorisation.

    /// The submitter `id` if `p` may act on it. Another submitter's id answers as an unknown
    /// one would.
    fn submitter_for(&self, p: &Principal, id: &str) -> Result<Submitter, DesktopError> {
        let not_found = || DesktopError::NotFound(format!("no submitter {id}"));
        match p {
            Principal::Submitter { submitter, .. } if submitter != id => return Err(not_found()),
            // Refused whatever the id, so the answer tells a provider nothing about submitters.
            Principal::Provider { .. } => {
                return Err(DesktopError::Forbidden("this is for submitter users and the help desk".into()));
            }
            _ => {}
        }
        self.store.submitter(id)?.ok_or_else(not_found)
    }

    fn admin(&self, p: &Principal) -> Result<String, DesktopError> {
        match p {
            Principal::Admin { username } => Ok(username.clone()),
            Principal::Submitter { .. } | Principal::Provider { .. } => {
                Err(DesktopError::Forbidden("this is for help-desk administrators".into()))
            }
        }
    }

    /// May `p` attest for (and read the attestations of) `npi`? The help desk for any NPI (it
    /// records what the MAC or CEDI enrollment received), a provider user for its own only.
    /// NPIs are public (NPPES), so refusing another one with 403 reveals nothing.
    fn attester_for(&self, p: &Principal, npi: &str) -> Result<(), DesktopError> {
        match p {
            Principal::Admin { .. } => Ok(()),
            Principal::Provider { npi: own, .. } if own == npi => Ok(()),
            Principal::Provider { npi: own, .. } => Err(DesktopError::Forbidden(format!(
                "a provider user attests for its own NPI ({own}) only, not for {npi}"
            ))),
            Principal::Submitter { .. } => Err(DesktopError::Forbidden(
                "vendor relationships are attested by the provider (or recorded by the help desk), not by the vendor"
                    .into(),
            )),
        }
    }

    // Status.

    /// A submitter's standing, why, until when, its latest audits and its CAPs.
    pub fn status(&self, p: &Principal, id: &str) -> Result<StatusView, DesktopError> {
        let s = self.submitter_for(p, id)?;
        let why =
            self.store.status_changes(Some(id), 50)?.into_iter().find(|c| c.subject == "submitter").map(|c| c.reason);
        let until_text = match (s.status, s.suspended_until) {
            (SubmitterStatus::Active, _) => None,
            (SubmitterStatus::Suspended, Some(u)) => Some(when(u)),
            (SubmitterStatus::PermanentlyTerminated, _) => Some("never: the termination is permanent".into()),
            _ => Some("a corrective action plan is accepted".into()),
        };
        let mut audits = self.store.audit_records(Some(id), "0000", "9999")?;
        audits.reverse();
        audits.truncate(14);
        Ok(StatusView {
            submitter: s.id.clone(),
            name: s.name.clone(),
            status: status_text(s.status).into(),
            why,
            until: s.suspended_until,
            until_text,
            suspensions: s.suspensions,
            terminations: s.terminations,
            audits: audits.into_iter().map(AuditView::from).collect(),
            caps: self.store.caps(Some(id))?,
        })
    }

    // Relationships.

    pub fn relationships(
        &self,
        p: &Principal,
        id: &str,
        search: &str,
        offset: u32,
        limit: u32,
    ) -> Result<RelationshipList, DesktopError> {
        self.submitter_for(p, id)?;
        let limit = limit.clamp(1, MAX_PAGE);
        let RelationshipPage { items, total } = self.store.search_relationships(id, search, offset, limit)?;
        Ok(RelationshipList {
            submitter: id.to_string(),
            total,
            offset,
            limit,
            items: items.iter().map(RelationshipView::from).collect(),
        })
    }

    /// Checks an NPI before a relationship is saved: format, check digit, Medicare enrollment.
    pub fn check_npi(&self, npi: &str) -> Result<(), DesktopError> {
        if let Some(m) = npi_format_problem(npi) {
            return Err(DesktopError::Invalid(m));
        }
        let provider = self.store.provider(npi)?;
        if let Some(m) = enrollment_problem(npi, provider.as_ref().map(|p| p.medicare)) {
            return Err(DesktopError::Invalid(m));
        }
        Ok(())
    }

    /// Refuses with the window's end when an HDT freeze (D12) is in force.
    pub fn ensure_not_frozen(&self) -> Result<(), DesktopError> {
        let now = self.now();
        if let Some(w) = self.store.freeze_windows(now)?.into_iter().find(|w| w.starts <= now) {
            return Err(DesktopError::Conflict(freeze_message(&w)));
        }
        Ok(())
    }

    pub fn add_relationship(
        &self,
        p: &Principal,
        id: &str,
        npi: &str,
        effective: &str,
        end: Option<&str>,
    ) -> Result<RelationshipView, DesktopError> {
        self.submitter_for(p, id)?;
        self.ensure_not_frozen()?;
        let (effective, end) = dates(effective, end).map_err(DesktopError::Invalid)?;
        self.check_npi(npi)?;
        if self.store.relationship(id, npi)?.is_some() {
            return Err(DesktopError::Conflict(format!(
                "a relationship with NPI {npi} exists already; edit its dates instead"
            )));
        }
        let r = Relationship {
            submitter: id.to_string(),
            npi: npi.to_string(),
            status: RelationshipStatus::Active,
            effective,
            end,
        };
        self.store.write_relationships(id, std::slice::from_ref(&r), &[])?;
        tracing::info!(user = %p.username(), submitter = id, "relationship added");
        Ok(RelationshipView::from(&r))
    }

    /// Changes the dates of a relationship (its status is the compliance layer's).
    pub fn edit_relationship(
        &self,
        p: &Principal,
        id: &str,
        npi: &str,
        effective: &str,
        end: Option<&str>,
    ) -> Result<RelationshipView, DesktopError> {
        self.submitter_for(p, id)?;
        self.ensure_not_frozen()?;
        let (effective, end) = dates(effective, end).map_err(DesktopError::Invalid)?;
        if let Some(m) = npi_format_problem(npi) {
            return Err(DesktopError::Invalid(m));
        }
        let Some(mut r) = self.store.relationship(id, npi)? else {
            return Err(DesktopError::NotFound(format!("no relationship with NPI {npi}")));
        };
        self.check_npi(npi)?;
        r.effective = effective;
        r.end = end;
        self.store.write_relationships(id, std::slice::from_ref(&r), &[])?;
        tracing::info!(user = %p.username(), submitter = id, "relationship dates edited");
        Ok(RelationshipView::from(&r))
    }

    pub fn delete_relationship(&self, p: &Principal, id: &str, npi: &str) -> Result<(), DesktopError> {
        self.submitter_for(p, id)?;
        self.ensure_not_frozen()?;
        if let Some(m) = npi_format_problem(npi) {
            return Err(DesktopError::Invalid(m));
        }
        if let Some(r) = self.store.relationship(id, npi)?
            && r.status != RelationshipStatus::Active
        {
            // Deleting would lift a compliance suspension by the back door (D15).
            return Err(DesktopError::Conflict(format!(
                "the relationship with NPI {npi} is {}; it cannot be deleted until a CAP is accepted",
                r.status.as_str()
            )));
        }
        if !self.store.delete_relationship(id, npi)? {
            return Err(DesktopError::NotFound(format!("no relationship with NPI {npi}")));
        }
        tracing::info!(user = %p.username(), submitter = id, "relationship deleted");
        Ok(())
    }

    // Provider attestation.

    /// Records a provider's attestation (or its revocation) of a vendor relationship by the
    /// vendor's submitter id: by the provider user of the NPI, or by the help desk as received
    /// through the MAC or CEDI enrollment. A submitter user cannot vouch for itself.
    pub fn attest(
        &self,
        p: &Principal,
        npi: &str,
        submitter: &str,
        attested: bool,
    ) -> Result<Attestation, DesktopError> {
        if let Some(m) = npi_format_problem(npi) {
            return Err(DesktopError::Invalid(m));
        }
        self.attester_for(p, npi)?;
        self.check_npi(npi)?;
        let submitter = submitter.trim();
        if submitter.is_empty() {
            return Err(DesktopError::Invalid("the vendor's submitter id is required".into()));
        }
        // An attestation of a vendor that does not exist would wait silently for one created
        // later under that id; refuse it so the provider sees its typing mistake.
        if self.store.submitter(submitter)?.is_none() {
            return Err(DesktopError::NotFound(format!("no submitter (vendor) {submitter}")));
        }
        let a = Attestation {
            npi: npi.to_string(),
            submitter: submitter.to_string(),
            state: if attested { AttestationState::Attested } else { AttestationState::Revoked },
            at: self.now(),
        };
        self.store.put_attestation(&a)?;
        tracing::info!(user = %p.username(), submitter, state = a.state.as_str(), "attestation recorded");
        Ok(a)
    }

    /// The attestations of an NPI: all of them for the help desk and the NPI's provider user, a
    /// submitter's own for a submitter user; another NPI's refuse a provider user.
    pub fn attestations(&self, p: &Principal, npi: &str) -> Result<Vec<Attestation>, DesktopError> {
        if let Some(m) = npi_format_problem(npi) {
            return Err(DesktopError::Invalid(m));
        }
        if let Principal::Provider { .. } = p {
            self.attester_for(p, npi)?;
        }
        let all = self.store.attestations_of(npi)?;
        Ok(match p {
            Principal::Admin { .. } | Principal::Provider { .. } => all,
            Principal::Submitter { submitter, .. } => all.into_iter().filter(|a| &a.submitter == submitter).collect(),
        })
    }

    /// A provider's page: the NPI's attestations and the rule in force, for the NPI's provider
    /// user and the help desk (a submitter user sees its own through [`Self::attestations`]).
    pub fn provider_attestations(&self, p: &Principal, npi: &str) -> Result<ProviderAttestations, DesktopError> {
        if let Some(m) = npi_format_problem(npi) {
            return Err(DesktopError::Invalid(m));
        }
        self.attester_for(p, npi)?;
        let provider = self.store.provider(npi)?;
        Ok(ProviderAttestations {
            npi: npi.to_string(),
            name: provider.map(|p| match p.first_name {
                Some(first) => format!("{first} {}", p.name),
                None => p.name,
            }),
            attestations: self.store.attestations_of(npi)?,
            rule: self.relationship_rule()?,
        })
    }

    pub fn relationship_rule(&self) -> Result<RelationshipRule, DesktopError> {
        Ok(self.store.setting(RelationshipRule::SETTING)?.and_then(|s| RelationshipRule::parse(&s)).unwrap_or_default())
    }

    /// The rule as the help desk's settings page shows it, with the form to change it (help desk
    /// only; everyone signed in may read the rule itself through [`Self::relationship_rule`]).
    pub fn relationship_rule_setting(&self, p: &Principal) -> Result<RelationshipRule, DesktopError> {
        self.admin(p)?;
        self.relationship_rule()
    }

    /// Sets which facts a 270 needs (the real-time path reads it within a second).
    pub fn set_relationship_rule(&self, p: &Principal, rule: RelationshipRule) -> Result<(), DesktopError> {
        let admin = self.admin(p)?;
        self.store.put_setting(RelationshipRule::SETTING, rule.as_str())?;
        tracing::info!(user = %admin, rule = rule.as_str(), "relationship rule set");
        Ok(())
    }

    // The help desk: submitters.

    pub fn submitters(&self, p: &Principal) -> Result<Vec<SubmitterView>, DesktopError> {
        self.admin(p)?;
        let profiles = self.store.submitter_profiles()?;
        Ok(self
            .store
            .submitters()?
            .into_iter()
            .map(|s| {
                let profile = profiles.iter().find(|pr| pr.submitter == s.id);
                submitter_view(s, profile)
            })
            .collect())
    }

    pub fn submitter(&self, p: &Principal, id: &str) -> Result<SubmitterView, DesktopError> {
        let s = self.submitter_for(p, id)?;
        let profile = self.store.submitter_profile(id)?;
        Ok(submitter_view(s, profile.as_ref()))
    }

    pub fn create_submitter(&self, p: &Principal, form: &NewSubmitterForm) -> Result<SubmitterView, DesktopError> {
        let admin = self.admin(p)?;
        let id = form.id.trim();
        if id.is_empty() || id.len() > 15 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DesktopError::Invalid(
                "the submitter id must be 1 to 15 letters and digits (it is the ISA06 sender id)".into(),
            ));
        }
        for (what, v) in [("name", &form.name), ("email", &form.email)] {
            if v.trim().is_empty() {
                return Err(DesktopError::Invalid(format!("the submitter's {what} is required")));
            }
        }
        if !form.email.contains('@') {
            return Err(DesktopError::Invalid("the email address is not an address".into()));
        }
        if form.password.len() < 12 {
            return Err(DesktopError::Invalid("the password must be at least 12 characters".into()));
        }
        let tpa = Date::parse_iso(&form.tpa_date)
            .ok_or_else(|| DesktopError::Invalid("the TPA date must be a date, YYYY-MM-DD".into()))?;
        let rob = Date::parse_iso(&form.rob_date).ok_or_else(|| {
            DesktopError::Invalid("the Rules of Behavior acknowledgement date must be a date, YYYY-MM-DD".into())
        })?;
        let profile = SubmitterProfile {
            submitter: id.to_string(),
            tpa_date: Some(tpa),
            rob_date: Some(rob),
            connection: form.connection,
            certificate_subject: form.certificate_subject.clone().filter(|s| !s.trim().is_empty()),
        };
        let new = NewSubmitter {
            id: id.to_string(),
            name: form.name.trim().to_string(),
            email: form.email.trim().to_string(),
            password: form.password.clone(),
            profile,
        };
        match self.store.create_submitter(&new) {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(DesktopError::Conflict(format!("the submitter id {id} is taken")));
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(username) = form.desktop_username.as_deref().filter(|u| !u.trim().is_empty()) {
            self.store.put_desktop_user(
                &NewDesktopUser {
                    username: username.trim().to_string(),
                    role: DesktopRole::Submitter,
                    submitter: Some(id.to_string()),
                    npi: None,
                    password: form.password.clone(),
                },
                self.now(),
            )?;
        }
        tracing::info!(user = %admin, submitter = id, "submitter created");
        self.submitter(p, id)
    }

    /// Creates or replaces a desktop user (help desk only).
    pub fn put_user(&self, p: &Principal, user: &NewDesktopUser) -> Result<(), DesktopError> {
        self.admin(p)?;
        if let Some(s) = &user.submitter {
            self.submitter_for(p, s)?;
        }
        if let Some(npi) = &user.npi {
            // A provider user for an NPI Medicare does not know could attest for nothing real.
            self.check_npi(npi)?;
        }
        if user.password.len() < 12 {
            return Err(DesktopError::Invalid("the password must be at least 12 characters".into()));
        }
        self.store.put_desktop_user(user, self.now()).map_err(|e| match e {
            StoreError::Invalid { detail, .. } => DesktopError::Invalid(detail),
            e => e.into(),
        })
    }

    pub fn users(&self, p: &Principal) -> Result<Vec<DesktopUser>, DesktopError> {
        self.admin(p)?;
        Ok(self.store.desktop_users()?)
    }

    pub fn unlock_user(&self, p: &Principal, username: &str) -> Result<(), DesktopError> {
        self.admin(p)?;
        if !self.store.unlock_desktop_user(username)? {
            return Err(DesktopError::NotFound(format!("no desktop user {username}")));
        }
        Ok(())
    }

    /// Suspends (for `hours`, default 24), reinstates or terminates a submitter, with a reason,
    /// through the compliance service (history line and email in one transaction).
    pub fn act(
        &self,
        p: &Principal,
        id: &str,
        action: StandingAction,
        reason: &str,
        hours: Option<u32>,
    ) -> Result<StatusView, DesktopError> {
        let admin = self.admin(p)?;
        self.submitter_for(p, id)?;
        let event = match action {
            StandingAction::Suspend => SubmitterEvent::ManualSuspend {
                until: Instant::from_unix(self.now().unix_seconds + i64::from(hours.unwrap_or(24)) * 3600),
            },
            StandingAction::Reinstate => SubmitterEvent::ManualReinstate,
            StandingAction::Terminate => SubmitterEvent::ManualTerminate,
        };
        self.compliance.act(id, event, reason, &admin)?;
        self.status(p, id)
    }

    // CAPs and audits.

    /// CAPs of one submitter (a submitter user: its own), or of all (help desk, `None`).
    pub fn caps(&self, p: &Principal, id: Option<&str>) -> Result<Vec<Cap>, DesktopError> {
        match id {
            Some(id) => {
                self.submitter_for(p, id)?;
                Ok(self.store.caps(Some(id))?)
            }
            None => {
                self.admin(p)?;
                Ok(self.store.caps(None)?)
            }
        }
    }

    pub fn submit_cap(&self, p: &Principal, id: &str, form: &CapForm) -> Result<Cap, DesktopError> {
        self.submitter_for(p, id)?;
        Ok(self.compliance.submit_cap(id, form, p.username())?)
    }

    pub fn decide_cap(&self, p: &Principal, cap_id: &str, accept: bool, comment: &str) -> Result<Cap, DesktopError> {
        let admin = self.admin(p)?;
        Ok(self.compliance.decide_cap(cap_id, accept, &admin, comment)?)
    }

    /// Audit results over the periods `from..=to` (e.g. `2026-11-01`..`2026-11-30`).
    pub fn audits(
        &self,
        p: &Principal,
        id: Option<&str>,
        from: &str,
        to: &str,
    ) -> Result<Vec<AuditView>, DesktopError> {
        match id {
            Some(id) => {
                self.submitter_for(p, id)?;
            }
            None => {
                self.admin(p)?;
            }
        }
        let rows = self.store.audit_records(id, from, to)?;
        Ok(rows
            .into_iter()
            .map(|a| {
                let sub = a.submitter.clone();
                let mut v = AuditView::from(a);
                if id.is_none() {
                    v.actions = format!("{sub}: {}", v.actions);
                }
                v
            })
            .collect())
    }

    pub fn history(&self, p: &Principal, id: &str, limit: u32) -> Result<Vec<StatusChange>, DesktopError> {
        self.submitter_for(p, id)?;
        Ok(self.store.status_changes(Some(id), limit.clamp(1, 1000))?)
    }

    // Maintenance and HDT freeze windows (D12).

    pub fn maintenance_windows(&self, p: &Principal) -> Result<Vec<WindowView>, DesktopError> {
        self.admin(p)?;
        Ok(self
            .store
            .maintenance_windows(self.now())?
            .into_iter()
            .map(|w| WindowView { id: w.id, starts: w.starts, ends: w.ends, reason: w.reason })
            .collect())
    }

    /// Adds a maintenance window; with `announce`, emails every submitter about it. Returns
    /// its id and the emails queued.
    pub fn add_maintenance(
        &self,
        p: &Principal,
        starts: Instant,
        ends: Instant,
        reason: &str,
        announce: bool,
    ) -> Result<(i64, u32), DesktopError> {
        self.admin(p)?;
        check_window(starts, ends, reason)?;
        let id = self.store.add_maintenance(&MaintenanceWindow { id: 0, starts, ends, reason: reason.to_string() })?;
        let emails = if announce { self.compliance.announce_outage(starts, ends, reason)? } else { 0 };
        Ok((id, emails))
    }

    pub fn delete_maintenance(&self, p: &Principal, id: i64) -> Result<(), DesktopError> {
        self.admin(p)?;
        if !self.store.delete_maintenance(id)? {
            return Err(DesktopError::NotFound(format!("no maintenance window {id}")));
        }
        Ok(())
    }

    /// The HDT freeze windows that are not over (everyone may see them: they explain a refusal).
    pub fn freeze_windows(&self) -> Result<Vec<WindowView>, DesktopError> {
        Ok(self
            .store
            .freeze_windows(self.now())?
            .into_iter()
            .map(|w| WindowView { id: w.id, starts: w.starts, ends: w.ends, reason: w.reason })
            .collect())
    }

    pub fn add_freeze(&self, p: &Principal, starts: Instant, ends: Instant, reason: &str) -> Result<i64, DesktopError> {
        self.admin(p)?;
        check_window(starts, ends, reason)?;
        Ok(self.store.add_freeze(&FreezeWindow { id: 0, starts, ends, reason: reason.to_string() })?)
    }

    pub fn delete_freeze(&self, p: &Principal, id: i64) -> Result<(), DesktopError> {
        self.admin(p)?;
        if !self.store.delete_freeze(id)? {
            return Err(DesktopError::NotFound(format!("no HDT freeze window {id}")));
        }
        Ok(())
    }

    // Releases and bulletins.

    /// The HDT Batch naming convention in force now.
    pub fn batch_convention(&self) -> BatchConvention {
        self.batch_convention_at(self.now())
    }

    pub fn batch_convention_at(&self, at: Instant) -> BatchConvention {
        let (pattern, release) = self.releases.hdt_batch_name(at);
        let example = pattern
            .replace("{ID}", "WDEMO001")
            .replace("{YYYYMMDD}", &at.date().to_string().replace('-', ""))
            .replace("{NNN}", "001");
        BatchConvention { pattern: pattern.to_string(), release: release.map(|r| r.id.clone()), example }
    }

    /// The releases known, by effective instant.
    pub fn releases(&self) -> &Releases {
        &self.releases
    }

    pub fn bulletins(&self, p: &Principal) -> Result<Vec<BulletinView>, DesktopError> {
        self.admin(p)?;
        Ok(self.store.bulletins()?.into_iter().map(BulletinView::from).collect())
    }

    /// Composes a bulletin, to be emailed at `scheduled` (or at once with [`Self::send_bulletin`]).
    pub fn compose_bulletin(
        &self,
        p: &Principal,
        release: &str,
        title: &str,
        body: &str,
        audience: Audience,
        scheduled: Instant,
    ) -> Result<BulletinView, DesktopError> {
        self.admin(p)?;
        for (what, v) in [("release", release), ("title", title), ("body", body)] {
            if v.trim().is_empty() {
                return Err(DesktopError::Invalid(format!("the bulletin's {what} is required")));
            }
        }
        let b = Bulletin {
            id: 0,
            release: release.trim().to_string(),
            title: title.trim().to_string(),
            body: body.to_string(),
            audience,
            scheduled,
            sent: None,
        };
        let id = self.store.add_bulletin(&b)?;
        Ok(BulletinView::from(Bulletin { id, ..b }))
    }

    /// Queues a bulletin's emails to its audience now; returns how many. A bulletin goes out
    /// once: sending it again is [`DesktopError::Conflict`].
    pub fn send_bulletin(&self, p: &Principal, id: i64) -> Result<u32, DesktopError> {
        self.admin(p)?;
        let b = self
            .store
            .bulletins()?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| DesktopError::NotFound(format!("no bulletin {id}")))?;
        self.send(&b)?.ok_or_else(|| DesktopError::Conflict(format!("bulletin {id} was sent already")))
    }

    /// Sends every bulletin whose scheduled instant has come (the API runs this every minute).
    pub fn send_due_bulletins(&self) -> Result<u32, DesktopError> {
        let now = self.now();
        let mut n = 0;
        for b in self.store.bulletins()?.into_iter().filter(|b| b.sent.is_none() && b.scheduled <= now) {
            n += self.send(&b)?.unwrap_or(0);
        }
        Ok(n)
    }

    fn send(&self, b: &Bulletin) -> Result<Option<u32>, DesktopError> {
        let now = self.now();
        let profiles = self.store.submitter_profiles()?;
        let mut emails = Vec::new();
        for s in self.store.submitters()? {
            if s.status == SubmitterStatus::PermanentlyTerminated {
                continue;
            }
            // A submitter without a profile predates the desktop; it may use either door.
            let method = profiles.iter().find(|p| p.submitter == s.id).map_or(ConnectionMethod::Both, |p| p.connection);
            if !b.audience.includes(method) {
                continue;
            }
            let mut vars = Vars::new();
            vars.insert("submitter_name".into(), s.name.clone());
            vars.insert("submitter_id".into(), s.id.clone());
            vars.insert("helpdesk".into(), self.helpdesk.clone());
            vars.insert("release".into(), b.release.clone());
            vars.insert("effective_at".into(), when(b.scheduled));
            vars.insert("summary".into(), format!("{}\n\n{}", b.title, b.body));
            let r = mail::render(NoticeKind::ReleaseBulletin, &vars).map_err(ComplianceError::from)?;
            emails.push(OutboxMessage::new(
                now,
                NoticeKind::ReleaseBulletin.as_str(),
                Some(&s.id),
                &s.email,
                r.subject,
                r.text,
                r.html,
            ));
        }
        let n = emails.len() as u32;
        Ok(self.store.bulletin_sent(b.id, now, &emails)?.then_some(n))
    }

    /// The email outbox, newest first.
    pub fn outbox(&self, p: &Principal, limit: u32) -> Result<Vec<OutboxMessage>, DesktopError> {
        self.admin(p)?;
        Ok(self.store.outbox(limit.clamp(1, 1000))?)
    }
}

fn submitter_view(s: Submitter, profile: Option<&SubmitterProfile>) -> SubmitterView {
    SubmitterView {
        status: status_text(s.status).into(),
        id: s.id,
        name: s.name,
        email: s.email,
        suspended_until: s.suspended_until,
        tpa_date: profile.and_then(|p| p.tpa_date).map(|d| d.to_string()),
        rob_date: profile.and_then(|p| p.rob_date).map(|d| d.to_string()),
        connection: profile.map_or(ConnectionMethod::Both, |p| p.connection),
        certificate_subject: profile.and_then(|p| p.certificate_subject.clone()),
    }
}

fn status_text(s: SubmitterStatus) -> &'static str {
    match s {
        SubmitterStatus::Active => "active",
        SubmitterStatus::Suspended => "suspended",
        SubmitterStatus::Terminated => "terminated",
        SubmitterStatus::PermanentlyTerminated => "permanently_terminated",
    }
}

fn check_window(starts: Instant, ends: Instant, reason: &str) -> Result<(), DesktopError> {
    if ends <= starts {
        return Err(DesktopError::Invalid("the window must end after it starts".into()));
    }
    if reason.trim().is_empty() {
        return Err(DesktopError::Invalid("the window needs a reason (submitters read it)".into()));
    }
    Ok(())
}

/// The refusal during an HDT freeze.
pub fn freeze_message(w: &FreezeWindow) -> String {
    format!(
        "HDT is frozen until {} ({}): relationships cannot be added, edited or deleted until then",
        w.ends, w.reason
    )
}

/// What is wrong with an NPI's form, if anything.
pub fn npi_format_problem(npi: &str) -> Option<String> {
    if npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("NPI `{npi}` is not valid: an NPI is 10 digits"));
    }
    if !eligibility::ids::is_valid_npi(npi.as_bytes()) {
        return Some(format!("NPI {npi} is not valid: its check digit is wrong"));
    }
    None
}

/// What is wrong with an NPI's Medicare enrollment, if anything.
pub fn enrollment_problem(npi: &str, enrollment: Option<Enrollment>) -> Option<String> {
    match enrollment {
        Some(Enrollment::Active) => None,
        None | Some(Enrollment::NotEnrolled) => Some(format!("NPI {npi} is not enrolled in Medicare")),
        Some(Enrollment::Terminated) => Some(format!("NPI {npi}'s Medicare enrollment is terminated")),
        Some(Enrollment::Revoked) => Some(format!("NPI {npi}'s Medicare enrollment is revoked")),
    }
}

/// Parses a relationship's dates: effective required, end optional and not before effective.
pub fn dates(effective: &str, end: Option<&str>) -> Result<(Date, Option<Date>), String> {
    let effective = effective.trim();
    let e = Date::parse_iso(effective)
        .ok_or_else(|| format!("the effective date `{effective}` is not a date (YYYY-MM-DD)"))?;
    let end = match end.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(Date::parse_iso(s).ok_or_else(|| format!("the end date `{s}` is not a date (YYYY-MM-DD)"))?),
    };
    if end.is_some_and(|d| d < e) {
        return Err("the end date is before the effective date".into());
    }
    Ok((e, end))
}
