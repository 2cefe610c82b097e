//! The scale-out store: PostgreSQL through the synchronous `postgres` client.
//!
//! Each pooled connection keeps its prepared statements, so a lookup is one round trip
//! (bind and execute) instead of three. Bulk writers send whole batches as arrays through
//! `unnest`, one statement per batch instead of one per row.

mod compliance;
mod desktop;

use crate::codec::{self, need};
use crate::desktop::{
    Attestation, BatchResult, Bulletin, DesktopUser, FreezeWindow, NewDesktopUser, NewSubmitter, RelationshipPage,
    Session, SignIn, SubmitterProfile,
};
use crate::migrate::{self, Migration};
use crate::pool::Pool;
use crate::sqlite::{cost_sharing_from, now_millis};
use crate::{
    AaaCaseRow, Applied, AuditRecord, Cap, ComplianceWrite, Counts, Held, MaintenanceWindow, OutboxMessage,
    RecordedTransaction, Relationship, Replay, RequestFacts, StatusChange, Store, StoreError, Submitter,
    TransactionRecord, check_beneficiaries, check_providers, check_relationships, check_window, password,
};
use eligibility::{Beneficiary, CostSharing, Instant, Provider, SubmitterSeed};
use postgres::{Client, NoTls, Row, Statement};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct PgStore {
    pool: Pool<PgConn>,
    bulk: AtomicBool,
}

struct PgConn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl PgConn {
    fn statement(&mut self, context: &'static str, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).map_err(pg(context))?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }
}

fn pg(context: &'static str) -> impl FnOnce(postgres::Error) -> StoreError {
    move |error| StoreError::Postgres { context, error }
}

/// The server's message without its DETAIL, which can quote row values (an MBI in a key
/// conflict); messages end up in logs.
pub fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    match std::error::Error::source(e) {
        Some(src) => format!("{e}: {src}"),
        None => e.to_string(),
    }
}

/// Connections per process: enough for both cores' blocking threads plus a writer.
const POOL_SIZE: usize = 4;

/// Serialises concurrent migrations (two processes opening one new database at once).
const MIGRATION_LOCK: i64 = 0x0270_0271;

impl PgStore {
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            // The URL may hold a password: say what is wrong, not what was given.
            StoreError::BadUrl(format!("not a PostgreSQL URL: {}", describe(&e)))
        })?;
        let pool = Pool::new(
            POOL_SIZE,
            move || {
                let client = config.connect(NoTls).map_err(pg("connecting"))?;
                Ok(PgConn { client, statements: HashMap::new() })
            },
            |c: &mut PgConn| !c.client.is_closed(),
        );
        {
            let mut conn = pool.get()?;
            migrate(&mut conn.client, migrate::POSTGRES)?;
        }
        Ok(PgStore { pool, bulk: AtomicBool::new(false) })
    }

    /// In bulk-load mode, a write transaction commits without waiting for the WAL flush.
    fn relax(&self, tx: &mut postgres::Transaction<'_>, context: &'static str) -> Result<(), StoreError> {
        if self.bulk.load(Ordering::Relaxed) {
            tx.batch_execute("SET LOCAL synchronous_commit = off").map_err(pg(context))?;
        }
        Ok(())
    }

    fn query_opt(
        &self,
        context: &'static str,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let mut conn = self.pool.get()?;
        let stmt = conn.statement(context, sql)?;
        conn.client.query_opt(&stmt, params).map_err(pg(context))
    }

    fn query(
        &self,
        context: &'static str,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let mut conn = self.pool.get()?;
        let stmt = conn.statement(context, sql)?;
        conn.client.query(&stmt, params).map_err(pg(context))
    }

    /// Runs one statement in one transaction (with the bulk-load setting applied).
    fn write(
        &self,
        context: &'static str,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        let stmt = conn.statement(context, sql)?;
        let mut tx = conn.client.transaction().map_err(pg(context))?;
        self.relax(&mut tx, context)?;
        tx.execute(&stmt, params).map_err(pg(context))?;
        tx.commit().map_err(pg(context))
    }
}

fn migrate(client: &mut Client, migrations: &[Migration]) -> Result<(), StoreError> {
    let context = "applying schema migrations";
    let mut tx = client.transaction().map_err(pg(context))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(pg(context))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)",
    )
    .map_err(pg(context))?;
    let current: i64 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).map_err(pg(context))?.get(0);
    let known = migrations.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::SchemaTooNew { found: current, known });
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.batch_execute(m.sql).map_err(pg(context))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &now_millis()],
        )
        .map_err(pg(context))?;
        tracing::info!(backend = "postgres", version = m.version, name = m.name, "applied schema migration");
    }
    tx.commit().map_err(pg(context))
}

fn small<T: TryFrom<i64>>(what: &'static str, column: &str, v: i64) -> Result<T, StoreError> {
    T::try_from(v).map_err(|_| StoreError::corrupt(what, format!("column {column} holds {v}")))
}

fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, what: &'static str, column: usize) -> Result<T, StoreError> {
    row.try_get(column).map_err(|e| StoreError::corrupt(what, describe(&e)))
}

fn relationship(row: &Row) -> Result<Relationship, StoreError> {
    relationship_at(row, 0)
}

/// A relationship from five columns starting at `at`.
fn relationship_at(row: &Row, at: usize) -> Result<Relationship, StoreError> {
    let what = "relationship";
    Ok(Relationship {
        submitter: get(row, what, at)?,
        npi: get(row, what, at + 1)?,
        status: codec::relationship_status(get(row, what, at + 2)?)?,
        effective: codec::parse_date(what, get(row, what, at + 3)?)?,
        end: codec::parse_opt_date(what, get(row, what, at + 4)?)?,
    })
}

/// A provider from seven columns starting at `at`.
fn provider_at(row: &Row, at: usize) -> Result<Provider, StoreError> {
    let what = "provider";
    let entity: &str = get(row, what, at + 3)?;
    let medicare: &str = get(row, what, at + 4)?;
    Ok(Provider {
        npi: get(row, what, at)?,
        name: get(row, what, at + 1)?,
        first_name: get(row, what, at + 2)?,
        entity: need(what, "entity", entity, codec::parse_entity(entity))?,
        medicare: need(what, "medicare", medicare, codec::parse_enrollment(medicare))?,
        enrolled_on: codec::parse_opt_date(what, get(row, what, at + 5)?)?,
        ended_on: codec::parse_opt_date(what, get(row, what, at + 6)?)?,
    })
}

const INSERT_TRANSACTION: &str = "INSERT INTO transaction_record
    (at_ms, submitter_id, npi, mbi, outcome, aaa_codes, service_types, duration_us)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn beneficiary(&self, mbi: &str) -> Result<Option<Beneficiary>, StoreError> {
        let row = self.query_opt("reading a beneficiary", "SELECT body FROM beneficiary WHERE mbi = $1", &[&mbi])?;
        row.map(|r| codec::decode_beneficiary(get::<&[u8]>(&r, "beneficiary", 0)?)).transpose()
    }

    fn provider(&self, npi: &str) -> Result<Option<Provider>, StoreError> {
        let row = self.query_opt(
            "reading a provider",
            "SELECT npi, name, first_name, entity, medicare, to_char(enrolled_on, 'YYYY-MM-DD'),
                    to_char(ended_on, 'YYYY-MM-DD')
             FROM provider WHERE npi = $1",
            &[&npi],
        )?;
        row.map(|r| provider_at(&r, 0)).transpose()
    }

    fn request_facts(&self, submitter: &str, npi: &str, mbi: Option<&str>) -> Result<RequestFacts, StoreError> {
        // One round trip instead of three: on a database that shares the machine's cores, each
        // round trip is a wake-up of the server process and of this thread.
        let row = self.query_opt(
            "reading a request's provider, relationship and beneficiary",
            "SELECT p.npi, p.name, p.first_name, p.entity, p.medicare, to_char(p.enrolled_on, 'YYYY-MM-DD'),
                    to_char(p.ended_on, 'YYYY-MM-DD'),
                    r.submitter_id, r.npi, r.status, to_char(r.effective_date, 'YYYY-MM-DD'),
                    to_char(r.end_date, 'YYYY-MM-DD'),
                    b.body
             FROM (SELECT 1) AS one
             LEFT JOIN provider p ON p.npi = $2
             LEFT JOIN relationship r ON r.submitter_id = $1 AND r.npi = $2
             LEFT JOIN beneficiary b ON b.mbi = $3::text",
            &[&submitter, &npi, &mbi],
        )?;
        let Some(r) = row else {
            return Err(StoreError::corrupt("request facts", "the one-row query returned no row".to_string()));
        };
        let present = |column: usize| -> Result<bool, StoreError> {
            Ok(get::<Option<&str>>(&r, "request facts", column)?.is_some())
        };
        Ok(RequestFacts {
            provider: if present(0)? { Some(provider_at(&r, 0)?) } else { None },
            relationship: if present(7)? { Some(relationship_at(&r, 7)?) } else { None },
            beneficiary: get::<Option<&[u8]>>(&r, "beneficiary", 12)?.map(codec::decode_beneficiary).transpose()?,
        })
    }

    fn submitter(&self, id: &str) -> Result<Option<Submitter>, StoreError> {
        self.one_submitter(id)
    }

    fn verify_password(&self, id: &str, password: &str) -> Result<bool, StoreError> {
        let row =
            self.query_opt("reading a password hash", "SELECT password_hash FROM submitter WHERE id = $1", &[&id])?;
        let stored: Option<String> = row.map(|r| get(&r, "submitter", 0)).transpose()?;
        password::verify(stored.as_deref(), password)
    }

    fn relationship(&self, submitter: &str, npi: &str) -> Result<Option<Relationship>, StoreError> {
        const SQL: &str = "SELECT submitter_id, npi, status, to_char(effective_date, 'YYYY-MM-DD'),
                                  to_char(end_date, 'YYYY-MM-DD')
                           FROM relationship WHERE submitter_id = $1 AND npi = $2";
        let row = self.query_opt("reading a relationship", SQL, &[&submitter, &npi])?;
        row.as_ref().map(relationship).transpose()
    }

    fn relationships_of(&self, submitter: &str) -> Result<Vec<Relationship>, StoreError> {
        const SQL: &str = "SELECT submitter_id, npi, status, to_char(effective_date, 'YYYY-MM-DD'),
                                  to_char(end_date, 'YYYY-MM-DD')
                           FROM relationship WHERE submitter_id = $1 ORDER BY npi";
        let rows = self.query("reading relationships", SQL, &[&submitter])?;
        rows.iter().map(relationship).collect()
    }

    fn cost_sharing(&self) -> Result<Vec<CostSharing>, StoreError> {
        let rows = self.query(
            "reading cost sharing",
            "SELECT year, part_a_deductible, part_a_coinsurance_day_61_90, part_a_lifetime_reserve_day,
                    snf_coinsurance_day_21_100, part_b_deductible, part_b_coinsurance_rate,
                    blood_deductible_pints, smoking_cessation_sessions, pulmonary_rehab_sessions
             FROM cost_sharing ORDER BY year",
            &[],
        )?;
        let what = "cost sharing";
        rows.iter()
            .map(|r| {
                let f = |i| get::<f64>(r, what, i);
                let n = |i| get::<i32>(r, what, i).map(i64::from);
                cost_sharing_from(n(0)?, [f(1)?, f(2)?, f(3)?, f(4)?, f(5)?, f(6)?], [n(7)?, n(8)?, n(9)?])
            })
            .collect()
    }

    fn record_transaction(&self, t: &TransactionRecord) -> Result<i64, StoreError> {
        let context = "recording a transaction";
        let row = self.query_opt(
            context,
            INSERT_TRANSACTION,
            &[
                &codec::instant_to_millis(t.at),
                &t.submitter,
                &t.npi,
                &t.mbi,
                &t.outcome.as_str(),
                &codec::join_codes(&t.aaa_codes),
                &codec::join_codes(&t.service_types),
                &i64::try_from(t.duration_micros).unwrap_or(i64::MAX),
            ],
        )?;
        match row {
            Some(r) => get(&r, "transaction record", 0),
            None => Err(StoreError::corrupt("transaction record", "the insert returned no id")),
        }
    }

    fn record_transactions(&self, records: &[TransactionRecord]) -> Result<(), StoreError> {
        let at: Vec<i64> = records.iter().map(|t| codec::instant_to_millis(t.at)).collect();
        let submitter: Vec<&str> = records.iter().map(|t| t.submitter.as_str()).collect();
        let npi: Vec<Option<&str>> = records.iter().map(|t| t.npi.as_deref()).collect();
        let mbi: Vec<Option<&str>> = records.iter().map(|t| t.mbi.as_deref()).collect();
        let outcome: Vec<&str> = records.iter().map(|t| t.outcome.as_str()).collect();
        let aaa: Vec<String> = records.iter().map(|t| codec::join_codes(&t.aaa_codes)).collect();
        let stc: Vec<String> = records.iter().map(|t| codec::join_codes(&t.service_types)).collect();
        let us: Vec<i64> = records.iter().map(|t| i64::try_from(t.duration_micros).unwrap_or(i64::MAX)).collect();
        self.write(
            "recording transactions",
            "INSERT INTO transaction_record
                 (at_ms, submitter_id, npi, mbi, outcome, aaa_codes, service_types, duration_us)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::text[], $8::bigint[])",
            &[&at, &submitter, &npi, &mbi, &outcome, &aaa, &stc, &us],
        )
    }

    fn record_exchanges(&self, records: &[TransactionRecord], replays: &[Replay]) -> Result<(), StoreError> {
        let context = "recording transactions and replays";
        let at: Vec<i64> = records.iter().map(|t| codec::instant_to_millis(t.at)).collect();
        let submitter: Vec<&str> = records.iter().map(|t| t.submitter.as_str()).collect();
        let npi: Vec<Option<&str>> = records.iter().map(|t| t.npi.as_deref()).collect();
        let mbi: Vec<Option<&str>> = records.iter().map(|t| t.mbi.as_deref()).collect();
        let outcome: Vec<&str> = records.iter().map(|t| t.outcome.as_str()).collect();
        let aaa: Vec<String> = records.iter().map(|t| codec::join_codes(&t.aaa_codes)).collect();
        let stc: Vec<String> = records.iter().map(|t| codec::join_codes(&t.service_types)).collect();
        let us: Vec<i64> = records.iter().map(|t| i64::try_from(t.duration_micros).unwrap_or(i64::MAX)).collect();
        let r_sender: Vec<&str> = replays.iter().map(|r| r.sender.as_str()).collect();
        let r_id: Vec<&str> = replays.iter().map(|r| r.payload_id.as_str()).collect();
        let r_at: Vec<i64> = replays.iter().map(|r| codec::instant_to_millis(r.at)).collect();
        let r_digest: Vec<&str> = replays.iter().map(|r| r.request_digest.as_str()).collect();
        let r_type: Vec<&str> = replays.iter().map(|r| r.payload_type.as_str()).collect();
        let r_body: Vec<&[u8]> = replays.iter().map(|r| r.response.as_slice()).collect();
        let mut conn = self.pool.get()?;
        let records_stmt = conn.statement(
            context,
            "INSERT INTO transaction_record
                 (at_ms, submitter_id, npi, mbi, outcome, aaa_codes, service_types, duration_us)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                  $7::text[], $8::bigint[])",
        )?;
        // Two rows for one key in a batch would make ON CONFLICT fail: DISTINCT ON keeps the first.
        let replays_stmt = conn.statement(
            context,
            "INSERT INTO payload_replay (sender_id, payload_id, at_ms, request_digest, payload_type, response)
             SELECT DISTINCT ON (s, p) s, p, a, d, t, b
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[])
                  WITH ORDINALITY AS u(s, p, a, d, t, b, n)
             ORDER BY s, p, n
             ON CONFLICT (sender_id, payload_id) DO UPDATE SET at_ms = excluded.at_ms,
                 request_digest = excluded.request_digest, payload_type = excluded.payload_type,
                 response = excluded.response
             WHERE payload_replay.at_ms < excluded.at_ms - 86400000",
        )?;
        let mut tx = conn.client.transaction().map_err(pg(context))?;
        self.relax(&mut tx, context)?;
        if !records.is_empty() {
            tx.execute(&records_stmt, &[&at, &submitter, &npi, &mbi, &outcome, &aaa, &stc, &us])
                .map_err(pg(context))?;
        }
        if !replays.is_empty() {
            tx.execute(&replays_stmt, &[&r_sender, &r_id, &r_at, &r_digest, &r_type, &r_body]).map_err(pg(context))?;
        }
        tx.commit().map_err(pg(context))
    }

    fn replay(&self, sender: &str, payload_id: &str, since: Instant) -> Result<Option<Replay>, StoreError> {
        let what = "replayable answer";
        let row = self.query_opt(
            "reading a replayable answer",
            "SELECT at_ms, request_digest, payload_type, response FROM payload_replay
             WHERE sender_id = $1 AND payload_id = $2 AND at_ms >= $3",
            &[&sender, &payload_id, &codec::instant_to_millis(since)],
        )?;
        row.map(|r| {
            Ok(Replay {
                sender: sender.to_string(),
                payload_id: payload_id.to_string(),
                at: codec::millis_to_instant(get(&r, what, 0)?),
                request_digest: get(&r, what, 1)?,
                payload_type: get(&r, what, 2)?,
                response: get(&r, what, 3)?,
            })
        })
        .transpose()
    }

    fn purge_replays(&self, before: Instant) -> Result<u64, StoreError> {
        let context = "purging replayable answers";
        let mut conn = self.pool.get()?;
        let stmt = conn.statement(context, "DELETE FROM payload_replay WHERE at_ms < $1")?;
        conn.client.execute(&stmt, &[&codec::instant_to_millis(before)]).map_err(pg(context))
    }

    fn add_maintenance(&self, window: &MaintenanceWindow) -> Result<i64, StoreError> {
        check_window(window)?;
        let row = self.query_opt(
            "adding a maintenance window",
            "INSERT INTO maintenance_window (starts_ms, ends_ms, reason) VALUES ($1, $2, $3) RETURNING id",
            &[&codec::instant_to_millis(window.starts), &codec::instant_to_millis(window.ends), &window.reason],
        )?;
        match row {
            Some(r) => get(&r, "maintenance window", 0),
            None => Err(StoreError::corrupt("maintenance window", "the insert returned no id")),
        }
    }

    fn maintenance_windows(&self, after: Instant) -> Result<Vec<MaintenanceWindow>, StoreError> {
        let what = "maintenance window";
        let rows = self.query(
            "reading maintenance windows",
            "SELECT id, starts_ms, ends_ms, reason FROM maintenance_window WHERE ends_ms > $1 ORDER BY starts_ms, id",
            &[&codec::instant_to_millis(after)],
        )?;
        rows.iter()
            .map(|r| {
                Ok(MaintenanceWindow {
                    id: get(r, what, 0)?,
                    starts: codec::millis_to_instant(get(r, what, 1)?),
                    ends: codec::millis_to_instant(get(r, what, 2)?),
                    reason: get(r, what, 3)?,
                })
            })
            .collect()
    }

    fn delete_maintenance(&self, id: i64) -> Result<bool, StoreError> {
        let context = "deleting a maintenance window";
        let mut conn = self.pool.get()?;
        let stmt = conn.statement(context, "DELETE FROM maintenance_window WHERE id = $1")?;
        Ok(conn.client.execute(&stmt, &[&id]).map_err(pg(context))? > 0)
    }

    fn transactions_for(
        &self,
        submitter: &str,
        from: Instant,
        to: Instant,
    ) -> Result<Vec<RecordedTransaction>, StoreError> {
        let rows = self.query(
            "reading transaction records",
            "SELECT id, at_ms, submitter_id, npi, mbi, outcome, aaa_codes, service_types, duration_us
             FROM transaction_record
             WHERE submitter_id = $1 AND at_ms >= $2 AND at_ms < $3 ORDER BY at_ms, id",
            &[&submitter, &codec::instant_to_millis(from), &codec::instant_to_millis(to)],
        )?;
        let what = "transaction record";
        rows.iter()
            .map(|r| {
                Ok(RecordedTransaction {
                    id: get(r, what, 0)?,
                    record: TransactionRecord {
                        at: codec::millis_to_instant(get(r, what, 1)?),
                        submitter: get(r, what, 2)?,
                        npi: get(r, what, 3)?,
                        mbi: get(r, what, 4)?,
                        outcome: codec::outcome(get(r, what, 5)?)?,
                        aaa_codes: codec::split_codes(get(r, what, 6)?),
                        service_types: codec::split_codes(get(r, what, 7)?),
                        duration_micros: small(what, "duration_us", get(r, what, 8)?)?,
                    },
                })
            })
            .collect()
    }

    fn put_beneficiaries(&self, beneficiaries: &[Beneficiary]) -> Result<(), StoreError> {
        check_beneficiaries(beneficiaries)?;
        let kept = codec::last_per_key(beneficiaries, |b| b.mbi.as_str());
        let mbis: Vec<&str> = kept.iter().map(|b| b.mbi.as_str()).collect();
        let mut bodies: Vec<Vec<u8>> = Vec::with_capacity(kept.len());
        for b in &kept {
            let mut blob = Vec::new();
            codec::encode_beneficiary(b, &mut blob)?;
            bodies.push(blob);
        }
        self.write(
            "writing beneficiaries",
            "INSERT INTO beneficiary (mbi, body) SELECT * FROM unnest($1::text[], $2::bytea[])
             ON CONFLICT (mbi) DO UPDATE SET body = excluded.body",
            &[&mbis, &bodies],
        )
    }

    fn put_providers(&self, providers: &[Provider]) -> Result<(), StoreError> {
        check_providers(providers)?;
        let kept = codec::last_per_key(providers, |p| p.npi.as_str());
        let npi: Vec<&str> = kept.iter().map(|p| p.npi.as_str()).collect();
        let name: Vec<&str> = kept.iter().map(|p| p.name.as_str()).collect();
        let first: Vec<Option<&str>> = kept.iter().map(|p| p.first_name.as_deref()).collect();
        let entity: Vec<&str> = kept.iter().map(|p| codec::entity_text(p.entity)).collect();
        let medicare: Vec<&str> = kept.iter().map(|p| codec::enrollment_text(p.medicare)).collect();
        let from: Vec<Option<String>> = kept.iter().map(|p| p.enrolled_on.map(codec::date_text)).collect();
        let to: Vec<Option<String>> = kept.iter().map(|p| p.ended_on.map(codec::date_text)).collect();
        self.write(
            "writing providers",
            "INSERT INTO provider (npi, name, first_name, entity, medicare, enrolled_on, ended_on)
             SELECT n, na, f, e, m, d1::date, d2::date
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
                  AS t(n, na, f, e, m, d1, d2)
             ON CONFLICT (npi) DO UPDATE SET name = excluded.name, first_name = excluded.first_name,
                 entity = excluded.entity, medicare = excluded.medicare,
                 enrolled_on = excluded.enrolled_on, ended_on = excluded.ended_on",
            &[&npi, &name, &first, &entity, &medicare, &from, &to],
        )
    }

    fn put_submitters(&self, submitters: &[SubmitterSeed]) -> Result<(), StoreError> {
        let context = "writing submitters";
        let kept = codec::last_per_key(submitters, |s| s.id.as_str());
        let until: Vec<Option<i64>> = kept
            .iter()
            .map(|s| Ok(codec::seed_suspended_until(s.suspended_until.as_deref())?.map(codec::instant_to_millis)))
            .collect::<Result<_, StoreError>>()?;
        // Hash before holding a connection: hashing is slow on purpose.
        let hashes = password::hash_all(&kept.iter().map(|s| s.password.as_str()).collect::<Vec<_>>())?;
        let id: Vec<&str> = kept.iter().map(|s| s.id.as_str()).collect();
        let name: Vec<&str> = kept.iter().map(|s| s.name.as_str()).collect();
        let email: Vec<&str> = kept.iter().map(|s| s.email.as_str()).collect();
        let status: Vec<&str> = kept.iter().map(|s| codec::submitter_status_text(s.status)).collect();
        let suspensions: Vec<i32> = kept.iter().map(|s| i32::from(s.suspensions)).collect();
        self.write(
            context,
            "INSERT INTO submitter (id, name, email, status, suspended_until_ms, suspensions, password_hash)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[],
                                  $7::text[])
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
                 status = excluded.status, suspended_until_ms = excluded.suspended_until_ms,
                 suspensions = excluded.suspensions, password_hash = excluded.password_hash",
            &[&id, &name, &email, &status, &until, &suspensions, &hashes],
        )
    }

    fn put_relationships(&self, relationships: &[Relationship]) -> Result<(), StoreError> {
        check_relationships(relationships)?;
        let kept = codec::last_per_key(relationships, |r| (r.submitter.as_str(), r.npi.as_str()));
        let submitter: Vec<&str> = kept.iter().map(|r| r.submitter.as_str()).collect();
        let npi: Vec<&str> = kept.iter().map(|r| r.npi.as_str()).collect();
        let status: Vec<&str> = kept.iter().map(|r| r.status.as_str()).collect();
        let from: Vec<String> = kept.iter().map(|r| codec::date_text(r.effective)).collect();
        let to: Vec<Option<String>> = kept.iter().map(|r| r.end.map(codec::date_text)).collect();
        self.write(
            "writing relationships",
            "INSERT INTO relationship (submitter_id, npi, status, effective_date, end_date)
             SELECT s, n, st, d1::date, d2::date
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(s, n, st, d1, d2)
             ON CONFLICT (submitter_id, npi) DO UPDATE SET status = excluded.status,
                 effective_date = excluded.effective_date, end_date = excluded.end_date",
            &[&submitter, &npi, &status, &from, &to],
        )
    }

    fn put_cost_sharing(&self, years: &[CostSharing]) -> Result<(), StoreError> {
        let context = "writing cost sharing";
        let mut conn = self.pool.get()?;
        let stmt = conn.statement(
            context,
            "INSERT INTO cost_sharing (year, part_a_deductible, part_a_coinsurance_day_61_90,
                 part_a_lifetime_reserve_day, snf_coinsurance_day_21_100, part_b_deductible,
                 part_b_coinsurance_rate, blood_deductible_pints, smoking_cessation_sessions,
                 pulmonary_rehab_sessions)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (year) DO UPDATE SET part_a_deductible = excluded.part_a_deductible,
                 part_a_coinsurance_day_61_90 = excluded.part_a_coinsurance_day_61_90,
                 part_a_lifetime_reserve_day = excluded.part_a_lifetime_reserve_day,
                 snf_coinsurance_day_21_100 = excluded.snf_coinsurance_day_21_100,
                 part_b_deductible = excluded.part_b_deductible,
                 part_b_coinsurance_rate = excluded.part_b_coinsurance_rate,
                 blood_deductible_pints = excluded.blood_deductible_pints,
                 smoking_cessation_sessions = excluded.smoking_cessation_sessions,
                 pulmonary_rehab_sessions = excluded.pulmonary_rehab_sessions",
        )?;
        let mut tx = conn.client.transaction().map_err(pg(context))?;
        self.relax(&mut tx, context)?;
        for c in years {
            tx.execute(
                &stmt,
                &[
                    &i32::from(c.year),
                    &c.part_a_deductible,
                    &c.part_a_coinsurance_day_61_90,
                    &c.part_a_lifetime_reserve_day,
                    &c.snf_coinsurance_day_21_100,
                    &c.part_b_deductible,
                    &c.part_b_coinsurance_rate,
                    &i32::from(c.blood_deductible_pints),
                    &i32::from(c.smoking_cessation_sessions),
                    &i32::from(c.pulmonary_rehab_sessions),
                ],
            )
            .map_err(pg(context))?;
        }
        tx.commit().map_err(pg(context))
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        let row = self.query_opt(
            "counting rows",
            "SELECT (SELECT count(*) FROM beneficiary), (SELECT count(*) FROM provider),
                    (SELECT count(*) FROM submitter), (SELECT count(*) FROM relationship),
                    (SELECT count(*) FROM cost_sharing), (SELECT count(*) FROM transaction_record)",
            &[],
        )?;
        let Some(r) = row else { return Err(StoreError::corrupt("counts", "no row")) };
        let n = |i| get::<i64>(&r, "counts", i).map(|v| u64::try_from(v).unwrap_or(0));
        Ok(Counts {
            beneficiaries: n(0)?,
            providers: n(1)?,
            submitters: n(2)?,
            relationships: n(3)?,
            cost_sharing_years: n(4)?,
            transactions: n(5)?,
        })
    }

    fn size_bytes(&self) -> Result<u64, StoreError> {
        // The tables of this store's schema (with indexes and TOAST), not the whole database,
        // which may hold other schemas.
        let row = self.query_opt(
            "measuring the database",
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind = 'r'",
            &[],
        )?;
        let bytes: i64 = match row {
            Some(r) => get(&r, "size", 0)?,
            None => 0,
        };
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    fn submitters(&self) -> Result<Vec<Submitter>, StoreError> {
        self.all_submitters()
    }

    fn scan_transactions(
        &self,
        submitter: &str,
        from: Instant,
        to: Instant,
        each: &mut dyn FnMut(&TransactionRecord),
    ) -> Result<u64, StoreError> {
        self.scan(submitter, from, to, each)
    }

    fn apply_compliance(&self, write: &ComplianceWrite) -> Result<Applied, StoreError> {
        self.apply(write)
    }

    fn audit_records(&self, submitter: Option<&str>, from: &str, to: &str) -> Result<Vec<AuditRecord>, StoreError> {
        self.audits(submitter, from, to)
    }

    fn aaa_cases(&self, submitter: Option<&str>) -> Result<Vec<AaaCaseRow>, StoreError> {
        self.cases(submitter)
    }

    fn caps(&self, submitter: Option<&str>) -> Result<Vec<Cap>, StoreError> {
        self.all_caps(submitter)
    }

    fn status_changes(&self, submitter: Option<&str>, limit: u32) -> Result<Vec<StatusChange>, StoreError> {
        self.changes(submitter, limit)
    }

    fn outbox(&self, limit: u32) -> Result<Vec<OutboxMessage>, StoreError> {
        self.outbox_list(limit)
    }

    fn outbox_due(&self, now: Instant, limit: u32) -> Result<Vec<OutboxMessage>, StoreError> {
        self.due(now, limit)
    }

    fn outbox_sent(&self, id: i64, at: Instant) -> Result<(), StoreError> {
        self.sent(id, at)
    }

    fn outbox_failed(
        &self,
        id: i64,
        attempts: u32,
        next_attempt: Instant,
        gave_up: bool,
        error: &str,
    ) -> Result<(), StoreError> {
        self.failed(id, attempts, next_attempt, gave_up, error)
    }

    fn try_exclusive(&self, name: &str) -> Result<Option<Box<dyn Held + '_>>, StoreError> {
        self.exclusive(name)
    }

    fn put_desktop_user(&self, user: &NewDesktopUser, now: Instant) -> Result<(), StoreError> {
        self.d_put_user(user, now)
    }

    fn desktop_user(&self, username: &str) -> Result<Option<DesktopUser>, StoreError> {
        self.d_user(username)
    }

    fn desktop_users(&self) -> Result<Vec<DesktopUser>, StoreError> {
        self.d_users()
    }

    fn verify_desktop_user(&self, username: &str, password: &str, now: Instant) -> Result<SignIn, StoreError> {
        self.d_verify(username, password, now)
    }

    fn unlock_desktop_user(&self, username: &str) -> Result<bool, StoreError> {
        self.d_unlock(username)
    }

    fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.d_create_session(session)
    }

    fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError> {
        self.d_session(token_hash)
    }

    fn touch_session(&self, token_hash: &str, now: Instant) -> Result<bool, StoreError> {
        self.d_touch_session(token_hash, now)
    }

    fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        self.d_delete_session(token_hash)
    }

    fn submitter_profile(&self, id: &str) -> Result<Option<SubmitterProfile>, StoreError> {
        self.d_profile(id)
    }

    fn submitter_profiles(&self) -> Result<Vec<SubmitterProfile>, StoreError> {
        self.d_profiles()
    }

    fn put_submitter_profile(&self, profile: &SubmitterProfile) -> Result<(), StoreError> {
        self.d_put_profile(profile)
    }

    fn create_submitter(&self, submitter: &NewSubmitter) -> Result<(), StoreError> {
        self.d_create_submitter(submitter)
    }

    fn delete_relationship(&self, submitter: &str, npi: &str) -> Result<bool, StoreError> {
        self.d_delete_relationship(submitter, npi)
    }

    fn search_relationships(
        &self,
        submitter: &str,
        npi_prefix: &str,
        offset: u32,
        limit: u32,
    ) -> Result<RelationshipPage, StoreError> {
        self.d_search(submitter, npi_prefix, offset, limit)
    }

    fn write_relationships(&self, submitter: &str, put: &[Relationship], delete: &[String]) -> Result<(), StoreError> {
        self.d_write_relationships(submitter, put, delete, None).map(|_| ())
    }

    fn write_batch(
        &self,
        submitter: &str,
        put: &[Relationship],
        delete: &[String],
        result: &BatchResult,
    ) -> Result<i64, StoreError> {
        let id = self.d_write_relationships(submitter, put, delete, Some(result))?;
        id.ok_or_else(|| StoreError::corrupt("batch result", "no id was given"))
    }

    fn batch_results(&self, submitter: &str, limit: u32) -> Result<Vec<BatchResult>, StoreError> {
        self.d_batch_results(submitter, limit, None)
    }

    fn batch_result(&self, submitter: &str, result_name: &str) -> Result<Option<BatchResult>, StoreError> {
        Ok(self.d_batch_results(submitter, 1, Some(result_name))?.pop())
    }

    fn put_attestation(&self, attestation: &Attestation) -> Result<(), StoreError> {
        self.d_put_attestation(attestation)
    }

    fn attestation(&self, npi: &str, submitter: &str) -> Result<Option<Attestation>, StoreError> {
        self.d_attestation(npi, submitter)
    }

    fn attestations_of(&self, npi: &str) -> Result<Vec<Attestation>, StoreError> {
        self.d_attestations_where(npi, None)
    }

    fn add_freeze(&self, window: &FreezeWindow) -> Result<i64, StoreError> {
        self.d_add_freeze(window)
    }

    fn freeze_windows(&self, after: Instant) -> Result<Vec<FreezeWindow>, StoreError> {
        self.d_freezes(after)
    }

    fn delete_freeze(&self, id: i64) -> Result<bool, StoreError> {
        self.d_delete_freeze(id)
    }

    fn add_bulletin(&self, bulletin: &Bulletin) -> Result<i64, StoreError> {
        self.d_add_bulletin(bulletin)
    }

    fn bulletins(&self) -> Result<Vec<Bulletin>, StoreError> {
        self.d_bulletins()
    }

    fn bulletin_sent(&self, id: i64, at: Instant, emails: &[OutboxMessage]) -> Result<bool, StoreError> {
        self.d_bulletin_sent(id, at, emails)
    }

    fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.d_setting(name)
    }

    fn put_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.d_put_setting(name, value)
    }

    fn set_bulk_load(&self, on: bool) -> Result<(), StoreError> {
        self.bulk.store(on, Ordering::Relaxed);
        if !on {
            // Fresh statistics after a load, so the planner keeps using the primary keys.
            let mut conn = self.pool.get()?;
            conn.client
                .batch_execute("ANALYZE beneficiary, provider, submitter, relationship, cost_sharing")
                .map_err(pg("analyzing"))?;
        }
        Ok(())
    }
}
