//! The compliance tables on SQLite (see [`crate::compliance`]).

use super::{SqliteStore, TxRow, small, sq, transaction};
use crate::codec::{self, instant_to_millis as ms, millis_to_instant as at};
use crate::compliance::{
    AaaCaseRow, Applied, AuditRecord, Cap, CapState, ComplianceWrite, Held, OutboxMessage, Standing, StatusChange,
};
use crate::{StoreError, Submitter, TransactionRecord};
use eligibility::Instant;
use rusqlite::{OptionalExtension, Row, params};
use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

/// Names held by [`SqliteStore::try_exclusive`] in this process.
pub(super) type HeldNames = Mutex<HashSet<String>>;

struct LocalLock<'a> {
    held: &'a HeldNames,
    name: String,
}

impl Held for LocalLock<'_> {}

impl Drop for LocalLock<'_> {
    fn drop(&mut self) {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.name);
    }
}

const SUBMITTER_COLUMNS: &str = "id, name, email, status, suspended_until_ms, suspensions, terminations";

pub(super) fn submitter_from_row(r: &Row<'_>) -> rusqlite::Result<SubmitterRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

pub(super) type SubmitterRow = (String, String, String, String, Option<i64>, i64, i64);

pub(super) fn submitter(
    (id, name, email, status, until, suspensions, terminations): SubmitterRow,
) -> Result<Submitter, StoreError> {
    Ok(Submitter {
        id,
        name,
        email,
        status: codec::need("submitter", "status", &status, codec::parse_submitter_status(&status))?,
        suspended_until: until.map(at),
        suspensions: small("submitter", "suspensions", suspensions)?,
        terminations: small("submitter", "terminations", terminations)?,
    })
}

fn case_from_row(r: &Row<'_>) -> rusqlite::Result<AaaCaseRow> {
    Ok(AaaCaseRow {
        id: r.get(0)?,
        submitter: r.get(1)?,
        period: r.get(2)?,
        opened: at(r.get(3)?),
        deadline: at(r.get(4)?),
        state: r.get(5)?,
        figures: r.get(6)?,
    })
}

type CapRow =
    (String, String, String, String, String, String, i64, String, String, Option<i64>, Option<String>, Option<String>);

fn cap(
    (
        id,
        submitter,
        subject,
        understanding,
        steps,
        expected_reduction,
        submitted,
        by,
        state,
        decided,
        decided_by,
        comment,
    ): CapRow,
) -> Result<Cap, StoreError> {
    Ok(Cap {
        id,
        submitter,
        subject,
        understanding,
        steps,
        expected_reduction,
        submitted: at(submitted),
        submitted_by: by,
        state: codec::need("cap", "state", &state, CapState::parse(&state))?,
        decided: decided.map(at),
        decided_by,
        comment,
    })
}

fn outbox_from_row(r: &Row<'_>) -> rusqlite::Result<(OutboxMessage, i64)> {
    let attempts: i64 = r.get(9)?;
    Ok((
        OutboxMessage {
            id: r.get(0)?,
            created: at(r.get(1)?),
            kind: r.get(2)?,
            submitter: r.get(3)?,
            to: r.get(4)?,
            subject: r.get(5)?,
            text: r.get(6)?,
            html: r.get(7)?,
            next_attempt: at(r.get(8)?),
            attempts: 0,
            sent: r.get::<_, Option<i64>>(10)?.map(at),
            gave_up: r.get(11)?,
            last_error: r.get(12)?,
        },
        attempts,
    ))
}

const OUTBOX_COLUMNS: &str = "id, created_ms, kind, submitter_id, to_addr, subject, text_body, html_body,
    next_attempt_ms, attempts, sent_ms, gave_up, last_error";

fn standing_params(s: &Standing) -> (&'static str, Option<i64>, u16, u16) {
    (codec::submitter_status_text(s.status), s.suspended_until.map(ms), s.suspensions, s.terminations)
}

impl SqliteStore {
    pub(super) fn all_submitters(&self) -> Result<Vec<Submitter>, StoreError> {
        let context = "reading submitters";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {SUBMITTER_COLUMNS} FROM submitter ORDER BY id"))
            .map_err(sq(context))?;
        let rows = stmt.query_map([], submitter_from_row).map_err(sq(context))?;
        rows.map(|r| r.map_err(sq(context)).and_then(submitter)).collect()
    }

    pub(super) fn scan(
        &self,
        submitter: &str,
        from: Instant,
        to: Instant,
        each: &mut dyn FnMut(&TransactionRecord),
    ) -> Result<u64, StoreError> {
        let context = "reading transaction records";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, at_ms, submitter_id, npi, mbi, outcome, aaa_codes, service_types, duration_us
                 FROM transaction_record
                 WHERE submitter_id = ?1 AND at_ms >= ?2 AND at_ms < ?3 ORDER BY at_ms, id",
            )
            .map_err(sq(context))?;
        let mut rows = stmt.query(params![submitter, ms(from), ms(to)]).map_err(sq(context))?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(sq(context))? {
            let row: TxRow = (
                r.get(0).map_err(sq(context))?,
                r.get(1).map_err(sq(context))?,
                r.get(2).map_err(sq(context))?,
                r.get(3).map_err(sq(context))?,
                r.get(4).map_err(sq(context))?,
                r.get(5).map_err(sq(context))?,
                r.get(6).map_err(sq(context))?,
                r.get(7).map_err(sq(context))?,
                r.get(8).map_err(sq(context))?,
            );
            each(&transaction(row)?.record);
            n += 1;
        }
        Ok(n)
    }

    pub(super) fn apply(&self, w: &ComplianceWrite) -> Result<Applied, StoreError> {
        let context = "applying a compliance decision";
        self.write(context, |tx| {
            if let Some(a) = &w.audit {
                let n = tx
                    .execute(
                        "INSERT INTO audit_record (submitter_id, period, period_start_ms, period_end_ms, at_ms,
                             npi_verdict, aaa_verdict, figures, actions)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (submitter_id, period) DO NOTHING",
                        params![
                            a.submitter,
                            a.period,
                            ms(a.period_start),
                            ms(a.period_end),
                            ms(a.at),
                            a.npi_verdict,
                            a.aaa_verdict,
                            a.figures,
                            a.actions
                        ],
                    )
                    .map_err(sq(context))?;
                if n == 0 {
                    // The rollback on drop leaves everything as it was.
                    return Ok(Applied::AlreadyAudited);
                }
            }
            if let Some(c) = &w.standing {
                let (s0, u0, n0, t0) = standing_params(&c.expect);
                let (s1, u1, n1, t1) = standing_params(&c.to);
                let n = tx
                    .execute(
                        "UPDATE submitter SET status = ?1, suspended_until_ms = ?2, suspensions = ?3, terminations = ?4
                         WHERE id = ?5 AND status = ?6 AND suspended_until_ms IS ?7 AND suspensions = ?8
                             AND terminations = ?9",
                        params![s1, u1, n1, t1, c.submitter, s0, u0, n0, t0],
                    )
                    .map_err(sq(context))?;
                if n != 1 {
                    return Err(StoreError::Conflict(format!("the standing of submitter {}", c.submitter)));
                }
            }
            for r in &w.relationships {
                let n = tx
                    .execute(
                        "UPDATE relationship SET status = ?1 WHERE submitter_id = ?2 AND npi = ?3 AND status = ?4",
                        params![r.to.as_str(), r.submitter, r.npi, r.expect.as_str()],
                    )
                    .map_err(sq(context))?;
                if n != 1 {
                    return Err(StoreError::Conflict(format!(
                        "the relationship of {} with NPI {}",
                        r.submitter, r.npi
                    )));
                }
            }
            for c in &w.cases {
                let k = &c.case;
                let n = match &c.expect {
                    None => tx
                        .execute(
                            "INSERT INTO aaa_case (id, submitter_id, period, opened_ms, deadline_ms, state, figures)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
                            params![k.id, k.submitter, k.period, ms(k.opened), ms(k.deadline), k.state, k.figures],
                        )
                        .map_err(sq(context))?,
                    Some(expect) => tx
                        .execute(
                            "UPDATE aaa_case SET state = ?1, deadline_ms = ?2 WHERE id = ?3 AND state = ?4",
                            params![k.state, ms(k.deadline), k.id, expect],
                        )
                        .map_err(sq(context))?,
                };
                if n != 1 {
                    return Err(StoreError::Conflict(format!("AAA case {}", k.id)));
                }
            }
            for c in &w.caps {
                let p = &c.cap;
                let n = match c.expect {
                    None => tx
                        .execute(
                            "INSERT INTO cap (id, submitter_id, subject, understanding, steps, expected_reduction,
                                 submitted_ms, submitted_by, state, decided_ms, decided_by, comment)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (id) DO NOTHING",
                            params![
                                p.id,
                                p.submitter,
                                p.subject,
                                p.understanding,
                                p.steps,
                                p.expected_reduction,
                                ms(p.submitted),
                                p.submitted_by,
                                p.state.as_str(),
                                p.decided.map(ms),
                                p.decided_by,
                                p.comment
                            ],
                        )
                        .map_err(sq(context))?,
                    Some(expect) => tx
                        .execute(
                            "UPDATE cap SET state = ?1, decided_ms = ?2, decided_by = ?3, comment = ?4
                             WHERE id = ?5 AND state = ?6",
                            params![
                                p.state.as_str(),
                                p.decided.map(ms),
                                p.decided_by,
                                p.comment,
                                p.id,
                                expect.as_str()
                            ],
                        )
                        .map_err(sq(context))?,
                };
                if n != 1 {
                    return Err(StoreError::Conflict(format!("corrective action plan {}", p.id)));
                }
            }
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO status_change (at_ms, submitter_id, subject, from_state, to_state, reason, actor)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .map_err(sq(context))?;
                for c in &w.changes {
                    stmt.execute(params![ms(c.at), c.submitter, c.subject, c.from, c.to, c.reason, c.actor])
                        .map_err(sq(context))?;
                }
            }
            enqueue_emails(tx, context, &w.emails)?;
            Ok(Applied::Written)
        })
    }

    pub(super) fn audits(&self, submitter: Option<&str>, from: &str, to: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let context = "reading audit records";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT submitter_id, period, period_start_ms, period_end_ms, at_ms, npi_verdict, aaa_verdict,
                     figures, actions FROM audit_record
                 WHERE period >= ?1 AND period <= ?2 AND (?3 IS NULL OR submitter_id = ?3)
                 ORDER BY period, submitter_id",
            )
            .map_err(sq(context))?;
        let rows = stmt
            .query_map(params![from, to, submitter], |r| {
                Ok(AuditRecord {
                    submitter: r.get(0)?,
                    period: r.get(1)?,
                    period_start: at(r.get(2)?),
                    period_end: at(r.get(3)?),
                    at: at(r.get(4)?),
                    npi_verdict: r.get(5)?,
                    aaa_verdict: r.get(6)?,
                    figures: r.get(7)?,
                    actions: r.get(8)?,
                })
            })
            .map_err(sq(context))?;
        rows.collect::<Result<_, _>>().map_err(sq(context))
    }

    pub(super) fn cases(&self, submitter: Option<&str>) -> Result<Vec<AaaCaseRow>, StoreError> {
        let context = "reading AAA cases";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, submitter_id, period, opened_ms, deadline_ms, state, figures FROM aaa_case
                 WHERE ?1 IS NULL OR submitter_id = ?1 ORDER BY opened_ms, id",
            )
            .map_err(sq(context))?;
        let rows = stmt.query_map(params![submitter], case_from_row).map_err(sq(context))?;
        rows.collect::<Result<_, _>>().map_err(sq(context))
    }

    pub(super) fn all_caps(&self, submitter: Option<&str>) -> Result<Vec<Cap>, StoreError> {
        let context = "reading corrective action plans";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, submitter_id, subject, understanding, steps, expected_reduction, submitted_ms,
                     submitted_by, state, decided_ms, decided_by, comment FROM cap
                 WHERE ?1 IS NULL OR submitter_id = ?1 ORDER BY submitted_ms, id",
            )
            .map_err(sq(context))?;
        let rows = stmt
            .query_map(params![submitter], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                    r.get(11)?,
                ))
            })
            .map_err(sq(context))?;
        rows.map(|r| r.map_err(sq(context)).and_then(cap)).collect()
    }

    pub(super) fn changes(&self, submitter: Option<&str>, limit: u32) -> Result<Vec<StatusChange>, StoreError> {
        let context = "reading compliance history";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, at_ms, submitter_id, subject, from_state, to_state, reason, actor FROM status_change
                 WHERE ?1 IS NULL OR submitter_id = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(sq(context))?;
        let rows = stmt
            .query_map(params![submitter, limit], |r| {
                Ok(StatusChange {
                    id: r.get(0)?,
                    at: at(r.get(1)?),
                    submitter: r.get(2)?,
                    subject: r.get(3)?,
                    from: r.get(4)?,
                    to: r.get(5)?,
                    reason: r.get(6)?,
                    actor: r.get(7)?,
                })
            })
            .map_err(sq(context))?;
        rows.collect::<Result<_, _>>().map_err(sq(context))
    }

    fn outbox_query(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<OutboxMessage>, StoreError> {
        let context = "reading the outbox";
        let conn = self.readers.get()?;
        let mut stmt = conn.prepare_cached(sql).map_err(sq(context))?;
        let rows = stmt.query_map(p, outbox_from_row).map_err(sq(context))?;
        rows.map(|r| {
            let (mut m, attempts) = r.map_err(sq(context))?;
            m.attempts = small("outbox message", "attempts", attempts)?;
            Ok(m)
        })
        .collect()
    }

    pub(super) fn outbox_list(&self, limit: u32) -> Result<Vec<OutboxMessage>, StoreError> {
        self.outbox_query(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?1"), params![limit])
    }

    pub(super) fn due(&self, now: Instant, limit: u32) -> Result<Vec<OutboxMessage>, StoreError> {
        self.outbox_query(
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE sent_ms IS NULL AND gave_up = 0 AND next_attempt_ms <= ?1
                 ORDER BY next_attempt_ms, id LIMIT ?2"
            ),
            params![ms(now), limit],
        )
    }

    pub(super) fn sent(&self, id: i64, when: Instant) -> Result<(), StoreError> {
        let context = "recording an email delivery";
        self.write(context, |tx| {
            tx.execute("UPDATE outbox SET sent_ms = ?1, attempts = attempts + 1 WHERE id = ?2", params![ms(when), id])
                .map_err(sq(context))?;
            Ok(())
        })
    }

    pub(super) fn failed(
        &self,
        id: i64,
        attempts: u32,
        next: Instant,
        gave_up: bool,
        error: &str,
    ) -> Result<(), StoreError> {
        let context = "recording an email failure";
        self.write(context, |tx| {
            tx.execute(
                "UPDATE outbox SET attempts = ?1, next_attempt_ms = ?2, gave_up = ?3, last_error = ?4 WHERE id = ?5",
                params![attempts, ms(next), gave_up, error, id],
            )
            .map_err(sq(context))?;
            Ok(())
        })
    }

    pub(super) fn exclusive(&self, name: &str) -> Result<Option<Box<dyn Held + '_>>, StoreError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if !held.insert(name.to_string()) {
            return Ok(None);
        }
        Ok(Some(Box::new(LocalLock { held: &self.held, name: name.to_string() })))
    }

    pub(super) fn one_submitter(&self, id: &str) -> Result<Option<Submitter>, StoreError> {
        let context = "reading a submitter";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {SUBMITTER_COLUMNS} FROM submitter WHERE id = ?1"))
            .map_err(sq(context))?;
        let row = stmt.query_row([id], submitter_from_row).optional().map_err(sq(context))?;
        row.map(submitter).transpose()
    }
}

/// Queues emails in the outbox, inside the caller's transaction (so a notice is sent if and
/// only if the change it announces is written).
pub(super) fn enqueue_emails(
    tx: &rusqlite::Connection,
    context: &'static str,
    emails: &[crate::OutboxMessage],
) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO outbox (created_ms, kind, submitter_id, to_addr, subject, text_body, html_body,
                 next_attempt_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(sq(context))?;
    for m in emails {
        stmt.execute(params![ms(m.created), m.kind, m.submitter, m.to, m.subject, m.text, m.html, ms(m.next_attempt)])
            .map_err(sq(context))?;
    }
    Ok(())
}
