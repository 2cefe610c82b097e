//! The compliance tables on PostgreSQL (see [`crate::compliance`]).

use super::{PgStore, get, pg, small};
use crate::codec::{self, instant_to_millis as ms, millis_to_instant as at, need};
use crate::compliance::{
    AaaCaseRow, Applied, AuditRecord, Cap, CapState, ComplianceWrite, Held, OutboxMessage, Standing, StatusChange,
};
use crate::pool::Pooled;
use crate::{StoreError, Submitter, TransactionRecord};
use eligibility::Instant;
use postgres::Row;
use postgres::fallible_iterator::FallibleIterator;

/// Column lists shared by several statements; macros so that `concat!` builds each statement as
/// one `'static` literal (the connection caches prepared statements by their text).
macro_rules! submitter_columns {
    () => {
        "id, name, email, status, suspended_until_ms, suspensions, terminations"
    };
}

macro_rules! outbox_columns {
    () => {
        "id, created_ms, kind, submitter_id, to_addr, subject, text_body, html_body,
         next_attempt_ms, attempts, sent_ms, gave_up, last_error"
    };
}

pub(super) fn submitter(r: &Row) -> Result<Submitter, StoreError> {
    let what = "submitter";
    let status: &str = get(r, what, 3)?;
    Ok(Submitter {
        id: get(r, what, 0)?,
        name: get(r, what, 1)?,
        email: get(r, what, 2)?,
        status: need(what, "status", status, codec::parse_submitter_status(status))?,
        suspended_until: get::<Option<i64>>(r, what, 4)?.map(at),
        suspensions: small(what, "suspensions", i64::from(get::<i32>(r, what, 5)?))?,
        terminations: small(what, "terminations", i64::from(get::<i32>(r, what, 6)?))?,
    })
}

fn case(r: &Row) -> Result<AaaCaseRow, StoreError> {
    let what = "AAA case";
    Ok(AaaCaseRow {
        id: get(r, what, 0)?,
        submitter: get(r, what, 1)?,
        period: get(r, what, 2)?,
        opened: at(get(r, what, 3)?),
        deadline: at(get(r, what, 4)?),
        state: get(r, what, 5)?,
        figures: get(r, what, 6)?,
    })
}

fn cap(r: &Row) -> Result<Cap, StoreError> {
    let what = "corrective action plan";
    let state: &str = get(r, what, 8)?;
    Ok(Cap {
        id: get(r, what, 0)?,
        submitter: get(r, what, 1)?,
        subject: get(r, what, 2)?,
        understanding: get(r, what, 3)?,
        steps: get(r, what, 4)?,
        expected_reduction: get(r, what, 5)?,
        submitted: at(get(r, what, 6)?),
        submitted_by: get(r, what, 7)?,
        state: need(what, "state", state, CapState::parse(state))?,
        decided: get::<Option<i64>>(r, what, 9)?.map(at),
        decided_by: get(r, what, 10)?,
        comment: get(r, what, 11)?,
    })
}

fn outbox_message(r: &Row) -> Result<OutboxMessage, StoreError> {
    let what = "outbox message";
    Ok(OutboxMessage {
        id: get(r, what, 0)?,
        created: at(get(r, what, 1)?),
        kind: get(r, what, 2)?,
        submitter: get(r, what, 3)?,
        to: get(r, what, 4)?,
        subject: get(r, what, 5)?,
        text: get(r, what, 6)?,
        html: get(r, what, 7)?,
        next_attempt: at(get(r, what, 8)?),
        attempts: small(what, "attempts", i64::from(get::<i32>(r, what, 9)?))?,
        sent: get::<Option<i64>>(r, what, 10)?.map(at),
        gave_up: get(r, what, 11)?,
        last_error: get(r, what, 12)?,
    })
}

fn standing_params(s: &Standing) -> (&'static str, Option<i64>, i32, i32) {
    (
        codec::submitter_status_text(s.status),
        s.suspended_until.map(ms),
        i32::from(s.suspensions),
        i32::from(s.terminations),
    )
}

/// A session advisory lock: released when dropped (or when the connection ends, so a crashed
/// node never holds it for ever).
struct AdvisoryLock<'a> {
    conn: Pooled<'a, super::PgConn>,
    key: i64,
}

impl Held for AdvisoryLock<'_> {}

impl Drop for AdvisoryLock<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.conn.client.execute("SELECT pg_advisory_unlock($1)", &[&self.key]) {
            tracing::warn!(error = %super::describe(&e), "releasing an advisory lock; it ends with the connection");
        }
    }
}

/// A stable 64-bit key for a lock name (FNV-1a: the same on every node and every build).
fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

impl PgStore {
    pub(super) fn all_submitters(&self) -> Result<Vec<Submitter>, StoreError> {
        let rows = self.query(
            "reading submitters",
            concat!("SELECT ", submitter_columns!(), " FROM submitter ORDER BY id"),
            &[],
        )?;
        rows.iter().map(submitter).collect()
    }

    pub(super) fn one_submitter(&self, id: &str) -> Result<Option<Submitter>, StoreError> {
        let row = self.query_opt(
            "reading a submitter",
            concat!("SELECT ", submitter_columns!(), " FROM submitter WHERE id = $1"),
            &[&id],
        )?;
        row.as_ref().map(submitter).transpose()
    }

    pub(super) fn scan(
        &self,
        submitter: &str,
        from: Instant,
        to: Instant,
        each: &mut dyn FnMut(&TransactionRecord),
    ) -> Result<u64, StoreError> {
        let context = "reading transaction records";
        let mut conn = self.pool.get()?;
        let stmt = conn.statement(
            context,
            "SELECT id, at_ms, submitter_id, npi, mbi, outcome, aaa_codes, service_types, duration_us
             FROM transaction_record
             WHERE submitter_id = $1 AND at_ms >= $2 AND at_ms < $3 ORDER BY at_ms, id",
        )?;
        let (f, t) = (ms(from), ms(to));
        let params: [&(dyn postgres::types::ToSql + Sync); 3] = [&submitter, &f, &t];
        // Rows stream as they arrive: a day of a busy submitter is never held in memory whole.
        let mut rows = conn.client.query_raw(&stmt, params).map_err(pg(context))?;
        let what = "transaction record";
        let mut n = 0;
        while let Some(r) = rows.next().map_err(pg(context))? {
            let record = TransactionRecord {
                at: at(get(&r, what, 1)?),
                submitter: get(&r, what, 2)?,
                npi: get(&r, what, 3)?,
                mbi: get(&r, what, 4)?,
                outcome: codec::outcome(get(&r, what, 5)?)?,
                aaa_codes: codec::split_codes(get(&r, what, 6)?),
                service_types: codec::split_codes(get(&r, what, 7)?),
                duration_micros: small(what, "duration_us", get(&r, what, 8)?)?,
            };
            each(&record);
            n += 1;
        }
        Ok(n)
    }

    pub(super) fn apply(&self, w: &ComplianceWrite) -> Result<Applied, StoreError> {
        let context = "applying a compliance decision";
        let mut conn = self.pool.get()?;
        let mut tx = conn.client.transaction().map_err(pg(context))?;
        if let Some(a) = &w.audit {
            let n = tx
                .execute(
                    "INSERT INTO audit_record (submitter_id, period, period_start_ms, period_end_ms, at_ms,
                         npi_verdict, aaa_verdict, figures, actions)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (submitter_id, period) DO NOTHING",
                    &[
                        &a.submitter,
                        &a.period,
                        &ms(a.period_start),
                        &ms(a.period_end),
                        &ms(a.at),
                        &a.npi_verdict,
                        &a.aaa_verdict,
                        &a.figures,
                        &a.actions,
                    ],
                )
                .map_err(pg(context))?;
            if n == 0 {
                // Dropping the transaction rolls it back.
                return Ok(Applied::AlreadyAudited);
            }
        }
        if let Some(c) = &w.standing {
            let (s0, u0, n0, t0) = standing_params(&c.expect);
            let (s1, u1, n1, t1) = standing_params(&c.to);
            let n = tx
                .execute(
                    "UPDATE submitter SET status = $1, suspended_until_ms = $2, suspensions = $3, terminations = $4
                     WHERE id = $5 AND status = $6 AND suspended_until_ms IS NOT DISTINCT FROM $7
                         AND suspensions = $8 AND terminations = $9",
                    &[&s1, &u1, &n1, &t1, &c.submitter, &s0, &u0, &n0, &t0],
                )
                .map_err(pg(context))?;
            if n != 1 {
                return Err(StoreError::Conflict(format!("the standing of submitter {}", c.submitter)));
            }
        }
        for r in &w.relationships {
            let n = tx
                .execute(
                    "UPDATE relationship SET status = $1 WHERE submitter_id = $2 AND npi = $3 AND status = $4",
                    &[&r.to.as_str(), &r.submitter, &r.npi, &r.expect.as_str()],
                )
                .map_err(pg(context))?;
            if n != 1 {
                return Err(StoreError::Conflict(format!("the relationship of {} with NPI {}", r.submitter, r.npi)));
            }
        }
        for c in &w.cases {
            let k = &c.case;
            let n = match &c.expect {
                None => tx.execute(
                    "INSERT INTO aaa_case (id, submitter_id, period, opened_ms, deadline_ms, state, figures)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                    &[&k.id, &k.submitter, &k.period, &ms(k.opened), &ms(k.deadline), &k.state, &k.figures],
                ),
                Some(expect) => tx.execute(
                    "UPDATE aaa_case SET state = $1, deadline_ms = $2 WHERE id = $3 AND state = $4",
                    &[&k.state, &ms(k.deadline), &k.id, expect],
                ),
            }
            .map_err(pg(context))?;
            if n != 1 {
                return Err(StoreError::Conflict(format!("AAA case {}", k.id)));
            }
        }
        for c in &w.caps {
            let p = &c.cap;
            let decided = p.decided.map(ms);
            let n = match c.expect {
                None => tx.execute(
                    "INSERT INTO cap (id, submitter_id, subject, understanding, steps, expected_reduction,
                         submitted_ms, submitted_by, state, decided_ms, decided_by, comment)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING",
                    &[
                        &p.id,
                        &p.submitter,
                        &p.subject,
                        &p.understanding,
                        &p.steps,
                        &p.expected_reduction,
                        &ms(p.submitted),
                        &p.submitted_by,
                        &p.state.as_str(),
                        &decided,
                        &p.decided_by,
                        &p.comment,
                    ],
                ),
                Some(expect) => tx.execute(
                    "UPDATE cap SET state = $1, decided_ms = $2, decided_by = $3, comment = $4
                     WHERE id = $5 AND state = $6",
                    &[&p.state.as_str(), &decided, &p.decided_by, &p.comment, &p.id, &expect.as_str()],
                ),
            }
            .map_err(pg(context))?;
            if n != 1 {
                return Err(StoreError::Conflict(format!("corrective action plan {}", p.id)));
            }
        }
        for c in &w.changes {
            tx.execute(
                "INSERT INTO status_change (at_ms, submitter_id, subject, from_state, to_state, reason, actor)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[&ms(c.at), &c.submitter, &c.subject, &c.from, &c.to, &c.reason, &c.actor],
            )
            .map_err(pg(context))?;
        }
        enqueue_emails(&mut tx, context, &w.emails)?;
        tx.commit().map_err(pg(context))?;
        Ok(Applied::Written)
    }

    pub(super) fn audits(&self, submitter: Option<&str>, from: &str, to: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = self.query(
            "reading audit records",
            "SELECT submitter_id, period, period_start_ms, period_end_ms, at_ms, npi_verdict, aaa_verdict,
                 figures, actions FROM audit_record
             WHERE period >= $1 AND period <= $2 AND ($3::text IS NULL OR submitter_id = $3)
             ORDER BY period, submitter_id",
            &[&from, &to, &submitter],
        )?;
        let what = "audit record";
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    submitter: get(r, what, 0)?,
                    period: get(r, what, 1)?,
                    period_start: at(get(r, what, 2)?),
                    period_end: at(get(r, what, 3)?),
                    at: at(get(r, what, 4)?),
                    npi_verdict: get(r, what, 5)?,
                    aaa_verdict: get(r, what, 6)?,
                    figures: get(r, what, 7)?,
                    actions: get(r, what, 8)?,
                })
            })
            .collect()
    }

    pub(super) fn cases(&self, submitter: Option<&str>) -> Result<Vec<AaaCaseRow>, StoreError> {
        let rows = self.query(
            "reading AAA cases",
            "SELECT id, submitter_id, period, opened_ms, deadline_ms, state, figures FROM aaa_case
             WHERE $1::text IS NULL OR submitter_id = $1 ORDER BY opened_ms, id",
            &[&submitter],
        )?;
        rows.iter().map(case).collect()
    }

    pub(super) fn all_caps(&self, submitter: Option<&str>) -> Result<Vec<Cap>, StoreError> {
        let rows = self.query(
            "reading corrective action plans",
            "SELECT id, submitter_id, subject, understanding, steps, expected_reduction, submitted_ms,
                 submitted_by, state, decided_ms, decided_by, comment FROM cap
             WHERE $1::text IS NULL OR submitter_id = $1 ORDER BY submitted_ms, id",
            &[&submitter],
        )?;
        rows.iter().map(cap).collect()
    }

    pub(super) fn changes(&self, submitter: Option<&str>, limit: u32) -> Result<Vec<StatusChange>, StoreError> {
        let rows = self.query(
            "reading compliance history",
            "SELECT id, at_ms, submitter_id, subject, from_state, to_state, reason, actor FROM status_change
             WHERE $1::text IS NULL OR submitter_id = $1 ORDER BY id DESC LIMIT $2",
            &[&submitter, &i64::from(limit)],
        )?;
        let what = "status change";
        rows.iter()
            .map(|r| {
                Ok(StatusChange {
                    id: get(r, what, 0)?,
                    at: at(get(r, what, 1)?),
                    submitter: get(r, what, 2)?,
                    subject: get(r, what, 3)?,
                    from: get(r, what, 4)?,
                    to: get(r, what, 5)?,
                    reason: get(r, what, 6)?,
                    actor: get(r, what, 7)?,
                })
            })
            .collect()
    }

    pub(super) fn outbox_list(&self, limit: u32) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = self.query(
            "reading the outbox",
            concat!("SELECT ", outbox_columns!(), " FROM outbox ORDER BY id DESC LIMIT $1"),
            &[&i64::from(limit)],
        )?;
        rows.iter().map(outbox_message).collect()
    }

    pub(super) fn due(&self, now: Instant, limit: u32) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = self.query(
            "reading the outbox",
            concat!(
                "SELECT ",
                outbox_columns!(),
                " FROM outbox WHERE sent_ms IS NULL AND NOT gave_up AND next_attempt_ms <= $1
                  ORDER BY next_attempt_ms, id LIMIT $2"
            ),
            &[&ms(now), &i64::from(limit)],
        )?;
        rows.iter().map(outbox_message).collect()
    }

    pub(super) fn sent(&self, id: i64, when: Instant) -> Result<(), StoreError> {
        self.write(
            "recording an email delivery",
            "UPDATE outbox SET sent_ms = $1, attempts = attempts + 1 WHERE id = $2",
            &[&ms(when), &id],
        )
    }

    pub(super) fn failed(
        &self,
        id: i64,
        attempts: u32,
        next: Instant,
        gave_up: bool,
        error: &str,
    ) -> Result<(), StoreError> {
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        self.write(
            "recording an email failure",
            "UPDATE outbox SET attempts = $1, next_attempt_ms = $2, gave_up = $3, last_error = $4 WHERE id = $5",
            &[&attempts, &ms(next), &gave_up, &error, &id],
        )
    }

    pub(super) fn exclusive(&self, name: &str) -> Result<Option<Box<dyn Held + '_>>, StoreError> {
        let context = "taking an advisory lock";
        let mut conn = self.pool.get()?;
        let key = lock_key(name);
        let got: bool = conn.client.query_one("SELECT pg_try_advisory_lock($1)", &[&key]).map_err(pg(context))?.get(0);
        Ok(got.then(|| Box::new(AdvisoryLock { conn, key }) as Box<dyn Held + '_>))
    }
}

/// Queues emails in the outbox, inside the caller's transaction (so a notice is sent if and
/// only if the change it announces is written).
pub(super) fn enqueue_emails(
    tx: &mut postgres::Transaction<'_>,
    context: &'static str,
    emails: &[crate::OutboxMessage],
) -> Result<(), StoreError> {
    if emails.is_empty() {
        return Ok(());
    }
    let stmt = tx
        .prepare(
            "INSERT INTO outbox (created_ms, kind, submitter_id, to_addr, subject, text_body, html_body,
                 next_attempt_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .map_err(pg(context))?;
    for m in emails {
        tx.execute(
            &stmt,
            &[&ms(m.created), &m.kind, &m.submitter, &m.to, &m.subject, &m.text, &m.html, &ms(m.next_attempt)],
        )
        .map_err(pg(context))?;
    }
    Ok(())
}
