//! Everything openhets keeps: beneficiaries, the provider enrollment registry, submitters and
//! their NPIs, yearly cost sharing, and the append-only record of transactions.
//!
//! One trait, [`Store`], with two implementations chosen by URL in [`open`]: SQLite
//! (`sqlite:PATH`, the embedded default) and PostgreSQL (`postgres://…`). The trait is
//! synchronous and object safe: the async server calls it from blocking threads, and the command
//! line calls it directly. Both implementations keep a small pool of connections, so readers on
//! both cores never wait for each other.
//!
//! A beneficiary is stored whole, as one compact binary blob keyed by MBI: the eligibility
//! engine always needs all of a beneficiary's records at once, and one primary-key read keeps
//! the cost of a lookup flat from a thousand to ten million beneficiaries.
#![forbid(unsafe_code)]

mod codec;
pub mod compliance;
pub mod desktop;
pub mod import;
mod migrate;
mod password;
mod pg;
mod pool;
mod sqlite;
pub mod synthetic;

use eligibility::{Beneficiary, CostSharing, Instant, Personas, Provider, SubmitterSeed, SubmitterStatus};
use std::sync::Arc;
use x12::Date;

pub use compliance::{
    AaaCaseRow, Applied, AuditRecord, Cap, CapChange, CapState, CaseChange, ComplianceWrite, Held, OutboxMessage,
    RelationshipChange, Standing, StandingChange, StatusChange,
};
pub use desktop::{
    Attestation, AttestationState, Audience, BatchResult, Bulletin, ConnectionMethod, DesktopRole, DesktopUser,
    FreezeWindow, NewDesktopUser, NewSubmitter, RelationshipPage, RelationshipRule, Session, SignIn, SubmitterProfile,
};
pub use migrate::Migration;

/// The database the command line uses when `--db` is not given.
pub const DEFAULT_URL: &str = "sqlite:./hets-data/hets.db";

/// Opens (and creates, for SQLite) the database at `url` and brings its schema up to date.
///
/// `url` is `sqlite:PATH` (the file and its directory are created on first use) or a
/// `postgres://` / `postgresql://` URL as libpq understands it (`?options=-csearch_path%3DX`
/// selects a schema).
pub fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = sqlite_path(url)? {
        Ok(Arc::new(sqlite::SqliteStore::open(path)?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(pg::PgStore::open(url)?))
    } else {
        // Only the scheme is echoed: the rest of a URL may hold a password.
        let scheme = url.split(':').next().unwrap_or_default();
        Err(StoreError::BadUrl(format!(
            "unknown database scheme `{scheme}`: use sqlite:PATH or postgres://USER@HOST:PORT/DATABASE"
        )))
    }
}

/// The file of a `sqlite:` URL; `None` for any other scheme.
fn sqlite_path(url: &str) -> Result<Option<&std::path::Path>, StoreError> {
    let Some(path) = url.strip_prefix("sqlite:") else {
        return Ok(None);
    };
    // `sqlite://PATH` is a common spelling too; the path is what follows.
    let path = path.strip_prefix("//").unwrap_or(path);
    if path.is_empty() {
        return Err(StoreError::BadUrl("sqlite: needs a file path, e.g. sqlite:./hets-data/hets.db".into()));
    }
    Ok(Some(std::path::Path::new(path)))
}

/// The claim of the one server process of a SQLite database, held until it is dropped or the
/// process ends (however it ends: the operating system lets go of the lock with the file).
#[derive(Debug)]
pub struct ServerLock {
    _file: std::fs::File,
}

/// Claims a SQLite database for one `hets serve` process: a second server on the same file
/// would not see the first one's stored answers in its PayloadID filter (it would answer a
/// retry anew instead of replaying, D11), and both would run their own group commit and
/// checkpointer. Several servers share a PostgreSQL database instead; for it this claims
/// nothing. Commands that merely read or write the database (`hets admin`, `hets respond`)
/// need no claim: SQLite's own locking serves them.
pub fn claim_for_serving(url: &str) -> Result<Option<ServerLock>, StoreError> {
    let Some(path) = sqlite_path(url)? else {
        return Ok(None);
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| StoreError::CreateDir { path: dir.to_path_buf(), error })?;
    }
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    let lock = std::path::PathBuf::from(lock);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|error| StoreError::Lock { path: lock.clone(), error })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServerLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse { path: path.to_path_buf(), lock }),
        Err(std::fs::TryLockError::Error(error)) => Err(StoreError::Lock { path: lock, error }),
    }
}

/// The storage interface of openhets.
///
/// Reads return `Ok(None)` for an unknown key; `Err` means the store itself failed (the engine
/// answers AAA 42 then). Writers (`put_*`) insert or replace by key, each call in one database
/// transaction, so a seed or import can be re-run. Implementations are safe to share between
/// threads; every call takes a pooled connection for its duration.
pub trait Store: Send + Sync {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Whether a request's calls (its reads, and the group commit of its record) may run on the
    /// thread that serves it: true for a store whose reads are local and finish in microseconds
    /// without waiting for the writer, and whose commits are local writes; false (the default)
    /// for one whose calls wait on a network, which belong on a blocking thread.
    fn calls_inline(&self) -> bool {
        false
    }

    /// A number that changes whenever this store object commits a change to the reference data
    /// (providers, relationships, submitters, settings, anything but the transaction records):
    /// a caller that keeps such data for a moment compares it before trusting what it kept.
    /// Changes made by another process do not move it. `None` (the default, and PostgreSQL's,
    /// whose nodes share the data) means there is no such number: keep nothing.
    fn reference_version(&self) -> Option<u64> {
        None
    }

    /// The beneficiary with this MBI: one primary-key read.
    fn beneficiary(&self, mbi: &str) -> Result<Option<Beneficiary>, StoreError>;

    /// The provider enrollment registry entry of this NPI.
    fn provider(&self, npi: &str) -> Result<Option<Provider>, StoreError>;

    /// The submitter (trading partner) with this id; the password hash never leaves the store.
    fn submitter(&self, id: &str) -> Result<Option<Submitter>, StoreError>;

    /// True when `password` is this submitter's password. An unknown submitter costs the same
    /// time as a wrong password, so the answer does not reveal which ids exist.
    fn verify_password(&self, id: &str, password: &str) -> Result<bool, StoreError>;

    /// The Submitter/NPI relationship of this pair, whatever its status and dates.
    fn relationship(&self, submitter: &str, npi: &str) -> Result<Option<Relationship>, StoreError>;

    /// What one eligibility request reads: the provider of this NPI, the submitter's declared
    /// relationship with it, and the beneficiary of this MBI. The default reads them one by
    /// one; a store whose every read is a network round trip (PostgreSQL) reads them in one.
    fn request_facts(&self, submitter: &str, npi: &str, mbi: Option<&str>) -> Result<RequestFacts, StoreError> {
        Ok(RequestFacts {
            provider: self.provider(npi)?,
            relationship: self.relationship(submitter, npi)?,
            beneficiary: match mbi {
                Some(mbi) => self.beneficiary(mbi)?,
                None => None,
            },
        })
    }

    /// All relationships of one submitter, ordered by NPI.
    fn relationships_of(&self, submitter: &str) -> Result<Vec<Relationship>, StoreError>;

    /// Cost sharing of every year on file, ordered by year.
    fn cost_sharing(&self) -> Result<Vec<CostSharing>, StoreError>;

    /// Appends one transaction record and returns its id.
    fn record_transaction(&self, record: &TransactionRecord) -> Result<i64, StoreError>;

    /// Appends several transaction records in one database transaction (for callers that batch
    /// records to spare a commit per request).
    fn record_transactions(&self, records: &[TransactionRecord]) -> Result<(), StoreError>;

    /// Appends transaction records and stores replayable answers (D11) in one database
    /// transaction: the group commit of the CORE endpoints, which release a response only once
    /// this has returned. A replay whose (sender, PayloadID) is already held and younger than
    /// 24 hours is left as it is.
    fn record_exchanges(&self, records: &[TransactionRecord], replays: &[Replay]) -> Result<(), StoreError>;

    /// Turns a replay's answer into the form this store keeps (SQLite: compressed), on the
    /// caller's thread: the group commit, which runs one batch at a time, then only stores it.
    /// `record_exchanges` takes replays packed or not; a store that keeps answers as they are
    /// leaves them.
    fn pack_replay(&self, _replay: &mut Replay) {}

    /// The stored answer to this sender's PayloadID, if it was stored at or after `since`.
    fn replay(&self, sender: &str, payload_id: &str, since: Instant) -> Result<Option<Replay>, StoreError>;

    /// Deletes stored answers older than `before`; returns how many went.
    fn purge_replays(&self, before: Instant) -> Result<u64, StoreError>;

    /// Adds a maintenance window (D12) and returns its id.
    fn add_maintenance(&self, window: &MaintenanceWindow) -> Result<i64, StoreError>;

    /// The maintenance windows that end after `after`, by start.
    fn maintenance_windows(&self, after: Instant) -> Result<Vec<MaintenanceWindow>, StoreError>;

    /// Deletes a maintenance window; false when there was none with this id.
    fn delete_maintenance(&self, id: i64) -> Result<bool, StoreError>;

    /// The transactions of one submitter whose instant is in `from..to` (`to` excluded), oldest
    /// first.
    fn transactions_for(
        &self,
        submitter: &str,
        from: Instant,
        to: Instant,
    ) -> Result<Vec<RecordedTransaction>, StoreError>;

    /// Inserts or replaces beneficiaries (by MBI) in one database transaction. Every MBI must be
    /// in MBI format.
    fn put_beneficiaries(&self, beneficiaries: &[Beneficiary]) -> Result<(), StoreError>;

    /// Inserts or replaces providers (by NPI).
    fn put_providers(&self, providers: &[Provider]) -> Result<(), StoreError>;

    /// Inserts or replaces submitters (by id), storing an argon2id hash of each password. The
    /// seeds' `npis` are not relationships: write those with [`Store::put_relationships`].
    fn put_submitters(&self, submitters: &[SubmitterSeed]) -> Result<(), StoreError>;

    /// Inserts or replaces Submitter/NPI relationships (by submitter and NPI).
    fn put_relationships(&self, relationships: &[Relationship]) -> Result<(), StoreError>;

    /// Inserts or replaces cost sharing (by year).
    fn put_cost_sharing(&self, years: &[CostSharing]) -> Result<(), StoreError>;

    /// How many rows each table holds.
    fn counts(&self) -> Result<Counts, StoreError>;

    /// The space the database takes, in bytes: the file (and its WAL) for SQLite, the database
    /// for PostgreSQL.
    fn size_bytes(&self) -> Result<u64, StoreError>;

    /// Bulk-load mode: while on, writes trade durability for speed (SQLite stops syncing to
    /// disk; PostgreSQL commits without waiting for its WAL flush). A crash of the process during
    /// a bulk load loses at most the load, which is re-run; turning it off makes everything
    /// durable and tidies up (SQLite checkpoints its WAL).
    fn set_bulk_load(&self, on: bool) -> Result<(), StoreError>;

    // Compliance (D13–D15).

    /// Every submitter, by id.
    fn submitters(&self) -> Result<Vec<Submitter>, StoreError>;

    /// Calls `each` with every transaction record of one submitter whose instant is in
    /// `from..to`, oldest first, without holding them all in memory; returns how many there were.
    fn scan_transactions(
        &self,
        submitter: &str,
        from: Instant,
        to: Instant,
        each: &mut dyn FnMut(&TransactionRecord),
    ) -> Result<u64, StoreError>;

    /// Applies one compliance decision in one database transaction. A change whose `expect`
    /// no longer holds fails the whole write with [`StoreError::Conflict`].
    fn apply_compliance(&self, write: &ComplianceWrite) -> Result<Applied, StoreError>;

    /// Audit records of the periods `from..=to` (period names compare as text), of one
    /// submitter or all, by period then submitter.
    fn audit_records(&self, submitter: Option<&str>, from: &str, to: &str) -> Result<Vec<AuditRecord>, StoreError>;

    /// AAA error-rate cases, of one submitter or all, oldest first.
    fn aaa_cases(&self, submitter: Option<&str>) -> Result<Vec<AaaCaseRow>, StoreError>;

    /// Corrective action plans, of one submitter or all, oldest first.
    fn caps(&self, submitter: Option<&str>) -> Result<Vec<Cap>, StoreError>;

    /// Compliance history, of one submitter or all, newest first, at most `limit` lines.
    fn status_changes(&self, submitter: Option<&str>, limit: u32) -> Result<Vec<StatusChange>, StoreError>;

    /// The outbox, newest first, at most `limit` messages.
    fn outbox(&self, limit: u32) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Messages due for delivery at `now` (not sent, not given up), oldest first.
    fn outbox_due(&self, now: Instant, limit: u32) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Records a delivery.
    fn outbox_sent(&self, id: i64, at: Instant) -> Result<(), StoreError>;

    /// Records a failed attempt: the next try, or giving up.
    fn outbox_failed(
        &self,
        id: i64,
        attempts: u32,
        next_attempt: Instant,
        gave_up: bool,
        error: &str,
    ) -> Result<(), StoreError>;

    /// Takes the named lock if no one holds it: on PostgreSQL a session advisory lock, so
    /// exactly one of several `hets serve` nodes runs a given job; on SQLite (one node) a lock
    /// inside this process. `None` when another holder has it.
    fn try_exclusive(&self, name: &str) -> Result<Option<Box<dyn Held + '_>>, StoreError>;

    // The desktop (HDT) and its help-desk console (migration 0004, see [`desktop`]).

    /// Inserts or replaces a desktop user (by username), storing an argon2id hash of its
    /// password; a replaced user is unlocked.
    fn put_desktop_user(&self, user: &NewDesktopUser, now: Instant) -> Result<(), StoreError>;

    fn desktop_user(&self, username: &str) -> Result<Option<DesktopUser>, StoreError>;

    /// Every desktop user, by username.
    fn desktop_users(&self) -> Result<Vec<DesktopUser>, StoreError>;

    /// Checks a desktop sign-in and updates the lockout counters in the same transaction:
    /// [`desktop::LOCKOUT_ATTEMPTS`] wrong passwords in a row lock the account for
    /// [`desktop::LOCKOUT_SECONDS`]; while locked the password is not even checked.
    fn verify_desktop_user(&self, username: &str, password: &str, now: Instant) -> Result<SignIn, StoreError>;

    /// Clears a lockout; false when there is no such user.
    fn unlock_desktop_user(&self, username: &str) -> Result<bool, StoreError>;

    fn create_session(&self, session: &Session) -> Result<(), StoreError>;

    /// The session whose token hashes to `token_hash`.
    fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;

    /// Records activity on a session; false when it is gone.
    fn touch_session(&self, token_hash: &str, now: Instant) -> Result<bool, StoreError>;

    fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError>;

    fn submitter_profile(&self, id: &str) -> Result<Option<SubmitterProfile>, StoreError>;

    /// Every submitter profile, by submitter id.
    fn submitter_profiles(&self) -> Result<Vec<SubmitterProfile>, StoreError>;

    /// Inserts or replaces a submitter's profile.
    fn put_submitter_profile(&self, profile: &SubmitterProfile) -> Result<(), StoreError>;

    /// Creates an active submitter and its profile in one transaction; [`StoreError::Conflict`]
    /// when the id is taken.
    fn create_submitter(&self, submitter: &NewSubmitter) -> Result<(), StoreError>;

    /// Deletes one relationship; false when there was none.
    fn delete_relationship(&self, submitter: &str, npi: &str) -> Result<bool, StoreError>;

    /// One page of a submitter's relationships whose NPI starts with `npi_prefix`, by NPI.
    fn search_relationships(
        &self,
        submitter: &str,
        npi_prefix: &str,
        offset: u32,
        limit: u32,
    ) -> Result<RelationshipPage, StoreError>;

    /// Inserts or replaces `put` and deletes the NPIs of `delete`, all of one submitter, in one
    /// transaction (the desktop's single edits).
    fn write_relationships(&self, submitter: &str, put: &[Relationship], delete: &[String]) -> Result<(), StoreError>;

    /// An HDT Batch upload: [`Store::write_relationships`] and the upload's result file, in one
    /// transaction, so a kept result file always tells what was applied. Returns the result's id.
    fn write_batch(
        &self,
        submitter: &str,
        put: &[Relationship],
        delete: &[String],
        result: &BatchResult,
    ) -> Result<i64, StoreError>;

    /// One submitter's latest batch results, newest first, without their files.
    fn batch_results(&self, submitter: &str, limit: u32) -> Result<Vec<BatchResult>, StoreError>;

    /// One submitter's latest result file of that name, with the file.
    fn batch_result(&self, submitter: &str, result_name: &str) -> Result<Option<BatchResult>, StoreError>;

    /// Inserts or replaces a provider attestation (by NPI and submitter).
    fn put_attestation(&self, attestation: &Attestation) -> Result<(), StoreError>;

    fn attestation(&self, npi: &str, submitter: &str) -> Result<Option<Attestation>, StoreError>;

    /// Every attestation of one NPI, by submitter.
    fn attestations_of(&self, npi: &str) -> Result<Vec<Attestation>, StoreError>;

    /// Adds an HDT freeze window (D12) and returns its id.
    fn add_freeze(&self, window: &FreezeWindow) -> Result<i64, StoreError>;

    /// The HDT freeze windows that end after `after`, by start.
    fn freeze_windows(&self, after: Instant) -> Result<Vec<FreezeWindow>, StoreError>;

    fn delete_freeze(&self, id: i64) -> Result<bool, StoreError>;

    /// Adds a bulletin (not sent) and returns its id.
    fn add_bulletin(&self, bulletin: &Bulletin) -> Result<i64, StoreError>;

    /// Every bulletin, latest scheduled first.
    fn bulletins(&self) -> Result<Vec<Bulletin>, StoreError>;

    /// Marks a bulletin sent and queues its emails in one transaction; false (nothing written)
    /// when it was already sent, so a bulletin goes out once.
    fn bulletin_sent(&self, id: i64, at: Instant, emails: &[OutboxMessage]) -> Result<bool, StoreError>;

    /// An operator setting (e.g. [`RelationshipRule::SETTING`]).
    fn setting(&self, name: &str) -> Result<Option<String>, StoreError>;

    fn put_setting(&self, name: &str, value: &str) -> Result<(), StoreError>;
}

/// A trading partner, as the store keeps it (no password).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitter {
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: SubmitterStatus,
    /// End of the current 24-hour suspension (D13).
    pub suspended_until: Option<Instant>,
    /// Suspensions so far; the third terminates the submitter.
    pub suspensions: u16,
    /// Terminations so far; the third is permanent.
    pub terminations: u16,
}

impl Submitter {
    pub fn standing(&self) -> Standing {
        Standing {
            status: self.status,
            suspended_until: self.suspended_until,
            suspensions: self.suspensions,
            terminations: self.terminations,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationshipStatus {
    Active,
    /// Suspended until a corrective action plan is accepted (D15): AAA 41 meanwhile.
    Suspended,
    /// Ended for good after repeated inquiries: AAA 41 for ever.
    Permanent,
}

impl RelationshipStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RelationshipStatus::Active => "active",
            RelationshipStatus::Suspended => "suspended",
            RelationshipStatus::Permanent => "permanent",
        }
    }

    pub fn parse(s: &str) -> Option<RelationshipStatus> {
        match s {
            "active" => Some(RelationshipStatus::Active),
            "suspended" => Some(RelationshipStatus::Suspended),
            "permanent" => Some(RelationshipStatus::Permanent),
            _ => None,
        }
    }
}

/// What one eligibility request reads from the store (see [`Store::request_facts`]).
#[derive(Clone, Debug)]
pub struct RequestFacts {
    pub provider: Option<Provider>,
    pub relationship: Option<Relationship>,
    pub beneficiary: Option<Beneficiary>,
}

/// A Submitter/NPI relationship: the submitter may inquire for this NPI from `effective` through
/// `end` (inclusive; open when absent) while the relationship is active.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Relationship {
    pub submitter: String,
    pub npi: String,
    pub status: RelationshipStatus,
    pub effective: Date,
    pub end: Option<Date>,
}

impl Relationship {
    /// True when the relationship lets the submitter inquire for the NPI on `day`.
    pub fn active_on(&self, day: Date) -> bool {
        self.status == RelationshipStatus::Active && self.effective <= day && self.end.is_none_or(|end| day <= end)
    }
}

/// What a transaction ended in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A 271 without AAA.
    Response271,
    /// A 271 carrying at least one AAA.
    Response271Aaa,
    /// A 999 rejecting the transaction set.
    Ack999,
    /// A TA1 refusing the interchange.
    Ta1,
}

impl Outcome {
    /// The text kept in the record: `271`, `271-AAA`, `999` or `TA1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Response271 => "271",
            Outcome::Response271Aaa => "271-AAA",
            Outcome::Ack999 => "999",
            Outcome::Ta1 => "TA1",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "271" => Some(Outcome::Response271),
            "271-AAA" => Some(Outcome::Response271Aaa),
            "999" => Some(Outcome::Ack999),
            "TA1" => Some(Outcome::Ta1),
            _ => None,
        }
    }
}

/// One transaction as the audits see it: who asked what, when, and what came of it. Never the
/// payload text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionRecord {
    /// The transaction instant (kept to the hundredth of a second).
    pub at: Instant,
    pub submitter: String,
    /// The 2100B NPI as sent, when the 270 could be read that far.
    pub npi: Option<String>,
    /// The 2100C MBI as sent, when the 270 could be read that far.
    pub mbi: Option<String>,
    pub outcome: Outcome,
    /// AAA03 codes of the 271, in order (e.g. `["72", "73"]`).
    pub aaa_codes: Vec<String>,
    /// EQ01 service type codes asked.
    pub service_types: Vec<String>,
    /// Time spent answering, in microseconds.
    pub duration_micros: u64,
}

/// A transaction record and the id the store gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedTransaction {
    pub id: i64,
    pub record: TransactionRecord,
}

/// A stored real-time answer, replayed when the same sender retries the same PayloadID (D11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    pub sender: String,
    pub payload_id: String,
    /// When the answer was stored (kept to the millisecond).
    pub at: Instant,
    /// A digest of the request payload: a retry must carry the same bytes.
    pub request_digest: String,
    /// The CORE PayloadType of the answer.
    pub payload_type: String,
    /// The answer (271, 999 or TA1).
    pub response: Vec<u8>,
}

/// A scheduled maintenance window (D12): the real-time endpoints answer 503 from `starts` until
/// `ends` (excluded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaintenanceWindow {
    /// The store's id (ignored by [`Store::add_maintenance`]).
    pub id: i64,
    pub starts: Instant,
    pub ends: Instant,
    /// Said to submitters; no PHI.
    pub reason: String,
}

/// Rows per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub beneficiaries: u64,
    pub providers: u64,
    pub submitters: u64,
    pub relationships: u64,
    pub cost_sharing_years: u64,
    pub transactions: u64,
}

/// The day the demo's Submitter/NPI relationships take effect: before every instant the tests
/// replay (the earliest release, R2019Q400), so the relationships are in force whatever the
/// transaction date.
pub const PERSONA_RELATIONSHIPS_FROM: Date = Date { year: 2000, month: 1, day: 1 };

/// The Submitter/NPI relationships the demo dataset declares (each submitter's `npis`), active
/// from [`PERSONA_RELATIONSHIPS_FROM`] with no end. A suspended submitter's relationships stay
/// active: the submitter's own status is what refuses its requests.
pub fn persona_relationships(personas: &Personas) -> Vec<Relationship> {
    personas
        .submitters
        .iter()
        .flat_map(|s| {
            s.npis.iter().map(|npi| Relationship {
                submitter: s.id.clone(),
                npi: npi.clone(),
                status: RelationshipStatus::Active,
                effective: PERSONA_RELATIONSHIPS_FROM,
                end: None,
            })
        })
        .collect()
}

/// Writes the whole demo dataset: cost sharing, providers, submitters (hashed passwords), their
/// relationships and the beneficiaries.
pub fn load_personas(store: &dyn Store, personas: &Personas) -> Result<(), StoreError> {
    store.put_cost_sharing(&personas.cost_sharing)?;
    store.put_providers(&personas.providers)?;
    store.put_submitters(&personas.submitters)?;
    store.put_relationships(&persona_relationships(personas))?;
    store.put_beneficiaries(&personas.beneficiaries)?;
    Ok(())
}

/// Why the store failed. Messages name the operation and the table, never a key: keys are MBIs
/// and names, which stay out of logs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("bad database URL: {0}")]
    BadUrl(String),
    #[error("creating the database directory {path}: {error}")]
    CreateDir { path: std::path::PathBuf, error: std::io::Error },
    #[error(
        "another hets serve process is serving {path} (it holds the lock on {lock}); a SQLite database takes one server process, several share PostgreSQL"
    )]
    InUse { path: std::path::PathBuf, lock: std::path::PathBuf },
    #[error("locking {path}: {error}")]
    Lock { path: std::path::PathBuf, error: std::io::Error },
    #[error("SQLite, {context}: {error}")]
    Sqlite { context: &'static str, error: rusqlite::Error },
    #[error("PostgreSQL, {context}: {}", pg::describe(.error))]
    Postgres { context: &'static str, error: postgres::Error },
    #[error("the database schema is at version {found}, newer than this program knows ({known}); upgrade hets")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("a stored {what} cannot be read: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("{what} refused: {detail}")]
    Invalid { what: &'static str, detail: String },
    #[error("password hashing failed: {0}")]
    Password(String),
    #[error("{0} changed meanwhile; nothing was written")]
    Conflict(String),
}

impl StoreError {
    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> StoreError {
        StoreError::Invalid { what, detail: detail.into() }
    }

    pub(crate) fn corrupt(what: &'static str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt { what, detail: detail.to_string() }
    }
}

/// Checks what the writers would otherwise store unchecked: keys in their formats, so a typo
/// cannot make a record that no request can ever reach.
pub(crate) fn check_beneficiaries(beneficiaries: &[Beneficiary]) -> Result<(), StoreError> {
    for (i, b) in beneficiaries.iter().enumerate() {
        if !eligibility::ids::is_valid_mbi(b.mbi.as_bytes()) {
            return Err(StoreError::invalid(
                "beneficiary",
                format!("item {i} of the batch: the MBI is not in MBI format"),
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_window(w: &MaintenanceWindow) -> Result<(), StoreError> {
    if w.ends <= w.starts {
        return Err(StoreError::invalid("maintenance window", "it must end after it starts"));
    }
    Ok(())
}

pub(crate) fn check_providers(providers: &[Provider]) -> Result<(), StoreError> {
    for (i, p) in providers.iter().enumerate() {
        if !eligibility::ids::is_valid_npi(p.npi.as_bytes()) {
            return Err(StoreError::invalid("provider", format!("item {i} of the batch: the NPI is not a valid NPI")));
        }
    }
    Ok(())
}

pub(crate) fn check_relationships(relationships: &[Relationship]) -> Result<(), StoreError> {
    for (i, r) in relationships.iter().enumerate() {
        if !eligibility::ids::is_valid_npi(r.npi.as_bytes()) {
            return Err(StoreError::invalid(
                "relationship",
                format!("item {i} of the batch: the NPI is not a valid NPI"),
            ));
        }
        if r.end.is_some_and(|end| end < r.effective) {
            return Err(StoreError::invalid(
                "relationship",
                format!("item {i} of the batch: it ends before it starts"),
            ));
        }
    }
    Ok(())
}
