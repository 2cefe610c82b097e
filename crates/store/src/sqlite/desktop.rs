//! The desktop tables on SQLite (see [`crate::desktop`]).

use super::{SqliteStore, relationship, relationship_from_row, small, sq, upsert_relationships};
use crate::codec::{self, instant_to_millis as ms, millis_to_instant as at};
use crate::desktop::{
    Attestation, AttestationState, Audience, BatchResult, Bulletin, ConnectionMethod, DesktopRole, DesktopUser,
    FreezeWindow, NewDesktopUser, NewSubmitter, RelationshipPage, Session, SignIn, SubmitterProfile, after_attempt,
    check_submitter_user,
};
use crate::{OutboxMessage, Relationship, StoreError, check_relationships, password};
use eligibility::Instant;
use rusqlite::{OptionalExtension, Row, params};

const USER_COLUMNS: &str = "username, role, submitter_id, failed_attempts, locked_until_ms, created_ms, npi";

type UserRow = (String, String, Option<String>, i64, Option<i64>, i64, Option<String>);

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn user((username, role, submitter, failed, locked, created, npi): UserRow) -> Result<DesktopUser, StoreError> {
    Ok(DesktopUser {
        username,
        role: codec::need("desktop user", "role", &role, DesktopRole::parse(&role))?,
        submitter,
        npi,
        failed_attempts: small("desktop user", "failed_attempts", failed)?,
        locked_until: locked.map(at),
        created: at(created),
    })
}

type ProfileRow = (String, Option<String>, Option<String>, String, Option<String>);

fn profile((submitter, tpa, rob, connection, subject): ProfileRow) -> Result<SubmitterProfile, StoreError> {
    let what = "submitter profile";
    Ok(SubmitterProfile {
        submitter,
        tpa_date: codec::parse_opt_date(what, tpa)?,
        rob_date: codec::parse_opt_date(what, rob)?,
        connection: codec::need(what, "connection", &connection, ConnectionMethod::parse(&connection))?,
        certificate_subject: subject,
    })
}

type BulletinRow = (i64, String, String, String, String, i64, Option<i64>);

fn bulletin_from_row(r: &Row<'_>) -> rusqlite::Result<BulletinRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

fn bulletin((id, release, title, body, audience, scheduled, sent): BulletinRow) -> Result<Bulletin, StoreError> {
    Ok(Bulletin {
        id,
        release,
        title,
        body,
        audience: codec::need("bulletin", "audience", &audience, Audience::parse(&audience))?,
        scheduled: at(scheduled),
        sent: sent.map(at),
    })
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub(crate) fn like_prefix(search: &str) -> String {
    let mut s = String::with_capacity(search.len() + 1);
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

impl SqliteStore {
    pub(super) fn d_put_user(&self, u: &NewDesktopUser, now: Instant) -> Result<(), StoreError> {
        check_submitter_user(u)?;
        let hash = password::hash(&u.password)?;
        let context = "writing a desktop user";
        self.write(context, |tx| {
            tx.execute(
                "INSERT INTO desktop_user (username, role, submitter_id, password_hash, failed_attempts,
                     locked_until_ms, created_ms, npi) VALUES (?1, ?2, ?3, ?4, 0, NULL, ?5, ?6)
                 ON CONFLICT (username) DO UPDATE SET role = excluded.role, submitter_id = excluded.submitter_id,
                     npi = excluded.npi, password_hash = excluded.password_hash, failed_attempts = 0,
                     locked_until_ms = NULL",
                params![u.username, u.role.as_str(), u.submitter, hash, ms(now), u.npi],
            )
            .map_err(sq(context))?;
            Ok(())
        })
    }

    pub(super) fn d_user(&self, username: &str) -> Result<Option<DesktopUser>, StoreError> {
        let context = "reading a desktop user";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM desktop_user WHERE username = ?1"))
            .map_err(sq(context))?;
        let row = stmt.query_row([username], user_from_row).optional().map_err(sq(context))?;
        row.map(user).transpose()
    }

    pub(super) fn d_users(&self) -> Result<Vec<DesktopUser>, StoreError> {
        let context = "reading desktop users";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM desktop_user ORDER BY username"))
            .map_err(sq(context))?;
        let rows = stmt.query_map([], user_from_row).map_err(sq(context))?;
        rows.map(|r| r.map_err(sq(context)).and_then(user)).collect()
    }

    pub(super) fn d_verify(&self, username: &str, pass: &str, now: Instant) -> Result<SignIn, StoreError> {
        let context = "signing in to the desktop";
        let found: Option<(UserRow, String)> = {
            let conn = self.readers.get()?;
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {USER_COLUMNS}, password_hash FROM desktop_user WHERE username = ?1"))
                .map_err(sq(context))?;
            stmt.query_row([username], |r| Ok((user_from_row(r)?, r.get(7)?))).optional().map_err(sq(context))?
        };
        let Some((row, hash)) = found else {
            // Same cost as a wrong password: the answer does not tell which usernames exist.
            password::verify(None, pass)?;
            return Ok(SignIn::Wrong);
        };
        let before = user(row)?;
        if before.locked_until.is_some_and(|u| u > now) {
            return Ok(after_attempt(&before, false, now).2);
        }
        // The slow hash runs outside the write lock; the counters are then updated from the row
        // as it is inside the transaction, so concurrent attempts all count.
        let ok = password::verify(Some(&hash), pass)?;
        self.write(context, |tx| {
            let row = tx
                .query_row(
                    &format!("SELECT {USER_COLUMNS} FROM desktop_user WHERE username = ?1"),
                    [username],
                    user_from_row,
                )
                .optional()
                .map_err(sq(context))?;
            let Some(row) = row else { return Ok(SignIn::Wrong) };
            let current = user(row)?;
            let (failed, locked, answer) = after_attempt(&current, ok, now);
            tx.execute(
                "UPDATE desktop_user SET failed_attempts = ?2, locked_until_ms = ?3 WHERE username = ?1",
                params![username, failed, locked.map(ms)],
            )
            .map_err(sq(context))?;
            Ok(answer)
        })
    }

    pub(super) fn d_unlock(&self, username: &str) -> Result<bool, StoreError> {
        let context = "unlocking a desktop user";
        self.write(context, |tx| {
            let n = tx
                .execute(
                    "UPDATE desktop_user SET failed_attempts = 0, locked_until_ms = NULL WHERE username = ?1",
                    [username],
                )
                .map_err(sq(context))?;
            Ok(n > 0)
        })
    }

    pub(super) fn d_create_session(&self, s: &Session) -> Result<(), StoreError> {
        let context = "creating a desktop session";
        self.write(context, |tx| {
            tx.execute(
                "INSERT INTO desktop_session (token_hash, username, csrf_token, created_ms, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.token_hash, s.username, s.csrf, ms(s.created), ms(s.last_seen)],
            )
            .map_err(sq(context))?;
            Ok(())
        })
    }

    pub(super) fn d_session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        let context = "reading a desktop session";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT token_hash, username, csrf_token, created_ms, last_seen_ms FROM desktop_session
                 WHERE token_hash = ?1",
            )
            .map_err(sq(context))?;
        stmt.query_row([token_hash], |r| {
            Ok(Session {
                token_hash: r.get(0)?,
                username: r.get(1)?,
                csrf: r.get(2)?,
                created: at(r.get(3)?),
                last_seen: at(r.get(4)?),
            })
        })
        .optional()
        .map_err(sq(context))
    }

    pub(super) fn d_touch_session(&self, token_hash: &str, now: Instant) -> Result<bool, StoreError> {
        let context = "touching a desktop session";
        self.write(context, |tx| {
            let n = tx
                .execute(
                    "UPDATE desktop_session SET last_seen_ms = ?2 WHERE token_hash = ?1",
                    params![token_hash, ms(now)],
                )
                .map_err(sq(context))?;
            Ok(n > 0)
        })
    }

    pub(super) fn d_delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let context = "deleting a desktop session";
        self.write(context, |tx| {
            let n =
                tx.execute("DELETE FROM desktop_session WHERE token_hash = ?1", [token_hash]).map_err(sq(context))?;
            Ok(n > 0)
        })
    }

    pub(super) fn d_profile(&self, submitter: &str) -> Result<Option<SubmitterProfile>, StoreError> {
        let context = "reading a submitter profile";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT submitter_id, tpa_date, rob_date, connection, certificate_subject FROM submitter_profile
                 WHERE submitter_id = ?1",
            )
            .map_err(sq(context))?;
        let row = stmt
            .query_row([submitter], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .optional()
            .map_err(sq(context))?;
        row.map(profile).transpose()
    }

    pub(super) fn d_profiles(&self) -> Result<Vec<SubmitterProfile>, StoreError> {
        let context = "reading submitter profiles";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT submitter_id, tpa_date, rob_date, connection, certificate_subject FROM submitter_profile
                 ORDER BY submitter_id",
            )
            .map_err(sq(context))?;
        let rows =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).map_err(sq(context))?;
        rows.map(|r| r.map_err(sq(context)).and_then(profile)).collect()
    }

    pub(super) fn d_put_profile(&self, p: &SubmitterProfile) -> Result<(), StoreError> {
        let context = "writing a submitter profile";
        self.write(context, |tx| put_profile(tx, p))
    }

    pub(super) fn d_create_submitter(&self, s: &NewSubmitter) -> Result<(), StoreError> {
        let context = "creating a submitter";
        let hash = password::hash(&s.password)?;
        self.write(context, |tx| {
            let exists: Option<String> = tx
                .query_row("SELECT id FROM submitter WHERE id = ?1", [&s.id], |r| r.get(0))
                .optional()
                .map_err(sq(context))?;
            if exists.is_some() {
                return Err(StoreError::Conflict(format!("submitter {}", s.id)));
            }
            tx.execute(
                "INSERT INTO submitter (id, name, email, status, suspended_until_ms, suspensions, password_hash)
                 VALUES (?1, ?2, ?3, 'active', NULL, 0, ?4)",
                params![s.id, s.name, s.email, hash],
            )
            .map_err(sq(context))?;
            put_profile(tx, &SubmitterProfile { submitter: s.id.clone(), ..s.profile.clone() })
        })
    }

    pub(super) fn d_delete_relationship(&self, submitter: &str, npi: &str) -> Result<bool, StoreError> {
        let context = "deleting a relationship";
        self.write(context, |tx| {
            let n = tx
                .execute("DELETE FROM relationship WHERE submitter_id = ?1 AND npi = ?2", [submitter, npi])
                .map_err(sq(context))?;
            Ok(n > 0)
        })
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
        let conn = self.readers.get()?;
        let total: i64 = conn
            .prepare_cached("SELECT count(*) FROM relationship WHERE submitter_id = ?1 AND npi LIKE ?2 ESCAPE '\\'")
            .and_then(|mut s| s.query_row(params![submitter, pattern], |r| r.get(0)))
            .map_err(sq(context))?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT submitter_id, npi, status, effective_date, end_date FROM relationship
                 WHERE submitter_id = ?1 AND npi LIKE ?2 ESCAPE '\\' ORDER BY npi LIMIT ?3 OFFSET ?4",
            )
            .map_err(sq(context))?;
        let rows =
            stmt.query_map(params![submitter, pattern, limit, offset], relationship_from_row).map_err(sq(context))?;
        let items = rows.map(|r| r.map_err(sq(context)).and_then(relationship)).collect::<Result<Vec<_>, _>>()?;
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
        self.write(context, |tx| {
            upsert_relationships(tx, context, put)?;
            let mut del = tx
                .prepare_cached("DELETE FROM relationship WHERE submitter_id = ?1 AND npi = ?2")
                .map_err(sq(context))?;
            for npi in delete {
                del.execute(params![submitter, npi]).map_err(sq(context))?;
            }
            let Some(r) = result else { return Ok(None) };
            tx.execute(
                "INSERT INTO batch_result (submitter_id, username, file_name, result_name, at_ms, accepted, rejected,
                     result_csv) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    r.submitter,
                    r.username,
                    r.file_name,
                    r.result_name,
                    ms(r.at),
                    r.accepted,
                    r.rejected,
                    r.result_csv
                ],
            )
            .map_err(sq(context))?;
            Ok(Some(tx.last_insert_rowid()))
        })
    }

    pub(super) fn d_batch_results(
        &self,
        submitter: &str,
        limit: u32,
        result_name: Option<&str>,
    ) -> Result<Vec<BatchResult>, StoreError> {
        let context = "reading batch results";
        let conn = self.readers.get()?;
        // The file only when one is asked for by name; a listing leaves it out.
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, submitter_id, username, file_name, result_name, at_ms, accepted, rejected,
                     CASE WHEN ?2 IS NULL THEN '' ELSE result_csv END
                 FROM batch_result WHERE submitter_id = ?1 AND (?2 IS NULL OR result_name = ?2)
                 ORDER BY at_ms DESC, id DESC LIMIT ?3",
            )
            .map_err(sq(context))?;
        let rows = stmt
            .query_map(params![submitter, result_name, limit], |r| {
                Ok(BatchResult {
                    id: r.get(0)?,
                    submitter: r.get(1)?,
                    username: r.get(2)?,
                    file_name: r.get(3)?,
                    result_name: r.get(4)?,
                    at: at(r.get(5)?),
                    accepted: r.get(6)?,
                    rejected: r.get(7)?,
                    result_csv: r.get(8)?,
                })
            })
            .map_err(sq(context))?;
        rows.collect::<Result<_, _>>().map_err(sq(context))
    }

    pub(super) fn d_put_attestation(&self, a: &Attestation) -> Result<(), StoreError> {
        let context = "writing a provider attestation";
        self.write(context, |tx| {
            tx.execute(
                "INSERT INTO provider_attestation (npi, submitter_id, state, at_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (npi, submitter_id) DO UPDATE SET state = excluded.state, at_ms = excluded.at_ms",
                params![a.npi, a.submitter, a.state.as_str(), ms(a.at)],
            )
            .map_err(sq(context))?;
            Ok(())
        })
    }

    pub(super) fn d_attestation(&self, npi: &str, submitter: &str) -> Result<Option<Attestation>, StoreError> {
        Ok(self.d_attestations_where(npi, Some(submitter))?.into_iter().next())
    }

    pub(super) fn d_attestations_where(
        &self,
        npi: &str,
        submitter: Option<&str>,
    ) -> Result<Vec<Attestation>, StoreError> {
        let context = "reading provider attestations";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT npi, submitter_id, state, at_ms FROM provider_attestation
                 WHERE npi = ?1 AND (?2 IS NULL OR submitter_id = ?2) ORDER BY submitter_id",
            )
            .map_err(sq(context))?;
        let rows = stmt
            .query_map(params![npi, submitter], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })
            .map_err(sq(context))?;
        rows.map(|r| {
            let (npi, submitter, state, when) = r.map_err(sq(context))?;
            Ok(Attestation {
                npi,
                submitter,
                state: codec::need("provider attestation", "state", &state, AttestationState::parse(&state))?,
                at: at(when),
            })
        })
        .collect()
    }

    pub(super) fn d_add_freeze(&self, w: &FreezeWindow) -> Result<i64, StoreError> {
        if w.ends <= w.starts {
            return Err(StoreError::invalid("HDT freeze window", "it must end after it starts"));
        }
        let context = "adding an HDT freeze window";
        self.write(context, |tx| {
            tx.execute(
                "INSERT INTO hdt_freeze (starts_ms, ends_ms, reason) VALUES (?1, ?2, ?3)",
                params![ms(w.starts), ms(w.ends), w.reason],
            )
            .map_err(sq(context))?;
            Ok(tx.last_insert_rowid())
        })
    }

    pub(super) fn d_freezes(&self, after: Instant) -> Result<Vec<FreezeWindow>, StoreError> {
        let context = "reading HDT freeze windows";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, starts_ms, ends_ms, reason FROM hdt_freeze WHERE ends_ms > ?1 ORDER BY starts_ms, id",
            )
            .map_err(sq(context))?;
        let rows = stmt
            .query_map([ms(after)], |r| {
                Ok(FreezeWindow { id: r.get(0)?, starts: at(r.get(1)?), ends: at(r.get(2)?), reason: r.get(3)? })
            })
            .map_err(sq(context))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sq(context))
    }

    pub(super) fn d_delete_freeze(&self, id: i64) -> Result<bool, StoreError> {
        let context = "deleting an HDT freeze window";
        self.write(context, |tx| {
            let n = tx.execute("DELETE FROM hdt_freeze WHERE id = ?1", [id]).map_err(sq(context))?;
            Ok(n > 0)
        })
    }

    pub(super) fn d_add_bulletin(&self, b: &Bulletin) -> Result<i64, StoreError> {
        let context = "adding a bulletin";
        self.write(context, |tx| {
            tx.execute(
                "INSERT INTO bulletin (release, title, body, audience, scheduled_ms, sent_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
                params![b.release, b.title, b.body, b.audience.as_str(), ms(b.scheduled)],
            )
            .map_err(sq(context))?;
            Ok(tx.last_insert_rowid())
        })
    }

    pub(super) fn d_bulletins(&self) -> Result<Vec<Bulletin>, StoreError> {
        let context = "reading bulletins";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, release, title, body, audience, scheduled_ms, sent_ms FROM bulletin
                 ORDER BY scheduled_ms DESC, id DESC",
            )
            .map_err(sq(context))?;
        let rows = stmt.query_map([], bulletin_from_row).map_err(sq(context))?;
        rows.map(|r| r.map_err(sq(context)).and_then(bulletin)).collect()
    }

    pub(super) fn d_bulletin_sent(&self, id: i64, when: Instant, emails: &[OutboxMessage]) -> Result<bool, StoreError> {
        let context = "sending a bulletin";
        self.write(context, |tx| {
            let n = tx
                .execute("UPDATE bulletin SET sent_ms = ?2 WHERE id = ?1 AND sent_ms IS NULL", params![id, ms(when)])
                .map_err(sq(context))?;
            if n == 0 {
                return Ok(false);
            }
            super::compliance::enqueue_emails(tx, context, emails)?;
            Ok(true)
        })
    }

    pub(super) fn d_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let context = "reading a setting";
        let conn = self.readers.get()?;
        let mut stmt = conn.prepare_cached("SELECT value FROM desktop_setting WHERE name = ?1").map_err(sq(context))?;
        stmt.query_row([name], |r| r.get(0)).optional().map_err(sq(context))
    }

    pub(super) fn d_put_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let context = "writing a setting";
        self.write(context, |tx| {
            tx.execute(
                "INSERT INTO desktop_setting (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [name, value],
            )
            .map_err(sq(context))?;
            Ok(())
        })
    }
}

fn put_profile(tx: &rusqlite::Transaction<'_>, p: &SubmitterProfile) -> Result<(), StoreError> {
    let context = "writing a submitter profile";
    tx.execute(
        "INSERT INTO submitter_profile (submitter_id, tpa_date, rob_date, connection, certificate_subject)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (submitter_id) DO UPDATE SET tpa_date = excluded.tpa_date, rob_date = excluded.rob_date,
             connection = excluded.connection, certificate_subject = excluded.certificate_subject",
        params![
            p.submitter,
            p.tpa_date.map(codec::date_text),
            p.rob_date.map(codec::date_text),
            p.connection.as_str(),
            p.certificate_subject,
        ],
    )
    .map_err(sq(context))?;
    Ok(())
}
