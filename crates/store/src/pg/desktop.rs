//! The desktop tables on PostgreSQL (see [`crate::desktop`]).

use super::{PgStore, get, pg, relationship, small};
use crate::codec::{self, instant_to_millis as ms, millis_to_instant as at, need};
use crate::desktop::{
    Attestation, AttestationState, Audience, BatchResult, Bulletin, ConnectionMethod, DesktopRole, DesktopUser,
    FreezeWindow, NewDesktopUser, NewSubmitter, RelationshipPage, Session, SignIn, SubmitterProfile, after_attempt,
    check_submitter_user,
};
use crate::sqlite::desktop::like_prefix;
use crate::{OutboxMessage, Relationship, StoreError, check_relationships, password};
use eligibility::Instant;
use postgres::Row;
use postgres::types::ToSql;

macro_rules! user_columns {
    () => {
        "username, role, submitter_id, failed_attempts, locked_until_ms, created_ms, npi"
    };
}

macro_rules! profile_columns {
    () => {
        "submitter_id, tpa_date, rob_date, connection, certificate_subject"
    };
}

fn user(r: &Row) -> Result<DesktopUser, StoreError> {
    let what = "desktop user";
    let role: &str = get(r, what, 1)?;
    Ok(DesktopUser {
        username: get(r, what, 0)?,
        role: need(what, "role", role, DesktopRole::parse(role))?,
        submitter: get(r, what, 2)?,
        npi: get(r, what, 6)?,
        failed_attempts: small(what, "failed_attempts", i64::from(get::<i32>(r, what, 3)?))?,
        locked_until: get::<Option<i64>>(r, what, 4)?.map(at),
        created: at(get(r, what, 5)?),
    })
}

fn profile(r: &Row) -> Result<SubmitterProfile, StoreError> {
    let what = "submitter profile";
    let connection: &str = get(r, what, 3)?;
    Ok(SubmitterProfile {
        submitter: get(r, what, 0)?,
        tpa_date: codec::parse_opt_date(what, get(r, what, 1)?)?,
        rob_date: codec::parse_opt_date(what, get(r, what, 2)?)?,
        connection: need(what, "connection", connection, ConnectionMethod::parse(connection))?,
        certificate_subject: get(r, what, 4)?,
    })
}

fn attestation(r: &Row) -> Result<Attestation, StoreError> {
    let what = "provider attestation";
    let state: &str = get(r, what, 2)?;
    Ok(Attestation {
        npi: get(r, what, 0)?,
        submitter: get(r, what, 1)?,
        state: need(what, "state", state, AttestationState::parse(state))?,
        at: at(get(r, what, 3)?),
    })
}

fn bulletin(r: &Row) -> Result<Bulletin, StoreError> {
    let what = "bulletin";
    let audience: &str = get(r, what, 4)?;
    Ok(Bulletin {
        id: get(r, what, 0)?,
        release: get(r, what, 1)?,
        title: get(r, what, 2)?,
        body: get(r, what, 3)?,
        audience: need(what, "audience", audience, Audience::parse(audience))?,
        scheduled: at(get(r, what, 5)?),
        sent: get::<Option<i64>>(r, what, 6)?.map(at),
    })
}

const PUT_PROFILE: &str = concat!(
    "INSERT INTO submitter_profile (",
    profile_columns!(),
    ") VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (submitter_id) DO UPDATE SET tpa_date = excluded.tpa_date, rob_date = excluded.rob_date,
         connection = excluded.connection, certificate_subject = excluded.certificate_subject"
);

fn put_profile(
    tx: &mut postgres::Transaction<'_>,
    p: &SubmitterProfile,
    context: &'static str,
) -> Result<(), StoreError> {
    tx.execute(
        PUT_PROFILE,
        &[
            &p.submitter,
            &p.tpa_date.map(codec::date_text),
            &p.rob_date.map(codec::date_text),
            &p.connection.as_str(),
            &p.certificate_subject,
        ],
    )
    .map_err(pg(context))?;
    Ok(())
}

impl PgStore {
    /// Runs one statement in its own transaction and returns the rows it changed.
    fn exec(
        &self,
        context: &'static str,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let mut conn = self.pool.get()?;
        let stmt = conn.statement(context, sql)?;
        conn.client.execute(&stmt, params).map_err(pg(context))
    }

    pub(super) fn d_put_user(&self, u: &NewDesktopUser, now: Instant) -> Result<(), StoreError> {
        check_submitter_user(u)?;
        let hash = password::hash(&u.password)?;
        self.exec(
            "writing a desktop user",
            "INSERT INTO desktop_user (username, role, submitter_id, password_hash, failed_attempts, locked_until_ms,
                 created_ms, npi) VALUES ($1, $2, $3, $4, 0, NULL, $5, $6)
             ON CONFLICT (username) DO UPDATE SET role = excluded.role, submitter_id = excluded.submitter_id,
                 npi = excluded.npi, password_hash = excluded.password_hash, failed_attempts = 0,
                 locked_until_ms = NULL",
            &[&u.username, &u.role.as_str(), &u.submitter, &hash, &ms(now), &u.npi],
        )?;
        Ok(())
    }

    pub(super) fn d_user(&self, username: &str) -> Result<Option<DesktopUser>, StoreError> {
        let row = self.query_opt(
            "reading a desktop user",
            concat!("SELECT ", user_columns!(), " FROM desktop_user WHERE username = $1"),
            &[&username],
        )?;
        row.as_ref().map(user).transpose()
    }

    pub(super) fn d_users(&self) -> Result<Vec<DesktopUser>, StoreError> {
        let rows = self.query(
            "reading desktop users",
            concat!("SELECT ", user_columns!(), " FROM desktop_user ORDER BY username"),
            &[],
        )?;
        rows.iter().map(user).collect()
    }

    pub(super) fn d_verify(&self, username: &str, pass: &str, now: Instant) -> Result<SignIn, StoreError> {
        let context = "signing in to the desktop";
        let row = self.query_opt(
            context,
            concat!("SELECT ", user_columns!(), ", password_hash FROM desktop_user WHERE username = $1"),
            &[&username],
        )?;
        let Some(row) = row else {
            // Same cost as a wrong password: the answer does not tell which usernames exist.
            password::verify(None, pass)?;
            return Ok(SignIn::Wrong);
        };
        let before = user(&row)?;
        if before.locked_until.is_some_and(|u| u > now) {
            return Ok(after_attempt(&before, false, now).2);
        }
        let hash: String = get(&row, "desktop user", 7)?;
        // The slow hash runs before the transaction; the counters are then updated from the row
        // locked FOR UPDATE, so concurrent attempts (on any node) all count.
        let ok = password::verify(Some(&hash), pass)?;
        let mut conn = self.pool.get()?;
        let mut tx = conn.client.transaction().map_err(pg(context))?;
        let Some(row) = tx
            .query_opt(
                concat!("SELECT ", user_columns!(), " FROM desktop_user WHERE username = $1 FOR UPDATE"),
                &[&username],
            )
            .map_err(pg(context))?
        else {
            return Ok(SignIn::Wrong);
        };
        let current = user(&row)?;
        let (failed, locked, answer) = after_attempt(&current, ok, now);
        let failed = i32::try_from(failed).unwrap_or(i32::MAX);
        tx.execute(
            "UPDATE desktop_user SET failed_attempts = $2, locked_until_ms = $3 WHERE username = $1",
            &[&username, &failed, &locked.map(ms)],
        )
        .map_err(pg(context))?;
        tx.commit().map_err(pg(context))?;
        Ok(answer)
    }

    pub(super) fn d_unlock(&self, username: &str) -> Result<bool, StoreError> {
        let n = self.exec(
            "unlocking a desktop user",
            "UPDATE desktop_user SET failed_attempts = 0, locked_until_ms = NULL WHERE username = $1",
            &[&username],
        )?;
        Ok(n > 0)
    }

    pub(super) fn d_create_session(&self, s: &Session) -> Result<(), StoreError> {
        self.exec(
            "creating a desktop session",
            "INSERT INTO desktop_session (token_hash, username, csrf_token, created_ms, last_seen_ms)
             VALUES ($1, $2, $3, $4, $5)",
            &[&s.token_hash, &s.username, &s.csrf, &ms(s.created), &ms(s.last_seen)],
        )?;
        Ok(())
    }

    pub(super) fn d_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let row = self.query_opt(
            "reading a desktop session",
            "SELECT token_hash, username, csrf_token, created_ms, last_seen_ms FROM desktop_session
             WHERE token_hash = $1",
            &[&token_hash],
        )?;
        let what = "desktop session";
        row.map(|r| {
            Ok(Session {
                token_hash: get(&r, what, 0)?,
                username: get(&r, what, 1)?,
                csrf: get(&r, what, 2)?,
                created: at(get(&r, what, 3)?),
                last_seen: at(get(&r, what, 4)?),
            })
        })
        .transpose()
    }

    pub(super) fn d_touch_session(&self, token_hash: &str, now: Instant) -> Result<bool, StoreError> {
        let n = self.exec(
            "touching a desktop session",
            "UPDATE desktop_session SET last_seen_ms = $2 WHERE token_hash = $1",
            &[&token_hash, &ms(now)],
        )?;
        Ok(n > 0)
    }

    pub(super) fn d_delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let n = self.exec(
            "deleting a desktop session",
            "DELETE FROM desktop_session WHERE token_hash = $1",
            &[&token_hash],
        )?;
        Ok(n > 0)
    }

    pub(super) fn d_profile(&self, submitter: &str) -> Result<Option<SubmitterProfile>, StoreError> {
        let row = self.query_opt(
            "reading a submitter profile",
            concat!("SELECT ", profile_columns!(), " FROM submitter_profile WHERE submitter_id = $1"),
            &[&submitter],
        )?;
        row.as_ref().map(profile).transpose()
    }

    pub(super) fn d_profiles(&self) -> Result<Vec<SubmitterProfile>, StoreError> {
        let rows = self.query(
            "reading submitter profiles",
            concat!("SELECT ", profile_columns!(), " FROM submitter_profile ORDER BY submitter_id"),
            &[],
        )?;
        rows.iter().map(profile).collect()
    }

    pub(super) fn d_put_profile(&self, p: &SubmitterProfile) -> Result<(), StoreError> {
        let context = "writing a submitter profile";
        let mut conn = self.pool.get()?;
        let mut tx = conn.client.transaction().map_err(pg(context))?;
        put_profile(&mut tx, p, context)?;
        tx.commit().map_err(pg(context))
    }

    pub(super) fn d_create_submitter(&self, s: &NewSubmitter) -> Result<(), StoreError> {
        let context = "creating a submitter";
        let hash = password::hash(&s.password)?;
        let mut conn = self.pool.get()?;
        let mut tx = conn.client.transaction().map_err(pg(context))?;
        let n = tx
            .execute(
                "INSERT INTO submitter (id, name, email, status, suspended_until_ms, suspensions, password_hash)
                 VALUES ($1, $2, $3, 'active', NULL, 0, $4) ON CONFLICT (id) DO NOTHING",
                &[&s.id, &s.name, &s.email, &hash],
            )
            .map_err(pg(context))?;
        if n == 0 {
            return Err(StoreError::Conflict(format!("submitter {}", s.id)));
        }
        put_profile(&mut tx, &SubmitterProfile { submitter: s.id.clone(), ..s.profile.clone() }, context)?;
        tx.commit().map_err(pg(context))
    }

    pub(super) fn d_delete_relationship(&self, submitter: &str, npi: &str) -> Result<bool, StoreError> {
        let n = self.exec(
            "deleting a relationship",
            "DELETE FROM relationship WHERE submitter_id = $1 AND npi = $2",
            &[&submitter, &npi],
        )?;
        Ok(n > 0)
    }

    pub(super) fn d_search(
        &self,
        submitter: &str,
        search: &str,
        offset: u32,
        limit: u32,
    ) -> Result<RelationshipPage, StoreError> {
        let context = "searching relationships";
        let pattern = like_prefix(search.trim());
        let total = self
            .query_opt(
                context,
                "SELECT count(*) FROM relationship WHERE submitter_id = $1 AND npi LIKE $2 ESCAPE '\\'",
                &[&submitter, &pattern],
            )?
            .map(|r| get::<i64>(&r, "relationship", 0))
            .transpose()?
            .unwrap_or(0);
        let (limit, offset) = (i64::from(limit), i64::from(offset));
        let rows = self.query(
            context,
            "SELECT submitter_id, npi, status, to_char(effective_date, 'YYYY-MM-DD'), to_char(end_date, 'YYYY-MM-DD')
             FROM relationship WHERE submitter_id = $1 AND npi LIKE $2 ESCAPE '\\'
             ORDER BY npi LIMIT $3 OFFSET $4",
            &[&submitter, &pattern, &limit, &offset],
        )?;
        let items = rows.iter().map(relationship).collect::<Result<Vec<_>, _>>()?;
        Ok(RelationshipPage { items, total: u64::try_from(total).unwrap_or(0) })
    }

    /// The relationship changes of one submitter and, for an HDT Batch, its result file, in one
    /// transaction; the result's id when there is one.
    pub(super) fn d_write_relationships(
        &self,
        submitter: &str,
        put: &[Relationship],
        delete: &[String],
        result: Option<&BatchResult>,
    ) -> Result<Option<i64>, StoreError> {
        check_relationships(put)?;
        if put.iter().any(|r| r.submitter != submitter) || result.is_some_and(|r| r.submitter != submitter) {
            return Err(StoreError::invalid("relationship", "a batch writes one submitter's relationships only"));
        }
        let context = "writing a batch of relationships";
        let kept = codec::last_per_key(put, |r| (r.submitter.as_str(), r.npi.as_str()));
        let npi: Vec<&str> = kept.iter().map(|r| r.npi.as_str()).collect();
        let status: Vec<&str> = kept.iter().map(|r| r.status.as_str()).collect();
        let from: Vec<String> = kept.iter().map(|r| codec::date_text(r.effective)).collect();
        let to: Vec<Option<String>> = kept.iter().map(|r| r.end.map(codec::date_text)).collect();
        let mut conn = self.pool.get()?;
        let mut tx = conn.client.transaction().map_err(pg(context))?;
        // Whole arrays through unnest: one statement per batch, not one per row.
        tx.execute(
            "INSERT INTO relationship (submitter_id, npi, status, effective_date, end_date)
             SELECT $1, n, st, d1::date, d2::date
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(n, st, d1, d2)
             ON CONFLICT (submitter_id, npi) DO UPDATE SET status = excluded.status,
                 effective_date = excluded.effective_date, end_date = excluded.end_date",
            &[&submitter, &npi, &status, &from, &to],
        )
        .map_err(pg(context))?;
        tx.execute(
            "DELETE FROM relationship WHERE submitter_id = $1 AND npi = ANY($2::text[])",
            &[&submitter, &delete],
        )
        .map_err(pg(context))?;
        let id = match result {
            Some(r) => {
                let row = tx
                    .query_one(
                        "INSERT INTO batch_result (submitter_id, username, file_name, result_name, at_ms, accepted,
                             rejected, result_csv) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                        &[
                            &r.submitter,
                            &r.username,
                            &r.file_name,
                            &r.result_name,
                            &ms(r.at),
                            &i32::try_from(r.accepted).unwrap_or(i32::MAX),
                            &i32::try_from(r.rejected).unwrap_or(i32::MAX),
                            &r.result_csv,
                        ],
                    )
                    .map_err(pg(context))?;
                Some(get::<i64>(&row, "batch result", 0)?)
            }
            None => None,
        };
        tx.commit().map_err(pg(context))?;
        Ok(id)
    }

    pub(super) fn d_batch_results(
        &self,
        submitter: &str,
        limit: u32,
        result_name: Option<&str>,
    ) -> Result<Vec<BatchResult>, StoreError> {
        let what = "batch result";
        // The file only when one is asked for by name; a listing leaves it out.
        let rows = self.query(
            "reading batch results",
            "SELECT id, submitter_id, username, file_name, result_name, at_ms, accepted, rejected,
                 CASE WHEN $2::text IS NULL THEN '' ELSE result_csv END
             FROM batch_result WHERE submitter_id = $1 AND ($2::text IS NULL OR result_name = $2)
             ORDER BY at_ms DESC, id DESC LIMIT $3",
            &[&submitter, &result_name, &i64::from(limit)],
        )?;
        rows.iter()
            .map(|r| {
                Ok(BatchResult {
                    id: get(r, what, 0)?,
                    submitter: get(r, what, 1)?,
                    username: get(r, what, 2)?,
                    file_name: get(r, what, 3)?,
                    result_name: get(r, what, 4)?,
                    at: at(get(r, what, 5)?),
                    accepted: small(what, "accepted", i64::from(get::<i32>(r, what, 6)?))?,
                    rejected: small(what, "rejected", i64::from(get::<i32>(r, what, 7)?))?,
                    result_csv: get(r, what, 8)?,
                })
            })
            .collect()
    }

    pub(super) fn d_put_attestation(&self, a: &Attestation) -> Result<(), StoreError> {
        self.exec(
            "writing a provider attestation",
            "INSERT INTO provider_attestation (npi, submitter_id, state, at_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (npi, submitter_id) DO UPDATE SET state = excluded.state, at_ms = excluded.at_ms",
            &[&a.npi, &a.submitter, &a.state.as_str(), &ms(a.at)],
        )?;
        Ok(())
    }

    pub(super) fn d_attestation(&self, npi: &str, submitter: &str) -> Result<Option<Attestation>, StoreError> {
        let row = self.query_opt(
            "reading a provider attestation",
            "SELECT npi, submitter_id, state, at_ms FROM provider_attestation WHERE npi = $1 AND submitter_id = $2",
            &[&npi, &submitter],
        )?;
        row.as_ref().map(attestation).transpose()
    }

    pub(super) fn d_attestations_where(
        &self,
        npi: &str,
        _submitter: Option<&str>,
    ) -> Result<Vec<Attestation>, StoreError> {
        let rows = self.query(
            "reading provider attestations",
            "SELECT npi, submitter_id, state, at_ms FROM provider_attestation WHERE npi = $1 ORDER BY submitter_id",
            &[&npi],
        )?;
        rows.iter().map(attestation).collect()
    }

    pub(super) fn d_add_freeze(&self, w: &FreezeWindow) -> Result<i64, StoreError> {
        if w.ends <= w.starts {
            return Err(StoreError::invalid("HDT freeze window", "it must end after it starts"));
        }
        let row = self.query_opt(
            "adding an HDT freeze window",
            "INSERT INTO hdt_freeze (starts_ms, ends_ms, reason) VALUES ($1, $2, $3) RETURNING id",
            &[&ms(w.starts), &ms(w.ends), &w.reason],
        )?;
        match row {
            Some(r) => get(&r, "HDT freeze window", 0),
            None => Err(StoreError::corrupt("HDT freeze window", "no id returned")),
        }
    }

    pub(super) fn d_freezes(&self, after: Instant) -> Result<Vec<FreezeWindow>, StoreError> {
        let rows = self.query(
            "reading HDT freeze windows",
            "SELECT id, starts_ms, ends_ms, reason FROM hdt_freeze WHERE ends_ms > $1 ORDER BY starts_ms, id",
            &[&ms(after)],
        )?;
        let what = "HDT freeze window";
        rows.iter()
            .map(|r| {
                Ok(FreezeWindow {
                    id: get(r, what, 0)?,
                    starts: at(get(r, what, 1)?),
                    ends: at(get(r, what, 2)?),
                    reason: get(r, what, 3)?,
                })
            })
            .collect()
    }

    pub(super) fn d_delete_freeze(&self, id: i64) -> Result<bool, StoreError> {
        let n = self.exec("deleting an HDT freeze window", "DELETE FROM hdt_freeze WHERE id = $1", &[&id])?;
        Ok(n > 0)
    }

    pub(super) fn d_add_bulletin(&self, b: &Bulletin) -> Result<i64, StoreError> {
        let row = self.query_opt(
            "adding a bulletin",
            "INSERT INTO bulletin (release, title, body, audience, scheduled_ms, sent_ms)
             VALUES ($1, $2, $3, $4, $5, NULL) RETURNING id",
            &[&b.release, &b.title, &b.body, &b.audience.as_str(), &ms(b.scheduled)],
        )?;
        match row {
            Some(r) => get(&r, "bulletin", 0),
            None => Err(StoreError::corrupt("bulletin", "no id returned")),
        }
    }

    pub(super) fn d_bulletins(&self) -> Result<Vec<Bulletin>, StoreError> {
        let rows = self.query(
            "reading bulletins",
            "SELECT id, release, title, body, audience, scheduled_ms, sent_ms FROM bulletin
             ORDER BY scheduled_ms DESC, id DESC",
            &[],
        )?;
        rows.iter().map(bulletin).collect()
    }

    pub(super) fn d_bulletin_sent(&self, id: i64, when: Instant, emails: &[OutboxMessage]) -> Result<bool, StoreError> {
        let context = "sending a bulletin";
        let mut conn = self.pool.get()?;
        let mut tx = conn.client.transaction().map_err(pg(context))?;
        let n = tx
            .execute("UPDATE bulletin SET sent_ms = $2 WHERE id = $1 AND sent_ms IS NULL", &[&id, &ms(when)])
            .map_err(pg(context))?;
        if n == 0 {
            return Ok(false);
        }
        super::compliance::enqueue_emails(&mut tx, context, emails)?;
        tx.commit().map_err(pg(context))?;
        Ok(true)
    }

    pub(super) fn d_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = self.query_opt("reading a setting", "SELECT value FROM desktop_setting WHERE name = $1", &[&name])?;
        row.map(|r| get(&r, "setting", 0)).transpose()
    }

    pub(super) fn d_put_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "writing a setting",
            "INSERT INTO desktop_setting (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&name, &value],
        )?;
        Ok(())
    }
}
