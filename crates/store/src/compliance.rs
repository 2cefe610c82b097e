//! What the compliance layer keeps (D13–D15): audit records, AAA error-rate cases, corrective
//! action plans, the history of every change of standing, and the email outbox.
//!
//! The store knows rows, not rules: states are the compliance crate's words, kept as text, and
//! every change the compliance layer decides arrives as one [`ComplianceWrite`], applied in one
//! database transaction. That is what keeps a suspension, its history line and its email
//! together: all three are stored, or none.

use eligibility::{Instant, SubmitterStatus};

use crate::RelationshipStatus;

/// A submitter's standing as stored: status, the end of a timed suspension, and the ladder's
/// counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    pub status: SubmitterStatus,
    /// Set for a timed (24-hour) suspension; absent for a suspension until a CAP is accepted.
    pub suspended_until: Option<Instant>,
    pub suspensions: u16,
    pub terminations: u16,
}

/// A change of one submitter's standing, applied only if the stored standing is still `expect`
/// (another node or an administrator may have acted in between).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StandingChange {
    pub submitter: String,
    pub expect: Standing,
    pub to: Standing,
}

/// A change of one relationship's status, applied only if it is still `expect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationshipChange {
    pub submitter: String,
    pub npi: String,
    pub expect: RelationshipStatus,
    pub to: RelationshipStatus,
}

/// The result of one audit of one submitter over one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub submitter: String,
    /// The period's name, e.g. `2026-11-16` for a calendar day (ET).
    pub period: String,
    pub period_start: Instant,
    pub period_end: Instant,
    /// When the audit decided.
    pub at: Instant,
    pub npi_verdict: String,
    pub aaa_verdict: String,
    /// The figures that decided it, as JSON (counts and NPIs only; never an MBI).
    pub figures: String,
    /// What the audit did, in words (`suspended for 24 hours`, `nothing`, …).
    pub actions: String,
}

/// An AAA error-rate case (D14).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AaaCaseRow {
    pub id: String,
    pub submitter: String,
    /// The audit period that opened it.
    pub period: String,
    pub opened: Instant,
    pub deadline: Instant,
    /// `notified`, `cap_submitted`, `closed` or `suspended`.
    pub state: String,
    /// The opening audit's figures, as JSON.
    pub figures: String,
}

/// Inserts a case (`expect` absent) or moves it from the `expect` state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseChange {
    pub case: AaaCaseRow,
    pub expect: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapState {
    Submitted,
    Accepted,
    Rejected,
}

impl CapState {
    pub fn as_str(self) -> &'static str {
        match self {
            CapState::Submitted => "submitted",
            CapState::Accepted => "accepted",
            CapState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<CapState> {
        match s {
            "submitted" => Some(CapState::Submitted),
            "accepted" => Some(CapState::Accepted),
            "rejected" => Some(CapState::Rejected),
            _ => None,
        }
    }
}

/// A corrective action plan, on the help desk's template.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Cap {
    pub id: String,
    pub submitter: String,
    /// What it answers: `submitter` (a termination), `aaa_case:<id>` or `relationship:<npi>`.
    pub subject: String,
    /// The submitter's restatement of its understanding of the Rules of Behavior.
    pub understanding: String,
    /// The specific steps it will take.
    pub steps: String,
    /// The error-rate reduction it expects.
    pub expected_reduction: String,
    pub submitted: Instant,
    pub submitted_by: String,
    pub state: CapState,
    pub decided: Option<Instant>,
    pub decided_by: Option<String>,
    pub comment: Option<String>,
}

/// Inserts a CAP (`expect` absent) or records its decision, if it is still in `expect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapChange {
    pub cap: Cap,
    pub expect: Option<CapState>,
}

/// One line of compliance history.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StatusChange {
    /// The store's id (ignored when writing).
    pub id: i64,
    pub at: Instant,
    pub submitter: String,
    /// `submitter`, `relationship:<npi>`, `aaa_case:<id>` or `cap:<id>`.
    pub subject: String,
    pub from: String,
    pub to: String,
    pub reason: String,
    /// `audit`, `scheduler`, `admin:<user>` or `submitter:<user>`.
    pub actor: String,
}

/// An email waiting in (or delivered from) the outbox.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OutboxMessage {
    /// The store's id (ignored when writing).
    pub id: i64,
    pub created: Instant,
    /// The notice kind (`suspension`, `aaa_notice`, …).
    pub kind: String,
    pub submitter: Option<String>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attempts: u32,
    pub next_attempt: Instant,
    pub sent: Option<Instant>,
    /// Delivery stopped after too many failures; an administrator looks at it.
    pub gave_up: bool,
    pub last_error: Option<String>,
}

impl OutboxMessage {
    /// A new message, due at `created`.
    pub fn new(
        created: Instant,
        kind: &str,
        submitter: Option<&str>,
        to: &str,
        subject: String,
        text: String,
        html: String,
    ) -> OutboxMessage {
        OutboxMessage {
            id: 0,
            created,
            kind: kind.to_string(),
            submitter: submitter.map(str::to_string),
            to: to.to_string(),
            subject,
            text,
            html,
            attempts: 0,
            next_attempt: created,
            sent: None,
            gave_up: false,
            last_error: None,
        }
    }
}

/// Everything one compliance decision changes, applied in one database transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComplianceWrite {
    /// The audit record; when one for the same submitter and period is already stored, nothing
    /// at all is written and [`Applied::AlreadyAudited`] comes back.
    pub audit: Option<AuditRecord>,
    pub standing: Option<StandingChange>,
    pub relationships: Vec<RelationshipChange>,
    pub cases: Vec<CaseChange>,
    pub caps: Vec<CapChange>,
    pub changes: Vec<StatusChange>,
    pub emails: Vec<OutboxMessage>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Written,
    AlreadyAudited,
}

/// A lock held across processes (PostgreSQL advisory lock) or within one (SQLite); released
/// on drop.
pub trait Held: Send {}
