//! `hets audit`, `hets cap`, `hets submitter` and `hets outbox`: the compliance regime
//! (D13–D15) from the command line, through the same service the scheduler in `hets serve`
//! uses.

use crate::config::ServeConfig;
use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use compliance::mail::Mailer;
use compliance::{CapForm, Clock, Compliance, ManualClock, Period, SubmitterEvent, SystemClock};
use eligibility::Instant;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Where the store is and which settings apply (shared by every compliance command).
#[derive(Args, Clone, Debug)]
pub struct Target {
    /// The database (default: the configuration's `db`, else sqlite:./hets-data/hets.db).
    #[arg(long)]
    db: Option<String>,
    /// The hets.toml whose [compliance] policy, help desk and [smtp] apply.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Act as if it were this instant (RFC 3339), instead of now.
    #[arg(long)]
    at: Option<String>,
}

impl Target {
    fn open(&self) -> Result<(Compliance, ServeConfig)> {
        let config = ServeConfig::load(self.config.as_deref())?;
        let db = self.db.clone().unwrap_or_else(|| config.db.clone());
        let store =
            store::open(&db).with_context(|| format!("opening the database {}", crate::respond::redact(&db)))?;
        let clock: Arc<dyn Clock> = match &self.at {
            Some(at) => Arc::new(ManualClock::new(Instant::parse_rfc3339(at).map_err(|e| anyhow!("--at: {e}"))?)),
            None => Arc::new(SystemClock),
        };
        let c = &config.compliance;
        Ok((Compliance::new(store, c.policy.clone(), clock, c.helpdesk.clone()), config))
    }
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Audit every submitter over one ET calendar day (default: the last one that has ended).
    /// Idempotent: submitters already audited for the day are left alone, so a run that was
    /// cut off is finished by running it again.
    Run {
        #[command(flatten)]
        target: Target,
        /// The day, YYYY-MM-DD.
        #[arg(long)]
        period: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// End timed suspensions that have run out and suspend submitters whose AAA case passed its
    /// deadline (what the scheduler does every minute).
    Tick {
        #[command(flatten)]
        target: Target,
    },
    /// The stored audit results.
    List {
        #[command(flatten)]
        target: Target,
        /// First day, YYYY-MM-DD (default: 30 days ago).
        #[arg(long)]
        from: Option<String>,
        /// Last day, YYYY-MM-DD (default: today).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        submitter: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum CapCommand {
    /// Submit a corrective action plan on the help desk's template.
    Submit {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        submitter: String,
        /// What it answers: `submitter`, `aaa_case:<id>` or `relationship:<npi>`.
        #[arg(long)]
        subject: String,
        /// The submitter's restatement of its understanding of the Rules of Behavior.
        #[arg(long)]
        understanding: String,
        /// The specific steps it will take.
        #[arg(long)]
        steps: String,
        /// The error-rate reduction it expects.
        #[arg(long)]
        expected_reduction: String,
    },
    /// Accept or reject a submitted CAP, with a comment.
    Decide {
        #[command(flatten)]
        target: Target,
        id: String,
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        accept: bool,
        #[arg(long)]
        reject: bool,
        #[arg(long)]
        comment: String,
        /// The administrator deciding.
        #[arg(long)]
        admin: String,
    },
    /// List CAPs.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        submitter: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum SubmitterCommand {
    /// A submitter's standing, open cases and compliance history.
    Show {
        #[command(flatten)]
        target: Target,
        id: String,
    },
    /// Suspend by hand until an instant.
    Suspend {
        #[command(flatten)]
        target: Target,
        id: String,
        /// RFC 3339.
        #[arg(long)]
        until: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        admin: String,
    },
    /// Reinstate by hand.
    Reinstate {
        #[command(flatten)]
        target: Target,
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        admin: String,
    },
    /// Terminate by hand (the 3rd termination is permanent).
    Terminate {
        #[command(flatten)]
        target: Target,
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        admin: String,
    },
}

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// The newest messages and their delivery state.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Send the messages that are due through the configured [smtp] server.
    Deliver {
        #[command(flatten)]
        target: Target,
    },
}

pub fn audit(cmd: &AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Run { target, period, json } => {
            let (c, _) = target.open()?;
            let period = match period {
                Some(day) => {
                    Period::day(x12::Date::parse_iso(day).ok_or_else(|| anyhow!("--period: not a YYYY-MM-DD date"))?)
                }
                None => Period::last_complete(c.now()),
            };
            let run = c.audit(&period)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&run)?);
            } else if !run.ran {
                println!("audit {}: another node is running it", run.period);
            } else {
                println!(
                    "audit {} ({} to {}): {} audited, {} already audited",
                    run.period,
                    period.start,
                    period.end,
                    run.audited.len(),
                    run.already
                );
                for (id, actions) in &run.audited {
                    println!("  {id}: {actions}");
                }
            }
        }
        AuditCommand::Tick { target } => {
            let (c, _) = target.open()?;
            let t = c.tick()?;
            println!(
                "suspensions ended: {}; AAA cases suspended: {}",
                list(&t.suspensions_ended),
                list(&t.cases_suspended)
            );
        }
        AuditCommand::List { target, from, to, submitter } => {
            let (c, _) = target.open()?;
            let today = compliance::period::et_date(c.now());
            let to = to.clone().unwrap_or_else(|| today.to_string());
            let from = from.clone().unwrap_or_else(|| today.add_days(-30).to_string());
            for a in c.store().audit_records(submitter.as_deref(), &from, &to)? {
                println!(
                    "{}\t{}\tNPI {}\tAAA {}\t{}\t{}",
                    a.period, a.submitter, a.npi_verdict, a.aaa_verdict, a.actions, a.figures
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn cap(cmd: &CapCommand) -> Result<ExitCode> {
    match cmd {
        CapCommand::Submit { target, submitter, subject, understanding, steps, expected_reduction } => {
            let (c, _) = target.open()?;
            let form = CapForm {
                subject: subject.clone(),
                understanding: understanding.clone(),
                steps: steps.clone(),
                expected_reduction: expected_reduction.clone(),
            };
            let cap = c.submit_cap(submitter, &form, submitter)?;
            println!("{} submitted for {}", cap.id, cap.subject);
        }
        CapCommand::Decide { target, id, accept, reject: _, comment, admin } => {
            let (c, _) = target.open()?;
            let cap = c.decide_cap(id, *accept, admin, comment)?;
            println!("{} {}", cap.id, cap.state.as_str());
        }
        CapCommand::List { target, submitter } => {
            let (c, _) = target.open()?;
            for p in c.store().caps(submitter.as_deref())? {
                println!(
                    "{}\t{}\t{}\t{}\tsubmitted {}\t{}",
                    p.id,
                    p.submitter,
                    p.subject,
                    p.state.as_str(),
                    p.submitted,
                    p.comment.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn submitter(cmd: &SubmitterCommand) -> Result<ExitCode> {
    let (target, id, event, reason, admin) = match cmd {
        SubmitterCommand::Show { target, id } => {
            let (c, _) = target.open()?;
            let s = c.store().submitter(id)?.ok_or_else(|| anyhow!("no submitter {id}"))?;
            let state = compliance::service::state_of(&s);
            let standing = state.standing_at(c.now());
            println!(
                "{} ({}): {}; suspensions {}, terminations {}",
                s.id,
                s.name,
                compliance::service::standing_text(&standing),
                s.suspensions,
                s.terminations
            );
            if let compliance::SubmitterStanding::Suspended { until } = standing {
                println!("suspended until {until}");
            }
            for case in c.store().aaa_cases(Some(id))? {
                println!("AAA case {}: {} (deadline {})", case.id, case.state, case.deadline);
            }
            for r in c.store().relationships_of(id)?.iter().filter(|r| r.status != store::RelationshipStatus::Active) {
                println!("relationship with NPI {}: {}", r.npi, r.status.as_str());
            }
            for h in c.store().status_changes(Some(id), 50)? {
                println!("{}\t{}\t{} -> {}\t{}\t{}", h.at, h.subject, h.from, h.to, h.actor, h.reason);
            }
            return Ok(ExitCode::SUCCESS);
        }
        SubmitterCommand::Suspend { target, id, until, reason, admin } => {
            let until = Instant::parse_rfc3339(until).map_err(|e| anyhow!("--until: {e}"))?;
            (target, id, SubmitterEvent::ManualSuspend { until }, reason, admin)
        }
        SubmitterCommand::Reinstate { target, id, reason, admin } => {
            (target, id, SubmitterEvent::ManualReinstate, reason, admin)
        }
        SubmitterCommand::Terminate { target, id, reason, admin } => {
            (target, id, SubmitterEvent::ManualTerminate, reason, admin)
        }
    };
    let (c, _) = target.open()?;
    let state = c.act(id, event, reason, admin)?;
    println!("{id}: {}", compliance::service::standing_text(&state.standing));
    Ok(ExitCode::SUCCESS)
}

pub fn outbox(cmd: &OutboxCommand) -> Result<ExitCode> {
    match cmd {
        OutboxCommand::List { target, limit } => {
            let (c, _) = target.open()?;
            for m in c.store().outbox(*limit)? {
                let state = match (m.sent, m.gave_up) {
                    (Some(at), _) => format!("sent {at}"),
                    (None, true) => format!("failed after {} attempts", m.attempts),
                    (None, false) if m.attempts > 0 => {
                        format!("retrying at {} ({} attempts)", m.next_attempt, m.attempts)
                    }
                    (None, false) => "waiting".into(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    m.id,
                    m.created,
                    m.kind,
                    m.to,
                    m.subject,
                    state,
                    m.last_error.as_deref().unwrap_or("")
                );
            }
        }
        OutboxCommand::Deliver { target } => {
            let (c, config) = target.open()?;
            let smtp = config.smtp.as_ref().ok_or_else(|| anyhow!("no [smtp] server in the configuration"))?;
            let mailer = Mailer::new(smtp)?;
            let d = c.deliver(&mailer, 1000)?;
            println!("sent {}, retrying {}, failed {}", d.sent, d.retrying, d.gave_up);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(ids: &[String]) -> String {
    if ids.is_empty() { "none".into() } else { ids.join(", ") }
}
