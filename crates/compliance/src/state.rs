//! The state machines of compliance (D13–D15). Each is a pure function from a state and an event
//! to the next state and the reason, or a refusal that says why the event does not apply.

use crate::audit::Policy;
use eligibility::Instant;
use serde::{Deserialize, Serialize};

/// A submitter's standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SubmitterStanding {
    Active,
    /// Suspended until the instant; it ends by itself.
    Suspended {
        until: Instant,
    },
    /// Suspended until a corrective action plan is accepted (an AAA error-rate case whose
    /// deadline passed, D14).
    SuspendedPendingCap,
    /// Terminated until a corrective action plan is accepted.
    TerminatedPendingCap,
    PermanentlyTerminated,
}

/// A submitter's standing and the counters the ladder needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitterState {
    pub standing: SubmitterStanding,
    /// Automatic suspensions since the last reinstatement after a termination.
    pub suspensions: u16,
    /// Terminations so far.
    pub terminations: u16,
}

impl SubmitterState {
    pub fn active() -> SubmitterState {
        SubmitterState { standing: SubmitterStanding::Active, suspensions: 0, terminations: 0 }
    }

    /// The standing as of `at`: a suspension that has run out reads as active.
    pub fn standing_at(&self, at: Instant) -> SubmitterStanding {
        match self.standing {
            SubmitterStanding::Suspended { until } if at >= until => SubmitterStanding::Active,
            s => s,
        }
    }

    /// True when the submitter may send requests at `at`.
    pub fn may_transact(&self, at: Instant) -> bool {
        self.standing_at(at) == SubmitterStanding::Active
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitterEvent {
    /// The NPI audit of a period failed (D13), decided at `at`.
    NpiAuditFailed {
        at: Instant,
    },
    /// An AAA error-rate case passed its deadline without a CAP or without improvement (D14).
    AaaDeadlinePassed,
    /// A corrective action plan was accepted.
    CapAccepted,
    /// An administrator acts by hand, always with a reason (kept by the caller).
    ManualSuspend {
        until: Instant,
    },
    ManualReinstate,
    ManualTerminate,
}

/// A transition: the new state and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition<S> {
    pub from: S,
    pub to: S,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl SubmitterState {
    /// Applies `event` at `at` under `policy`.
    pub fn apply(
        &self,
        event: &SubmitterEvent,
        at: Instant,
        policy: &Policy,
    ) -> Result<Transition<SubmitterState>, Refused> {
        let standing = self.standing_at(at);
        let mut next = *self;
        if standing != self.standing {
            next.standing = standing;
        }
        let reason = match event {
            SubmitterEvent::NpiAuditFailed { at: decided } => {
                if matches!(
                    standing,
                    SubmitterStanding::TerminatedPendingCap | SubmitterStanding::PermanentlyTerminated
                ) {
                    return Err(Refused("the submitter is already terminated".into()));
                }
                next.suspensions += 1;
                let pending_cap = standing == SubmitterStanding::SuspendedPendingCap;
                if next.suspensions >= policy.suspensions_to_terminate {
                    next.terminations += 1;
                    if next.terminations >= policy.terminations_to_ban {
                        next.standing = SubmitterStanding::PermanentlyTerminated;
                        format!(
                            "NPI audit failed: suspension {} makes termination {}; permanent after {} earlier",
                            next.suspensions,
                            next.terminations,
                            next.terminations - 1
                        )
                    } else {
                        next.standing = SubmitterStanding::TerminatedPendingCap;
                        format!(
                            "NPI audit failed: suspension {} terminates the submitter until a corrective action plan is accepted",
                            next.suspensions
                        )
                    }
                } else if pending_cap {
                    // Already refused until a CAP is accepted, which outlasts 24 hours.
                    format!(
                        "NPI audit failed: suspension {}; the suspension pending a corrective action plan stays",
                        next.suspensions
                    )
                } else {
                    let until = Instant::from_unix(decided.unix_seconds + policy.suspension_hours * 3600);
                    next.standing = SubmitterStanding::Suspended { until };
                    format!("NPI audit failed: suspension {} for {} hours", next.suspensions, policy.suspension_hours)
                }
            }
            SubmitterEvent::AaaDeadlinePassed => match standing {
                SubmitterStanding::Active | SubmitterStanding::Suspended { .. } => {
                    next.standing = SubmitterStanding::SuspendedPendingCap;
                    "AAA error-rate case: no corrective action plan or no improvement by the deadline; suspended until a CAP is accepted".into()
                }
                _ => return Err(Refused("the submitter is already refused until a CAP is accepted".into())),
            },
            SubmitterEvent::CapAccepted => match standing {
                SubmitterStanding::TerminatedPendingCap => {
                    next.standing = SubmitterStanding::Active;
                    next.suspensions = 0;
                    "corrective action plan accepted: reinstated".into()
                }
                SubmitterStanding::SuspendedPendingCap => {
                    next.standing = SubmitterStanding::Active;
                    "corrective action plan accepted: suspension lifted".into()
                }
                _ => {
                    return Err(Refused(
                        "only a submitter suspended or terminated pending a CAP is reinstated by one".into(),
                    ));
                }
            },
            SubmitterEvent::ManualSuspend { until } => {
                if standing == SubmitterStanding::PermanentlyTerminated {
                    return Err(Refused("the submitter is permanently terminated".into()));
                }
                next.standing = SubmitterStanding::Suspended { until: *until };
                "suspended by an administrator".into()
            }
            SubmitterEvent::ManualReinstate => {
                if standing == SubmitterStanding::Active {
                    return Err(Refused("the submitter is already active".into()));
                }
                next.standing = SubmitterStanding::Active;
                next.suspensions = 0;
                "reinstated by an administrator".into()
            }
            SubmitterEvent::ManualTerminate => {
                if standing == SubmitterStanding::PermanentlyTerminated {
                    return Err(Refused("the submitter is already permanently terminated".into()));
                }
                next.terminations += 1;
                next.standing = if next.terminations >= policy.terminations_to_ban {
                    SubmitterStanding::PermanentlyTerminated
                } else {
                    SubmitterStanding::TerminatedPendingCap
                };
                "terminated by an administrator".into()
            }
        };
        Ok(Transition { from: *self, to: next, reason })
    }
}

/// An AAA error-rate case (D14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CaseState {
    /// Notice sent; a CAP is due by the deadline.
    Notified {
        deadline: Instant,
    },
    CapSubmitted {
        deadline: Instant,
    },
    Closed,
    /// Suspended until a CAP is accepted.
    Suspended,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AaaCase {
    pub opened: Instant,
    pub state: CaseState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AaaCaseEvent {
    CapSubmitted,
    /// A later audit found the rate back under the tolerated one.
    RateWithin,
    /// The clock passed the deadline (the audit checks on every run).
    DeadlinePassed,
    CapAccepted,
}

impl AaaCase {
    /// Opens a case at `at`: notice now, 14 days (the policy's) to answer.
    pub fn open(at: Instant, policy: &Policy) -> AaaCase {
        AaaCase {
            opened: at,
            state: CaseState::Notified { deadline: Instant::from_unix(at.unix_seconds + policy.cap_days * 86_400) },
        }
    }

    pub fn apply(&self, event: AaaCaseEvent, at: Instant) -> Result<Transition<AaaCase>, Refused> {
        let mut next = *self;
        let reason = match (self.state, event) {
            (CaseState::Notified { deadline }, AaaCaseEvent::CapSubmitted) => {
                next.state = CaseState::CapSubmitted { deadline };
                "corrective action plan submitted"
            }
            (CaseState::CapSubmitted { deadline }, AaaCaseEvent::RateWithin) if at <= deadline => {
                next.state = CaseState::Closed;
                "CAP on file and the AAA rate is back under the tolerated rate"
            }
            (CaseState::Notified { deadline } | CaseState::CapSubmitted { deadline }, AaaCaseEvent::DeadlinePassed)
                if at > deadline =>
            {
                next.state = CaseState::Suspended;
                if matches!(self.state, CaseState::Notified { .. }) {
                    "no corrective action plan by the deadline"
                } else {
                    "the AAA rate is not back under the tolerated rate by the deadline"
                }
            }
            (CaseState::Suspended, AaaCaseEvent::CapAccepted) => {
                next.state = CaseState::Closed;
                "corrective action plan accepted"
            }
            (s, e) => return Err(Refused(format!("{e:?} does not apply to a case in state {s:?}"))),
        };
        Ok(Transition { from: *self, to: next, reason: reason.into() })
    }
}

/// A Submitter/NPI relationship's compliance state (D15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationshipState {
    Active,
    SuspendedPendingCap,
    Permanent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelationshipEvent {
    /// 30 or more inquiries about one NPI + MBI within 24 hours.
    RepeatedInquiries {
        count: u64,
    },
    CapAccepted,
    /// An administrator ends the relationship for good.
    MakePermanent,
}

impl RelationshipState {
    pub fn apply(&self, event: RelationshipEvent) -> Result<Transition<RelationshipState>, Refused> {
        let (to, reason) = match (self, event) {
            (RelationshipState::Active, RelationshipEvent::RepeatedInquiries { count }) => (
                RelationshipState::SuspendedPendingCap,
                format!("{count} inquiries about one beneficiary within 24 hours"),
            ),
            (RelationshipState::SuspendedPendingCap, RelationshipEvent::CapAccepted) => {
                (RelationshipState::Active, "corrective action plan accepted".to_string())
            }
            (RelationshipState::SuspendedPendingCap, RelationshipEvent::MakePermanent) => {
                (RelationshipState::Permanent, "suspended permanently by an administrator".to_string())
            }
            (s, e) => return Err(Refused(format!("{e:?} does not apply to a relationship in state {s:?}"))),
        };
        Ok(Transition { from: *self, to, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Instant {
        Instant::parse_rfc3339(s).unwrap_or(Instant::from_unix(0))
    }

    #[test]
    fn the_suspension_ladder() {
        let p = Policy::default();
        let mut s = SubmitterState::active();
        let day1 = at("2026-11-16T05:00:00Z");
        let t = s.apply(&SubmitterEvent::NpiAuditFailed { at: day1 }, day1, &p).unwrap();
        s = t.to;
        assert_eq!(s.standing, SubmitterStanding::Suspended { until: at("2026-11-17T05:00:00Z") });
        assert!(!s.may_transact(at("2026-11-17T04:59:59Z")));
        // The suspension ends by itself.
        assert!(s.may_transact(at("2026-11-17T05:00:00Z")));
        let day3 = at("2026-11-18T05:00:00Z");
        s = s.apply(&SubmitterEvent::NpiAuditFailed { at: day3 }, day3, &p).unwrap().to;
        assert_eq!(s.suspensions, 2);
        // The 3rd suspension terminates until a CAP is accepted.
        let day5 = at("2026-11-20T05:00:00Z");
        s = s.apply(&SubmitterEvent::NpiAuditFailed { at: day5 }, day5, &p).unwrap().to;
        assert_eq!(s.standing, SubmitterStanding::TerminatedPendingCap);
        assert!(!s.may_transact(at("2027-01-01T00:00:00Z")));
        assert!(s.apply(&SubmitterEvent::NpiAuditFailed { at: day5 }, day5, &p).is_err());
        s = s.apply(&SubmitterEvent::CapAccepted, day5, &p).unwrap().to;
        assert_eq!((s.standing, s.suspensions, s.terminations), (SubmitterStanding::Active, 0, 1));
        // Two more rounds: the 3rd termination is permanent.
        for round in 0..2 {
            for k in 0..3 {
                let when = Instant::from_unix(day5.unix_seconds + (round * 10 + k * 2 + 2) * 86_400);
                s = s.apply(&SubmitterEvent::NpiAuditFailed { at: when }, when, &p).unwrap().to;
            }
            if round == 0 {
                assert_eq!(s.standing, SubmitterStanding::TerminatedPendingCap);
                s = s.apply(&SubmitterEvent::CapAccepted, day5, &p).unwrap().to;
            }
        }
        assert_eq!(s.standing, SubmitterStanding::PermanentlyTerminated);
        assert_eq!(s.terminations, 3);
        assert!(s.apply(&SubmitterEvent::CapAccepted, day5, &p).is_err());
    }

    #[test]
    fn aaa_case_closes_with_a_cap_or_suspends_after_14_days() {
        let p = Policy::default();
        let opened = at("2026-11-16T05:00:00Z");
        let case = AaaCase::open(opened, &p);
        assert_eq!(case.state, CaseState::Notified { deadline: at("2026-11-30T05:00:00Z") });
        let c = case.apply(AaaCaseEvent::CapSubmitted, at("2026-11-20T00:00:00Z")).unwrap().to;
        assert_eq!(c.apply(AaaCaseEvent::RateWithin, at("2026-11-25T00:00:00Z")).unwrap().to.state, CaseState::Closed);
        // No CAP by day 14: suspended; not before the deadline.
        assert!(case.apply(AaaCaseEvent::DeadlinePassed, at("2026-11-29T00:00:00Z")).is_err());
        let s = case.apply(AaaCaseEvent::DeadlinePassed, at("2026-11-30T05:00:01Z")).unwrap().to;
        assert_eq!(s.state, CaseState::Suspended);
        assert_eq!(s.apply(AaaCaseEvent::CapAccepted, at("2026-12-05T00:00:00Z")).unwrap().to.state, CaseState::Closed);
    }

    #[test]
    fn relationship_suspension_for_repeats() {
        let t = RelationshipState::Active.apply(RelationshipEvent::RepeatedInquiries { count: 30 }).unwrap();
        assert_eq!(t.to, RelationshipState::SuspendedPendingCap);
        assert_eq!(t.reason, "30 inquiries about one beneficiary within 24 hours");
        assert_eq!(t.to.apply(RelationshipEvent::CapAccepted).unwrap().to, RelationshipState::Active);
        assert!(RelationshipState::Active.apply(RelationshipEvent::CapAccepted).is_err());
    }
}
