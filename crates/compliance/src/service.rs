//! The compliance service: audits, the scheduler's tick, corrective action plans and an
//! administrator's hand, each decided by the pure layer ([`crate::audit`], [`crate::state`]) and
//! written as one [`ComplianceWrite`]: the new state, its history line and its email commit
//! together or not at all.
//!
//! Every step is idempotent. An audit of a submitter and period is one write keyed by both, so
//! a rerun (after a crash, or on another node) finds it done; the tick's and the CAP steps'
//! writes carry the state they expect, so a step taken twice fails the second time with a
//! conflict instead of acting twice.

use crate::audit::{Figures, NpiVerdict, Policy, RateVerdict, Tally};
use crate::clock::Clock;
use crate::mail::{self, Mailer, NoticeKind, Vars};
use crate::period::Period;
use crate::state::{AaaCase, AaaCaseEvent, CaseState, SubmitterEvent, SubmitterStanding, SubmitterState, Transition};
use eligibility::{Instant, SubmitterStatus};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::{
    AaaCaseRow, Applied, AuditRecord, Cap, CapChange, CapState, CaseChange, ComplianceWrite, OutboxMessage,
    RelationshipChange, RelationshipStatus, Standing, StandingChange, StatusChange, Store, StoreError, Submitter,
};

/// The help desk's contact, as notices print it, when the configuration names none.
pub const DEFAULT_HELPDESK: &str = "openhets help desk, helpdesk@localhost";

#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("composing a notice: {0}")]
    Mail(#[from] mail::MailError),
    #[error("{0}")]
    NotFound(String),
    /// The step does not apply (a CAP for a submitter in good standing, an empty field, …).
    #[error("{0}")]
    Refused(String),
}

/// Who acts: recorded with every change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    Audit,
    Scheduler,
    Admin(String),
    Submitter(String),
}

impl Actor {
    fn text(&self) -> String {
        match self {
            Actor::Audit => "audit".into(),
            Actor::Scheduler => "scheduler".into(),
            Actor::Admin(u) => format!("admin:{u}"),
            Actor::Submitter(u) => format!("submitter:{u}"),
        }
    }
}

/// What one audit run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditRun {
    pub period: String,
    /// False when another node holds the period's lock (it runs the audit instead).
    pub ran: bool,
    /// Submitters audited by this run, with what it did to each.
    pub audited: Vec<(String, String)>,
    /// Submitters whose audit of the period was already stored.
    pub already: u32,
}

/// What one tick of the scheduler did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TickReport {
    pub suspensions_ended: Vec<String>,
    pub cases_suspended: Vec<String>,
}

/// What one pass over the outbox did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    pub sent: u32,
    pub retrying: u32,
    pub gave_up: u32,
}

/// The CAP template's parts (domain §6.3): what the security policy asks of a submitter.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct CapForm {
    /// `submitter`, `aaa_case:<id>` or `relationship:<npi>`.
    pub subject: String,
    /// The submitter's restatement of its understanding of the Rules of Behavior.
    pub understanding: String,
    /// The specific steps it will take.
    pub steps: String,
    /// The error-rate reduction it expects.
    pub expected_reduction: String,
}

pub struct Compliance {
    store: Arc<dyn Store>,
    policy: Policy,
    clock: Arc<dyn Clock>,
    helpdesk: String,
}

impl Compliance {
    pub fn new(
        store: Arc<dyn Store>,
        policy: Policy,
        clock: Arc<dyn Clock>,
        helpdesk: impl Into<String>,
    ) -> Compliance {
        Compliance { store, policy, clock, helpdesk: helpdesk.into() }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    // Audits (D13–D15).

    /// Audits every submitter over `period`, deciding at the clock's instant. Only one process
    /// audits a period at a time (a database lock); a rerun audits only the submitters not yet
    /// audited, so a run cut off half-way is finished by the next.
    pub fn audit(&self, period: &Period) -> Result<AuditRun, ComplianceError> {
        let name = period.name();
        let mut run = AuditRun { period: name.clone(), ..AuditRun::default() };
        let Some(_lock) = self.store.try_exclusive(&format!("audit {name}"))? else {
            return Ok(run);
        };
        run.ran = true;
        let done: std::collections::HashSet<String> =
            self.store.audit_records(None, &name, &name)?.into_iter().map(|a| a.submitter).collect();
        for submitter in self.store.submitters()? {
            if done.contains(&submitter.id) {
                run.already += 1;
                continue;
            }
            match self.audit_submitter(&submitter.id, period)? {
                Some(actions) => run.audited.push((submitter.id, actions)),
                None => run.already += 1,
            }
        }
        Ok(run)
    }

    /// Audits one submitter over one period; `None` when that audit is already stored.
    pub fn audit_submitter(&self, id: &str, period: &Period) -> Result<Option<String>, ComplianceError> {
        let window = self.policy.repeat_window_hours * 3600;
        let mut tally = Tally::new(period.start.unix_seconds);
        let from = Instant::from_unix(period.start.unix_seconds - window + 1);
        self.store.scan_transactions(id, from, period.end, &mut |r| tally.add(r))?;
        let figures = tally.finish(&self.policy);
        // A state change by someone else between our read and our write is a conflict: read
        // again and decide again (the figures stay the same).
        for _ in 0..3 {
            let submitter = self.submitter(id)?;
            let write = self.decide_audit(&submitter, period, &figures)?;
            let actions = write.audit.as_ref().map(|a| a.actions.clone()).unwrap_or_default();
            match self.store.apply_compliance(&write) {
                Ok(Applied::Written) => {
                    tracing::info!(submitter = id, period = %period.name(), actions, "audited");
                    return Ok(Some(actions));
                }
                Ok(Applied::AlreadyAudited) => return Ok(None),
                Err(StoreError::Conflict(what)) => {
                    tracing::info!(submitter = id, what, "state changed during the audit; deciding again");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ComplianceError::Refused(format!("submitter {id}: its state kept changing during the audit")))
    }

    fn decide_audit(
        &self,
        submitter: &Submitter,
        period: &Period,
        f: &Figures,
    ) -> Result<ComplianceWrite, ComplianceError> {
        let at = self.clock.now();
        let p = &self.policy;
        let mut w = ComplianceWrite::default();
        let mut actions: Vec<String> = Vec::new();
        let npi_verdict = p.npi_verdict(f);
        let aaa_verdict = p.aaa_verdict(f);

        // D13: the NPI audit.
        if npi_verdict == NpiVerdict::Fail {
            let state = state_of(submitter);
            match state.apply(&SubmitterEvent::NpiAuditFailed { at }, at, p) {
                Ok(t) => {
                    actions.push(t.reason.clone());
                    let kind = match t.to.standing {
                        SubmitterStanding::Suspended { .. } => NoticeKind::Suspension,
                        SubmitterStanding::TerminatedPendingCap => NoticeKind::Termination,
                        SubmitterStanding::PermanentlyTerminated => NoticeKind::PermanentTermination,
                        _ => NoticeKind::Suspension,
                    };
                    let mut vars = self.vars(submitter);
                    vars.insert("reason".into(), t.reason.clone());
                    vars.insert("figures".into(), npi_figures(f, p));
                    vars.insert("suspended_at".into(), when(at));
                    vars.insert("terminated_at".into(), when(at));
                    vars.insert("effective_at".into(), when(at));
                    vars.insert("until".into(), until_text(&t.to));
                    vars.insert(
                        "cap_deadline".into(),
                        "none: the submitter stays terminated until a CAP is accepted".into(),
                    );
                    self.standing_change(&mut w, submitter, &t, Actor::Audit, at);
                    self.email(&mut w, submitter, kind, vars, at)?;
                }
                Err(refused) => actions.push(format!("NPI audit failed; {refused}")),
            }
        }

        // D14: the AAA error-rate case.
        let cases = self.store.aaa_cases(Some(&submitter.id))?;
        let open = cases.iter().rev().find(|c| matches!(c.state.as_str(), "notified" | "cap_submitted" | "suspended"));
        match (aaa_verdict, open) {
            (RateVerdict::Over, None) => {
                let case = AaaCase::open(at, p);
                let deadline = match case.state {
                    CaseState::Notified { deadline } => deadline,
                    _ => at,
                };
                let row = AaaCaseRow {
                    id: format!("AAA-{}-{}", submitter.id, period.name()),
                    submitter: submitter.id.clone(),
                    period: period.name(),
                    opened: at,
                    deadline,
                    state: "notified".into(),
                    figures: serde_json::to_string(f).unwrap_or_default(),
                };
                let reason = format!(
                    "AAA error rate {} is over the tolerated {}: corrective action plan due by {}",
                    percent(f.aaa_responses, f.responses),
                    per_mille(p.aaa_max_per_mille),
                    when(deadline)
                );
                actions.push(reason.clone());
                w.changes.push(change(
                    at,
                    &submitter.id,
                    format!("aaa_case:{}", row.id),
                    "none",
                    "notified",
                    &reason,
                    &Actor::Audit,
                ));
                let mut vars = self.vars(submitter);
                vars.insert("period".into(), period.name());
                vars.insert("figures".into(), aaa_figures(f, p));
                vars.insert("cap_deadline".into(), when(deadline));
                self.email(&mut w, submitter, NoticeKind::AaaNotice, vars, at)?;
                w.cases.push(CaseChange { case: row, expect: None });
            }
            (RateVerdict::Within, Some(row)) if row.state == "cap_submitted" => {
                let case = case_of(row)?;
                if let Ok(t) = case.apply(AaaCaseEvent::RateWithin, at) {
                    actions.push(format!("AAA case {} closed: {}", row.id, t.reason));
                    self.case_change(&mut w, row, &t, Actor::Audit, at);
                    let mut vars = self.vars(submitter);
                    vars.insert("reason".into(), t.reason.clone());
                    vars.insert("figures".into(), aaa_figures(f, p));
                    vars.insert("closed_at".into(), when(at));
                    self.email(&mut w, submitter, NoticeKind::AaaCaseClosed, vars, at)?;
                }
            }
            _ => {}
        }

        // D15: repeated inquiries suspend the Submitter/NPI relationship.
        let mut worst: BTreeMap<&str, u64> = BTreeMap::new();
        for pair in &f.repeated {
            let n = worst.entry(pair.npi.as_str()).or_default();
            *n = (*n).max(pair.count);
        }
        for (npi, count) in worst {
            let Some(rel) = self.store.relationship(&submitter.id, npi)? else {
                actions.push(format!(
                    "NPI {npi}: {count} inquiries about one beneficiary, but no relationship to suspend"
                ));
                continue;
            };
            if rel.status != RelationshipStatus::Active {
                continue;
            }
            let reason = format!("{count} inquiries about one beneficiary within {} hours", p.repeat_window_hours);
            actions.push(format!("relationship with NPI {npi} suspended: {reason}"));
            w.relationships.push(RelationshipChange {
                submitter: submitter.id.clone(),
                npi: npi.to_string(),
                expect: RelationshipStatus::Active,
                to: RelationshipStatus::Suspended,
            });
            w.changes.push(change(
                at,
                &submitter.id,
                format!("relationship:{npi}"),
                "active",
                "suspended_pending_cap",
                &reason,
                &Actor::Audit,
            ));
            let mut vars = self.vars(submitter);
            vars.insert("npi".into(), npi.to_string());
            vars.insert("reason".into(), reason);
            vars.insert(
                "figures".into(),
                format!(
                    "inquiries about one NPI and beneficiary in {} hours: {count} (limit: fewer than {})",
                    p.repeat_window_hours, p.repeat_threshold
                ),
            );
            vars.insert("suspended_at".into(), when(at));
            vars.insert("cap_deadline".into(), "none: the relationship stays suspended until a CAP is accepted".into());
            self.email(&mut w, submitter, NoticeKind::RelationshipSuspended, vars, at)?;
        }

        if actions.is_empty() {
            actions.push(match (npi_verdict, aaa_verdict) {
                (NpiVerdict::BelowMinimumVolume, RateVerdict::BelowMinimumVolume) => {
                    "below the minimum volume: not judged".into()
                }
                _ => "passed".into(),
            });
        }
        w.audit = Some(AuditRecord {
            submitter: submitter.id.clone(),
            period: period.name(),
            period_start: period.start,
            period_end: period.end,
            at,
            npi_verdict: verdict_text(npi_verdict),
            aaa_verdict: rate_text(aaa_verdict),
            figures: serde_json::to_string(f).unwrap_or_default(),
            actions: actions.join("; "),
        });
        Ok(w)
    }

    // The scheduler's tick.

    /// Ends timed suspensions that have run out (with their history line and email) and
    /// suspends submitters whose AAA case passed its deadline. Enforcement does not wait for
    /// this: a suspension that has run out already lets requests through.
    pub fn tick(&self) -> Result<TickReport, ComplianceError> {
        let at = self.clock.now();
        let mut report = TickReport::default();
        for s in self.store.submitters()? {
            let (SubmitterStatus::Suspended, Some(until)) = (s.status, s.suspended_until) else {
                continue;
            };
            if until > at {
                continue;
            }
            let mut to = s.standing();
            to.status = SubmitterStatus::Active;
            to.suspended_until = None;
            let reason = format!("the 24-hour suspension ended at {}", when(until));
            let mut w = ComplianceWrite {
                standing: Some(StandingChange { submitter: s.id.clone(), expect: s.standing(), to }),
                ..ComplianceWrite::default()
            };
            w.changes.push(change(at, &s.id, "submitter".into(), "suspended", "active", &reason, &Actor::Scheduler));
            let mut vars = self.vars(&s);
            vars.insert("reason".into(), reason);
            vars.insert("reinstated_at".into(), when(until));
            self.email(&mut w, &s, NoticeKind::Reinstatement, vars, at)?;
            if self.apply_once(&w)? {
                report.suspensions_ended.push(s.id.clone());
            }
        }
        for row in self.store.aaa_cases(None)? {
            let case = case_of(&row)?;
            let Ok(t) = case.apply(AaaCaseEvent::DeadlinePassed, at) else {
                continue;
            };
            let submitter = self.submitter(&row.submitter)?;
            let mut w = ComplianceWrite::default();
            self.case_change(&mut w, &row, &t, Actor::Scheduler, at);
            if let Ok(st) = state_of(&submitter).apply(&SubmitterEvent::AaaDeadlinePassed, at, &self.policy) {
                self.standing_change(&mut w, &submitter, &st, Actor::Scheduler, at);
            }
            let mut vars = self.vars(&submitter);
            vars.insert("reason".into(), t.reason.clone());
            vars.insert("figures".into(), case_figures(&row, &self.policy));
            vars.insert("cap_deadline".into(), format!("{} (passed)", when(row.deadline)));
            vars.insert("suspended_at".into(), when(at));
            self.email(&mut w, &submitter, NoticeKind::AaaSuspension, vars, at)?;
            if self.apply_once(&w)? {
                report.cases_suspended.push(row.id.clone());
            }
        }
        Ok(report)
    }

    /// Applies a write whose expectations may already be stale (another node took the step):
    /// false then, and nothing is written.
    fn apply_once(&self, w: &ComplianceWrite) -> Result<bool, ComplianceError> {
        match self.store.apply_compliance(w) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(what)) => {
                tracing::info!(what, "already changed; step skipped");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    // Corrective action plans.

    /// A submitter submits a CAP on the help desk's template.
    pub fn submit_cap(&self, submitter_id: &str, form: &CapForm, by: &str) -> Result<Cap, ComplianceError> {
        let at = self.clock.now();
        for (field, value) in [
            ("understanding (restatement of the Rules of Behavior)", &form.understanding),
            ("steps", &form.steps),
            ("expected error-rate reduction", &form.expected_reduction),
        ] {
            if value.trim().is_empty() {
                return Err(ComplianceError::Refused(format!("the CAP's {field} is required")));
            }
        }
        let submitter = self.submitter(submitter_id)?;
        let mut w = ComplianceWrite::default();
        let subject = form.subject.trim();
        let cap_for = match subject.split_once(':') {
            None if subject == "submitter" => {
                let standing = state_of(&submitter).standing_at(at);
                if !matches!(standing, SubmitterStanding::TerminatedPendingCap | SubmitterStanding::SuspendedPendingCap)
                {
                    return Err(ComplianceError::Refused(format!(
                        "submitter {submitter_id} is not terminated or suspended pending a CAP"
                    )));
                }
                "the termination of the submitter".to_string()
            }
            Some(("aaa_case", id)) => {
                let row =
                    self.store.aaa_cases(Some(submitter_id))?.into_iter().find(|c| c.id == id).ok_or_else(|| {
                        ComplianceError::NotFound(format!("submitter {submitter_id} has no AAA case {id}"))
                    })?;
                let case = case_of(&row)?;
                match case.state {
                    CaseState::Notified { .. } => {
                        if let Ok(t) = case.apply(AaaCaseEvent::CapSubmitted, at) {
                            self.case_change(&mut w, &row, &t, Actor::Submitter(by.to_string()), at);
                        }
                    }
                    CaseState::Suspended => {}
                    _ => return Err(ComplianceError::Refused(format!("AAA case {id} does not wait for a CAP"))),
                }
                format!("AAA error-rate case {id}")
            }
            Some(("relationship", npi)) => {
                let rel = self.store.relationship(submitter_id, npi)?.ok_or_else(|| {
                    ComplianceError::NotFound(format!("submitter {submitter_id} has no relationship with NPI {npi}"))
                })?;
                if rel.status != RelationshipStatus::Suspended {
                    return Err(ComplianceError::Refused(format!("the relationship with NPI {npi} is not suspended")));
                }
                format!("the suspended relationship with NPI {npi}")
            }
            _ => {
                return Err(ComplianceError::Refused(
                    "a CAP answers `submitter`, `aaa_case:<id>` or `relationship:<npi>`".into(),
                ));
            }
        };
        if self.store.caps(Some(submitter_id))?.iter().any(|c| c.subject == subject && c.state == CapState::Submitted) {
            return Err(ComplianceError::Refused(format!("a CAP for {cap_for} already waits for a decision")));
        }
        let cap = Cap {
            id: format!("CAP-{}-{}", submitter_id, compact(at)),
            submitter: submitter_id.to_string(),
            subject: subject.to_string(),
            understanding: form.understanding.trim().to_string(),
            steps: form.steps.trim().to_string(),
            expected_reduction: form.expected_reduction.trim().to_string(),
            submitted: at,
            submitted_by: by.to_string(),
            state: CapState::Submitted,
            decided: None,
            decided_by: None,
            comment: None,
        };
        w.changes.push(change(
            at,
            submitter_id,
            format!("cap:{}", cap.id),
            "none",
            "submitted",
            &format!("CAP submitted for {cap_for}"),
            &Actor::Submitter(by.to_string()),
        ));
        let mut vars = self.vars(&submitter);
        vars.insert("cap_reference".into(), cap.id.clone());
        vars.insert("cap_for".into(), cap_for);
        vars.insert("received_at".into(), when(at));
        vars.insert("review_deadline".into(), when(Instant::from_unix(at.unix_seconds + 5 * 86_400)));
        self.email(&mut w, &submitter, NoticeKind::CapReceived, vars, at)?;
        w.caps.push(CapChange { cap: cap.clone(), expect: None });
        match self.store.apply_compliance(&w) {
            Ok(_) => Ok(cap),
            Err(StoreError::Conflict(_)) => {
                Err(ComplianceError::Refused("the CAP or its subject changed meanwhile; submit it again".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// An administrator accepts or rejects a CAP, always with a comment. Accepting lifts what
    /// the CAP answers: a termination, a case's suspension, a relationship's suspension.
    pub fn decide_cap(&self, cap_id: &str, accept: bool, admin: &str, comment: &str) -> Result<Cap, ComplianceError> {
        let at = self.clock.now();
        if comment.trim().is_empty() {
            return Err(ComplianceError::Refused("a CAP decision needs a comment".into()));
        }
        let cap = self
            .store
            .caps(None)?
            .into_iter()
            .find(|c| c.id == cap_id)
            .ok_or_else(|| ComplianceError::NotFound(format!("no corrective action plan {cap_id}")))?;
        if cap.state != CapState::Submitted {
            return Err(ComplianceError::Refused(format!("CAP {cap_id} was already {}", cap.state.as_str())));
        }
        let submitter = self.submitter(&cap.submitter)?;
        let actor = Actor::Admin(admin.to_string());
        let decided = Cap {
            state: if accept { CapState::Accepted } else { CapState::Rejected },
            decided: Some(at),
            decided_by: Some(admin.to_string()),
            comment: Some(comment.trim().to_string()),
            ..cap.clone()
        };
        let mut w = ComplianceWrite::default();
        w.caps.push(CapChange { cap: decided.clone(), expect: Some(CapState::Submitted) });
        w.changes.push(change(
            at,
            &cap.submitter,
            format!("cap:{}", cap.id),
            "submitted",
            decided.state.as_str(),
            comment.trim(),
            &actor,
        ));
        let mut next_deadline = "none: submit a revised CAP".to_string();
        let mut reinstated = None;
        match cap.subject.split_once(':') {
            None if accept => {
                reinstated = Some(self.lift(&mut w, &submitter, &actor, at)?);
            }
            Some(("aaa_case", id)) => {
                if let Some(row) = self.store.aaa_cases(Some(&cap.submitter))?.into_iter().find(|c| c.id == id) {
                    let case = case_of(&row)?;
                    next_deadline = when(row.deadline);
                    match (case.state, accept) {
                        (CaseState::Suspended, true) => {
                            if let Ok(t) = case.apply(AaaCaseEvent::CapAccepted, at) {
                                self.case_change(&mut w, &row, &t, actor.clone(), at);
                            }
                            reinstated = Some(self.lift(&mut w, &submitter, &actor, at)?);
                        }
                        (CaseState::CapSubmitted { deadline }, false) => {
                            // Rejected: the case waits for another CAP by the same deadline.
                            let back = AaaCase { opened: case.opened, state: CaseState::Notified { deadline } };
                            let t =
                                Transition { from: case, to: back, reason: "corrective action plan rejected".into() };
                            self.case_change(&mut w, &row, &t, actor.clone(), at);
                        }
                        _ => {}
                    }
                }
            }
            Some(("relationship", npi)) if accept => {
                w.relationships.push(RelationshipChange {
                    submitter: cap.submitter.clone(),
                    npi: npi.to_string(),
                    expect: RelationshipStatus::Suspended,
                    to: RelationshipStatus::Active,
                });
                w.changes.push(change(
                    at,
                    &cap.submitter,
                    format!("relationship:{npi}"),
                    "suspended_pending_cap",
                    "active",
                    "corrective action plan accepted",
                    &actor,
                ));
                let mut vars = self.vars(&submitter);
                vars.insert("npi".into(), npi.to_string());
                vars.insert("reason".into(), "corrective action plan accepted".into());
                vars.insert("reinstated_at".into(), when(at));
                self.email(&mut w, &submitter, NoticeKind::RelationshipReinstated, vars, at)?;
            }
            _ => {}
        }
        let mut vars = self.vars(&submitter);
        vars.insert("cap_reference".into(), cap.id.clone());
        vars.insert("cap_for".into(), cap.subject.clone());
        vars.insert("decided_at".into(), when(at));
        vars.insert(
            "reason".into(),
            match &reinstated {
                Some(r) => format!("{} ({r})", comment.trim()),
                None => comment.trim().to_string(),
            },
        );
        vars.insert("cap_deadline".into(), next_deadline);
        let kind = if accept { NoticeKind::CapAccepted } else { NoticeKind::CapRejected };
        self.email(&mut w, &submitter, kind, vars, at)?;
        match self.store.apply_compliance(&w) {
            Ok(_) => Ok(decided),
            Err(StoreError::Conflict(_)) => {
                Err(ComplianceError::Refused(format!("CAP {cap_id} or its subject changed meanwhile; look again")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reinstates a submitter whose CAP was accepted, if its standing waits for one.
    fn lift(
        &self,
        w: &mut ComplianceWrite,
        submitter: &Submitter,
        actor: &Actor,
        at: Instant,
    ) -> Result<String, ComplianceError> {
        match state_of(submitter).apply(&SubmitterEvent::CapAccepted, at, &self.policy) {
            Ok(t) => {
                self.standing_change(w, submitter, &t, actor.clone(), at);
                let mut vars = self.vars(submitter);
                vars.insert("reason".into(), t.reason.clone());
                vars.insert("reinstated_at".into(), when(at));
                self.email(w, submitter, NoticeKind::Reinstatement, vars, at)?;
                Ok(t.reason)
            }
            Err(_) => Ok("the submitter's standing did not wait for this CAP".into()),
        }
    }

    // An administrator's hand.

    /// Suspends, reinstates or terminates a submitter by hand, always with a reason.
    pub fn act(
        &self,
        submitter_id: &str,
        event: SubmitterEvent,
        reason: &str,
        admin: &str,
    ) -> Result<SubmitterState, ComplianceError> {
        let at = self.clock.now();
        if reason.trim().is_empty() {
            return Err(ComplianceError::Refused("an administrator's action needs a reason".into()));
        }
        let submitter = self.submitter(submitter_id)?;
        let t = state_of(&submitter)
            .apply(&event, at, &self.policy)
            .map_err(|r| ComplianceError::Refused(format!("submitter {submitter_id}: {r}")))?;
        let t = Transition { reason: format!("{}: {}", t.reason, reason.trim()), ..t };
        let mut w = ComplianceWrite::default();
        self.standing_change(&mut w, &submitter, &t, Actor::Admin(admin.to_string()), at);
        let kind = match t.to.standing {
            SubmitterStanding::Active => NoticeKind::Reinstatement,
            SubmitterStanding::Suspended { .. } | SubmitterStanding::SuspendedPendingCap => NoticeKind::Suspension,
            SubmitterStanding::TerminatedPendingCap => NoticeKind::Termination,
            SubmitterStanding::PermanentlyTerminated => NoticeKind::PermanentTermination,
        };
        let mut vars = self.vars(&submitter);
        vars.insert("reason".into(), t.reason.clone());
        vars.insert("figures".into(), "not applicable: an administrator's decision".into());
        for key in ["suspended_at", "terminated_at", "effective_at", "reinstated_at"] {
            vars.insert(key.into(), when(at));
        }
        vars.insert("until".into(), until_text(&t.to));
        vars.insert("cap_deadline".into(), "none: the submitter stays terminated until a CAP is accepted".into());
        self.email(&mut w, &submitter, kind, vars, at)?;
        match self.store.apply_compliance(&w) {
            Ok(_) => Ok(t.to),
            Err(StoreError::Conflict(_)) => {
                Err(ComplianceError::Refused(format!("submitter {submitter_id} changed meanwhile; look again")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Tells every submitter of a scheduled outage (D12).
    pub fn announce_outage(&self, starts: Instant, ends: Instant, reason: &str) -> Result<u32, ComplianceError> {
        let at = self.clock.now();
        let mut w = ComplianceWrite::default();
        for s in self.store.submitters()? {
            if s.status == SubmitterStatus::PermanentlyTerminated {
                continue;
            }
            let mut vars = self.vars(&s);
            vars.insert("starts_at".into(), when(starts));
            vars.insert("ends_at".into(), when(ends));
            vars.insert("reason".into(), reason.to_string());
            self.email(&mut w, &s, NoticeKind::Outage, vars, at)?;
        }
        let n = w.emails.len() as u32;
        self.store.apply_compliance(&w)?;
        Ok(n)
    }

    // The outbox.

    /// Sends the messages that are due, at least once each: a message is marked sent only
    /// after the SMTP server took it, so a crash in between sends it again (with the same
    /// Message-ID, so mail software can spot the repeat).
    pub fn deliver(&self, mailer: &Mailer, limit: u32) -> Result<Delivery, ComplianceError> {
        let mut d = Delivery::default();
        for m in self.store.outbox_due(self.clock.now(), limit)? {
            let email = mail::Email {
                to: m.to.clone(),
                subject: m.subject.clone(),
                text: m.text.clone(),
                html: m.html.clone(),
            };
            match mailer.send_with_id(&email, &format!("hets-outbox-{}", m.id)) {
                Ok(()) => {
                    self.store.outbox_sent(m.id, self.clock.now())?;
                    d.sent += 1;
                }
                Err(e) => {
                    let attempts = m.attempts + 1;
                    let gave_up = e.is_permanent() || attempts >= mail::MAX_ATTEMPTS;
                    let wait = mail::backoff(attempts).as_secs() as i64;
                    let next = Instant::from_unix(self.clock.now().unix_seconds + wait);
                    tracing::warn!(outbox_id = m.id, kind = %m.kind, attempts, gave_up, error = %e, "email not delivered");
                    self.store.outbox_failed(m.id, attempts, next, gave_up, &e.to_string())?;
                    if gave_up {
                        d.gave_up += 1;
                    } else {
                        d.retrying += 1;
                    }
                }
            }
        }
        Ok(d)
    }

    // Helpers.

    fn submitter(&self, id: &str) -> Result<Submitter, ComplianceError> {
        self.store.submitter(id)?.ok_or_else(|| ComplianceError::NotFound(format!("no submitter {id}")))
    }

    fn vars(&self, s: &Submitter) -> Vars {
        let mut v = Vars::new();
        v.insert("submitter_name".into(), s.name.clone());
        v.insert("submitter_id".into(), s.id.clone());
        v.insert("helpdesk".into(), self.helpdesk.clone());
        v
    }

    /// Renders a notice into the write's outbox. Variables a template does not use are
    /// dropped, so callers may offer a superset.
    fn email(
        &self,
        w: &mut ComplianceWrite,
        s: &Submitter,
        kind: NoticeKind,
        mut vars: Vars,
        at: Instant,
    ) -> Result<(), ComplianceError> {
        let wanted = mail::variables(kind);
        vars.retain(|k, _| wanted.contains(&k.as_str()));
        let r = mail::render(kind, &vars)?;
        w.emails.push(OutboxMessage::new(at, kind.as_str(), Some(&s.id), &s.email, r.subject, r.text, r.html));
        Ok(())
    }

    fn standing_change(
        &self,
        w: &mut ComplianceWrite,
        s: &Submitter,
        t: &Transition<SubmitterState>,
        actor: Actor,
        at: Instant,
    ) {
        let to = standing_row(&t.to);
        w.standing = Some(StandingChange { submitter: s.id.clone(), expect: s.standing(), to });
        w.changes.push(change(
            at,
            &s.id,
            "submitter".into(),
            standing_text(&t.from.standing_at(at)),
            standing_text(&t.to.standing),
            &t.reason,
            &actor,
        ));
    }

    fn case_change(
        &self,
        w: &mut ComplianceWrite,
        row: &AaaCaseRow,
        t: &Transition<AaaCase>,
        actor: Actor,
        at: Instant,
    ) {
        let (state, deadline) = case_text(&t.to.state, row.deadline);
        w.cases.push(CaseChange {
            case: AaaCaseRow { state: state.into(), deadline, ..row.clone() },
            expect: Some(row.state.clone()),
        });
        w.changes.push(change(
            at,
            &row.submitter,
            format!("aaa_case:{}", row.id),
            &row.state,
            state,
            &t.reason,
            &actor,
        ));
    }
}

fn change(
    at: Instant,
    submitter: &str,
    subject: String,
    from: &str,
    to: &str,
    reason: &str,
    actor: &Actor,
) -> StatusChange {
    StatusChange {
        id: 0,
        at,
        submitter: submitter.to_string(),
        subject,
        from: from.to_string(),
        to: to.to_string(),
        reason: reason.to_string(),
        actor: actor.text(),
    }
}

/// The compliance state of a stored submitter.
pub fn state_of(s: &Submitter) -> SubmitterState {
    let standing = match (s.status, s.suspended_until) {
        (SubmitterStatus::Active, _) => SubmitterStanding::Active,
        (SubmitterStatus::Suspended, Some(until)) => SubmitterStanding::Suspended { until },
        (SubmitterStatus::Suspended, None) => SubmitterStanding::SuspendedPendingCap,
        (SubmitterStatus::Terminated, _) => SubmitterStanding::TerminatedPendingCap,
        (SubmitterStatus::PermanentlyTerminated, _) => SubmitterStanding::PermanentlyTerminated,
    };
    SubmitterState { standing, suspensions: s.suspensions, terminations: s.terminations }
}

fn standing_row(s: &SubmitterState) -> Standing {
    let (status, suspended_until) = match s.standing {
        SubmitterStanding::Active => (SubmitterStatus::Active, None),
        SubmitterStanding::Suspended { until } => (SubmitterStatus::Suspended, Some(until)),
        SubmitterStanding::SuspendedPendingCap => (SubmitterStatus::Suspended, None),
        SubmitterStanding::TerminatedPendingCap => (SubmitterStatus::Terminated, None),
        SubmitterStanding::PermanentlyTerminated => (SubmitterStatus::PermanentlyTerminated, None),
    };
    Standing { status, suspended_until, suspensions: s.suspensions, terminations: s.terminations }
}

/// The history's word for a standing.
pub fn standing_text(s: &SubmitterStanding) -> &'static str {
    match s {
        SubmitterStanding::Active => "active",
        SubmitterStanding::Suspended { .. } => "suspended",
        SubmitterStanding::SuspendedPendingCap => "suspended_pending_cap",
        SubmitterStanding::TerminatedPendingCap => "terminated_pending_cap",
        SubmitterStanding::PermanentlyTerminated => "permanently_terminated",
    }
}

fn case_of(row: &AaaCaseRow) -> Result<AaaCase, ComplianceError> {
    let state = match row.state.as_str() {
        "notified" => CaseState::Notified { deadline: row.deadline },
        "cap_submitted" => CaseState::CapSubmitted { deadline: row.deadline },
        "closed" => CaseState::Closed,
        "suspended" => CaseState::Suspended,
        other => {
            return Err(ComplianceError::Store(StoreError::Corrupt {
                what: "AAA case",
                detail: format!("unknown state `{other}`"),
            }));
        }
    };
    Ok(AaaCase { opened: row.opened, state })
}

fn case_text(s: &CaseState, deadline: Instant) -> (&'static str, Instant) {
    match s {
        CaseState::Notified { deadline } => ("notified", *deadline),
        CaseState::CapSubmitted { deadline } => ("cap_submitted", *deadline),
        CaseState::Closed => ("closed", deadline),
        CaseState::Suspended => ("suspended", deadline),
    }
}

fn verdict_text(v: NpiVerdict) -> String {
    match v {
        NpiVerdict::BelowMinimumVolume => "below_minimum_volume",
        NpiVerdict::Pass => "pass",
        NpiVerdict::Fail => "fail",
    }
    .into()
}

fn rate_text(v: RateVerdict) -> String {
    match v {
        RateVerdict::BelowMinimumVolume => "below_minimum_volume",
        RateVerdict::Within => "within",
        RateVerdict::Over => "over",
    }
    .into()
}

/// `99.40%`: a share to the hundredth of a percent, rounded half up, in integers.
pub fn percent(n: u64, d: u64) -> String {
    if d == 0 {
        return "n/a".into();
    }
    let hundredths = (n as u128 * 20_000 + d as u128) / (2 * d as u128);
    format!("{}.{:02}%", hundredths / 100, hundredths % 100)
}

fn per_mille(m: u64) -> String {
    format!("{}.{}%", m / 10, m % 10)
}

fn npi_figures(f: &Figures, p: &Policy) -> String {
    let valid = f.transactions - f.invalid_npi;
    format!(
        "transactions: {}\nwith a valid NPI: {} ({})\nwith an invalid NPI (AAA 43/50/51): {}\nrequired: at least {}",
        f.transactions,
        valid,
        percent(valid, f.transactions),
        f.invalid_npi,
        per_mille(p.valid_npi_min_per_mille)
    )
}

fn aaa_figures(f: &Figures, p: &Policy) -> String {
    let by_code: Vec<String> = f.aaa_by_code.iter().map(|(c, n)| format!("AAA {c}: {n}")).collect();
    format!(
        "271 responses: {}\nwith an AAA error: {} ({})\ntolerated: at most {}\nby code: {}",
        f.responses,
        f.aaa_responses,
        percent(f.aaa_responses, f.responses),
        per_mille(p.aaa_max_per_mille),
        if by_code.is_empty() { "none".to_string() } else { by_code.join(", ") }
    )
}

fn case_figures(row: &AaaCaseRow, p: &Policy) -> String {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Opening {
        responses: u64,
        aaa_responses: u64,
        aaa_by_code: BTreeMap<String, u64>,
    }
    let o: Opening = serde_json::from_str(&row.figures).unwrap_or_default();
    let f = Figures {
        responses: o.responses,
        aaa_responses: o.aaa_responses,
        aaa_by_code: o.aaa_by_code,
        ..Figures::default()
    };
    format!("case opened on the audit of {}\n{}", row.period, aaa_figures(&f, p))
}

fn until_text(s: &SubmitterState) -> String {
    match s.standing {
        SubmitterStanding::Suspended { until } => when(until),
        _ => "a corrective action plan is accepted".into(),
    }
}

/// How notices print an instant.
pub fn when(at: Instant) -> String {
    let t = at.time();
    format!("{} {:02}:{:02} UTC", at.date(), t.hour, t.minute)
}

/// `20261120T120000`, for references.
fn compact(at: Instant) -> String {
    let t = at.time();
    format!("{}T{:02}{:02}{:02}", at.date().ccyymmdd(), t.hour, t.minute, t.second)
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn percentages_are_exact() {
        assert_eq!(percent(994, 1000), "99.40%");
        assert_eq!(percent(995, 1000), "99.50%");
        assert_eq!(percent(1, 3), "33.33%");
        assert_eq!(percent(2, 3), "66.67%");
        assert_eq!(percent(0, 0), "n/a");
    }
}
