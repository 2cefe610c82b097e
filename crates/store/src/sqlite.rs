//! The embedded store: one SQLite file in WAL mode.
//!
//! Readers take connections from a small pool (WAL lets them read while a write is in progress,
//! one per core without waiting). All writes go through one connection behind a mutex: SQLite
//! has a single writer anyway, and queueing on a mutex inside the process is fairer and faster
//! than SQLite's sleep-and-retry busy handler, which remains for other processes only.

mod compliance;
pub(crate) mod desktop;
mod recent;

use crate::codec::{self, need};
use crate::desktop::{
    Attestation, BatchResult, Bulletin, DesktopUser, FreezeWindow, NewDesktopUser, NewSubmitter, RelationshipPage,
    Session, SignIn, SubmitterProfile,
};
use crate::migrate::{self, Migration};
use crate::pool::Pool;
use crate::{
    AaaCaseRow, Applied, AuditRecord, Cap, ComplianceWrite, Counts, Held, MaintenanceWindow, OutboxMessage,
    RecordedTransaction, Relationship, Replay, RequestFacts, StatusChange, Store, StoreError, Submitter,
    TransactionRecord, check_beneficiaries, check_providers, check_relationships, check_window, password,
};
use eligibility::{Beneficiary, CostSharing, Instant, Provider, SubmitterSeed};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

pub struct SqliteStore {
    path: PathBuf,
    readers: Pool<Connection>,
    writer: Arc<Mutex<Connection>>,
    /// The records file's own writer (nothing attached): the group commit's transactions lock
    /// and commit that file alone, and never wait for (or hold up) writes to the main file.
    records_writer: Arc<Mutex<Connection>>,
    held: compliance::HeldNames,
    /// Where each recent (sender, PayloadID) was stored (see `sqlite/recent.rs`), read in from
    /// the table on first use.
    recent: RwLock<recent::RecentPayloads>,
    recent_loaded: std::sync::Once,
    /// True once more PayloadIDs are held than the table may: lookups then go through an
    /// index in the file, as they would without the table.
    replay_indexed: AtomicBool,
    /// Bumped after every use of the main file's writer (see `Store::reference_version`).
    main_writes: AtomicU64,
    /// Held while the checkpointer runs (see [`ReadPin`]); let go for checkpoints that must
    /// copy back the whole WAL.
    pin: Arc<Mutex<ReadPin>>,
    /// Dropping it ends the checkpointer thread (after a last checkpoint).
    _checkpointer: Option<Checkpointer>,
}

fn sq(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |error| StoreError::Sqlite { context, error }
}

/// Page cache per connection in normal use, in KiB (SQLite's negative cache_size unit). Small:
/// the operating system's page cache already holds the hot pages once for every connection,
/// while each connection's own cache is private memory (five connections at 64 MiB held a
/// server at 470 MB resident under load); a lookup is a handful of pages, and the inner pages of
/// the B-trees fit easily.
const CACHE_KIB: i64 = 16 * 1024;
/// A reader's page cache, in KiB. Any commit to the main file empties the cache of each reader
/// that starts a query after it (WAL mode cannot tell which pages changed); the records go to
/// their own file, so under load the main file sees only the odd edit and the caches stay
/// warm. Sized to hold the inner pages of the beneficiary table's B-tree at a million and more
/// (about 2 MB), so a lookup reads only its leaf from the operating system's page cache.
const READER_CACHE_KIB: i64 = 8 * 1024;
/// The writer's page cache during a bulk load: imports insert in no particular key order, and
/// a B-tree whose inner pages stay cached takes random inserts at memory speed.
const BULK_CACHE_KIB: i64 = 1024 * 1024;
/// The records writer's page cache, in KiB: it appends, so it needs the B-trees' right edges
/// and the inner pages of the PayloadID index.
const RECORDS_WRITER_CACHE_KIB: i64 = 4 * 1024;
/// Other processes (a seed while the server runs) wait this long for the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The file beside the database that holds what every request appends (see
/// `migrations/sqlite/records.sql`): `hets.db` keeps its records in `hets.db.records`.
fn records_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".records");
    PathBuf::from(name)
}

/// The records file's schema, applied on every open.
const RECORDS_SCHEMA: &str = include_str!("../migrations/sqlite/records.sql");

/// A connection to one file, read-write, created if missing, waiting for locks.
fn open_file(path: &Path, context: &'static str) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sq(context))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sq("setting the busy timeout"))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = open_file(path, "opening the database")?;
    let records = records_path(path);
    let records = records.to_str().ok_or_else(|| StoreError::BadUrl(format!("{} is not UTF-8", records.display())))?;
    conn.execute("ATTACH DATABASE ?1 AS records", [records]).map_err(sq("opening the records file"))?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA records.synchronous = NORMAL;
         PRAGMA cache_size = -{CACHE_KIB}; PRAGMA records.cache_size = -{CACHE_KIB}; PRAGMA temp_store = MEMORY;"
    ))
    .map_err(sq("configuring the connection"))?;
    Ok(conn)
}

/// A connection to the records file alone, for writing records (see `records_writer`).
fn connect_records(path: &Path) -> Result<Connection, StoreError> {
    let conn = open_file(&records_path(path), "opening the records file")?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{RECORDS_WRITER_CACHE_KIB}; PRAGMA wal_autocheckpoint = 0;"
    ))
    .map_err(sq("configuring the records writer"))?;
    Ok(conn)
}

/// Databases made before the records file had the records in the main file: moves them over
/// once. Safe to repeat after a crash half-way (WAL mode commits each file on its own): rows
/// already moved are skipped.
fn move_records_out_of_main(conn: &mut Connection) -> Result<(), StoreError> {
    let context = "moving transaction records into the records file";
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sq(context))?;
    let in_main = |table: &str| -> Result<bool, StoreError> {
        tx.query_row("SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n > 0)
        .map_err(sq(context))
    };
    if in_main("transaction_record")? {
        tx.execute_batch(
            "INSERT INTO records.transaction_record SELECT * FROM main.transaction_record
                 WHERE id > (SELECT coalesce(max(id), 0) FROM records.transaction_record);
             DROP TABLE main.transaction_record;",
        )
        .map_err(sq(context))?;
    }
    if in_main("payload_replay")? {
        tx.execute_batch(
            "INSERT OR IGNORE INTO records.payload_replay
                 (sender_id, payload_id, at_ms, request_digest, payload_type, response)
                 SELECT sender_id, payload_id, at_ms, request_digest, payload_type, response
                 FROM main.payload_replay ORDER BY id;
             DROP TABLE main.payload_replay;",
        )
        .map_err(sq(context))?;
    }
    tx.commit().map_err(sq(context))
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| StoreError::CreateDir { path: dir.to_path_buf(), error })?;
        }
        let mut writer = connect(path)?;
        // WAL is a property of the file: set once, every later connection reads in WAL mode.
        for schema in ["main", "records"] {
            let mode: String = writer
                .query_row(&format!("PRAGMA {schema}.journal_mode = WAL"), [], |r| r.get(0))
                .map_err(sq("switching to WAL mode"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(schema, mode, "SQLite refused WAL mode; readers will wait for writers");
            }
        }
        migrate(&mut writer, migrate::SQLITE)?;
        writer.execute_batch(RECORDS_SCHEMA).map_err(sq("creating the records file's tables"))?;
        move_records_out_of_main(&mut writer)?;
        // Databases from before the PayloadID table (`sqlite/recent.rs`) kept a unique index on
        // (sender, PayloadID), which took a random page write per request.
        writer
            .execute_batch(
                "DROP INDEX IF EXISTS records.payload_replay_key; DROP INDEX IF EXISTS records.payload_replay_at;",
            )
            .map_err(sq("dropping an old index"))?;
        // Checkpoints run on their own thread (see `Checkpointer`), never inside a commit.
        writer.execute_batch("PRAGMA wal_autocheckpoint = 0").map_err(sq("configuring the writer"))?;
        // The main file's writer lets go of the records file: BEGIN IMMEDIATE takes the write
        // lock of every attached file, and a desktop edit must not hold up the group commit.
        writer.execute_batch("DETACH DATABASE records").map_err(sq("configuring the writer"))?;
        let writer = Arc::new(Mutex::new(writer));
        let records_writer = Arc::new(Mutex::new(connect_records(path)?));
        let pin = Arc::new(Mutex::new(ReadPin::open(path)));
        let checkpointer = Checkpointer::start(path, writer.clone(), records_writer.clone(), pin.clone());
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let reader_path = path.to_path_buf();
        let readers = Pool::new(
            2 * cores,
            move || {
                let c = connect(&reader_path)?;
                // Readers never write: a bug that tries fails instead of bypassing the writer.
                c.execute_batch(&format!("PRAGMA query_only = ON; PRAGMA cache_size = -{READER_CACHE_KIB};"))
                    .map_err(sq("configuring a reader"))?;
                Ok(c)
            },
            |_| true,
        );
        Ok(SqliteStore {
            path: path.to_path_buf(),
            readers,
            writer,
            records_writer,
            held: Default::default(),
            recent: RwLock::new(recent::RecentPayloads::new()),
            recent_loaded: std::sync::Once::new(),
            replay_indexed: AtomicBool::new(false),
            main_writes: AtomicU64::new(0),
            pin,
            _checkpointer: checkpointer,
        })
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // Before the write as well as after it (in `write`): this guard is held by bulk loads,
        // whose commits nothing follows.
        self.main_writes.fetch_add(1, Ordering::AcqRel);
        // A panic mid-write leaves the connection with its transaction rolled back (rusqlite's
        // Transaction rolls back on drop), so the connection is still usable.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in one IMMEDIATE transaction on the writer (the write lock is taken up front,
    /// so the transaction never fails half-way on a lock upgrade).
    fn write<T>(
        &self,
        context: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let out = write_on(&self.writer, context, f);
        // After the commit: a reader that saw the old version may have read the new data (and
        // will read again), but none can keep old data under the new version.
        self.main_writes.fetch_add(1, Ordering::AcqRel);
        out
    }

    /// Like [`SqliteStore::write`], on the records file's own writer.
    fn write_records<T>(
        &self,
        context: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        write_on(&self.records_writer, context, f)
    }

    /// Reads the (sender, PayloadID) pairs stored since a day before `since_ms` into the table,
    /// once, before its first use (a lookup or a write waits for it). Too many of them, or a
    /// failure to read them, and lookups use an index in the file instead.
    fn load_recent(&self, since_ms: i64) {
        self.recent_loaded.call_once(|| {
            let started = std::time::Instant::now();
            let from_ms = since_ms.saturating_sub(DAY_MS);
            let load = || -> Result<Option<usize>, StoreError> {
                let context = "reading the stored PayloadIDs";
                let conn = self.readers.get()?;
                let limit = self.recent.read().unwrap_or_else(PoisonError::into_inner).limit();
                let Some(first) = first_replay_at_or_after(&conn, from_ms - ORDER_SLACK_MS)? else {
                    return Ok(Some(0));
                };
                let held: i64 = conn
                    .query_row("SELECT count(*) FROM payload_replay WHERE id >= ?1", [first], |r| r.get(0))
                    .map_err(sq(context))?;
                if usize::try_from(held).unwrap_or(usize::MAX) > limit {
                    return Ok(None);
                }
                let mut stmt = conn
                    .prepare("SELECT id, sender_id, payload_id, at_ms FROM payload_replay WHERE id >= ?1 ORDER BY id")
                    .map_err(sq(context))?;
                let mut rows = stmt.query([first]).map_err(sq(context))?;
                let mut table = self.recent.write().unwrap_or_else(PoisonError::into_inner);
                let mut n = 0;
                while let Some(row) = rows.next().map_err(sq(context))? {
                    let at_ms: i64 = row.get(3).map_err(sq(context))?;
                    if at_ms < from_ms {
                        // Within the slack before the window: not one of the day's answers.
                        continue;
                    }
                    let text =
                        |i| row.get_ref(i).and_then(|v| v.as_str().map_err(rusqlite::Error::from)).map_err(sq(context));
                    let hash = recent::pair_hash(text(1)?, text(2)?);
                    table.insert(hash, row.get(0).map_err(sq(context))?, at_ms);
                    n += 1;
                }
                Ok(Some(n))
            };
            match load() {
                Ok(Some(n)) => {
                    // Back from the index (a quieter day after a flood): drop it, or every
                    // insert would keep paying for it.
                    let dropped = self.write_records("dropping the PayloadID index", |tx| {
                        tx.execute_batch("DROP INDEX IF EXISTS payload_replay_pair")
                            .map_err(sq("dropping the PayloadID index"))
                    });
                    if let Err(e) = dropped {
                        tracing::warn!(error = %e, "could not drop the PayloadID index; inserts keep paying for it");
                    }
                    tracing::debug!(payloads = n, ms = started.elapsed().as_millis() as u64, "PayloadIDs loaded");
                }
                Ok(None) => self.use_replay_index(),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the stored PayloadIDs; lookups use an index");
                    self.use_replay_index();
                }
            }
        });
    }

    /// Lookups and duplicate checks go through an index in the file from now on (built here,
    /// once: a flood of PayloadIDs pays for it instead of memory growing without bound).
    fn use_replay_index(&self) {
        let context = "indexing the stored PayloadIDs";
        let built = self.write_records(context, |tx| {
            tx.execute_batch("CREATE INDEX IF NOT EXISTS payload_replay_pair ON payload_replay (sender_id, payload_id)")
                .map_err(sq(context))
        });
        match built {
            Ok(()) => tracing::warn!("more PayloadIDs within 24 hours than memory holds; lookups use an index"),
            Err(e) => tracing::error!(error = %e, "could not index the stored PayloadIDs; lookups read the table"),
        }
        self.replay_indexed.store(true, Ordering::Release);
        *self.recent.write().unwrap_or_else(PoisonError::into_inner) = recent::RecentPayloads::with_limit(0);
    }

    /// The newest stored row for this pair (its id and time), read through `conn`: from the
    /// table's candidates (and `pending`, rows of the batch being written) or from the index.
    fn held_replay(
        &self,
        conn: &Connection,
        sender: &str,
        payload_id: &str,
        pending: &[(u64, i64, i64)],
        ids: &mut Vec<i64>,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let context = "checking for a stored answer";
        if self.replay_indexed.load(Ordering::Acquire) {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, at_ms FROM payload_replay WHERE sender_id = ?1 AND payload_id = ?2
                     ORDER BY id DESC LIMIT 1",
                )
                .map_err(sq(context))?;
            return stmt
                .query_row(params![sender, payload_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(sq(context));
        }
        let hash = recent::pair_hash(sender, payload_id);
        self.recent.read().unwrap_or_else(PoisonError::into_inner).candidates(hash, ids);
        ids.extend(pending.iter().filter(|p| p.0 == hash).map(|p| p.1));
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let mut stmt = conn
            .prepare_cached("SELECT sender_id, payload_id, at_ms FROM payload_replay WHERE id = ?1")
            .map_err(sq(context))?;
        for &id in ids.iter() {
            let row: Option<(bool, i64)> = stmt
                .query_row([id], |r| {
                    let same = r.get_ref(0)?.as_str()? == sender && r.get_ref(1)?.as_str()? == payload_id;
                    Ok((same, r.get(2)?))
                })
                .optional()
                .map_err(sq(context))?;
            if let Some((true, at)) = row {
                return Ok(Some((id, at)));
            }
        }
        Ok(None)
    }
}

/// Runs `f` in one IMMEDIATE transaction on `writer`.
fn write_on<T>(
    writer: &Mutex<Connection>,
    context: &'static str,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // A panic mid-write leaves the connection with its transaction rolled back (rusqlite's
    // Transaction rolls back on drop), so the connection is still usable.
    let mut conn = writer.lock().unwrap_or_else(PoisonError::into_inner);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sq(context))?;
    let out = f(&tx)?;
    tx.commit().map_err(sq(context))?;
    Ok(out)
}

/// Copies the WAL back into the database file from a thread of its own.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold: on the
/// request path that commit (and every request waiting for it, since records are committed
/// before answers are released) stalls while a thousand pages are copied and both files are
/// synced. A PASSIVE checkpoint from another connection runs beside the writer and the readers
/// instead: it takes neither the write lock nor a reader's.
///
/// But the WAL only starts over from its beginning when a write finds every frame copied back
/// and no reader still on the old frames, which under steady load never happens by itself (the
/// writer appends while the checkpointer copies: the file grew to 600 MB in 12 s). So once the
/// WAL passes [`RESTART_WAL_BYTES`], the checkpointer holds this process's writer for the moment
/// it takes to copy the last few frames (see [`checkpoint`]).
struct Checkpointer {
    /// Closed on drop: the thread checkpoints once more and ends.
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often the checkpointer looks at the WAL.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);
/// WAL size past which the checkpointer starts the WAL over. Each start-over holds commits for
/// a few milliseconds: measured under load on the 2-core machine, every 16 MiB put those pauses
/// into the p99.
const RESTART_WAL_BYTES: i64 = 64 << 20;
/// At most this much of the WAL is left to the pass that holds the writer.
const LOCKED_PASS_BYTES: i64 = 1 << 20;

/// One file the checkpointer looks after: the main database or the records file.
struct WalFile {
    /// The schema name on the checkpointer's connection: `main` or `records`.
    schema: &'static str,
    /// Our own handle on the database file, only to sync it (see `checkpoint`).
    file: Option<std::fs::File>,
    wal: PathBuf,
    restart_frames: i64,
    locked_pass_frames: i64,
}

impl WalFile {
    fn new(schema: &'static str, path: &Path) -> WalFile {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        WalFile {
            schema,
            file: std::fs::File::open(path).ok(),
            wal: PathBuf::from(wal),
            restart_frames: RESTART_WAL_BYTES / 4096,
            locked_pass_frames: LOCKED_PASS_BYTES / 4096,
        }
    }
}

impl Checkpointer {
    fn start(
        path: &Path,
        writer: Arc<Mutex<Connection>>,
        records_writer: Arc<Mutex<Connection>>,
        pin: Arc<Mutex<ReadPin>>,
    ) -> Option<Checkpointer> {
        let conn = match connect(path) {
            Ok(c) => c,
            Err(e) => {
                // Without it the WAL would only be copied back when the last connection closes.
                tracing::error!(error = %e, "could not open the checkpointer's connection");
                return None;
            }
        };
        // The records file takes a commit per batch of requests; the main file, the odd edit.
        let mut files = [WalFile::new("records", &records_path(path)), WalFile::new("main", path)];
        for f in &mut files {
            // The thresholds are in bytes of WAL, whatever the file's page size.
            let page_size: i64 =
                conn.query_row(&format!("PRAGMA {}.page_size", f.schema), [], |r| r.get(0)).unwrap_or(4096);
            f.restart_frames = RESTART_WAL_BYTES / page_size.max(512);
            f.locked_pass_frames = LOCKED_PASS_BYTES / page_size.max(512);
        }
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        // Held from here, and only while a checkpointer runs to let it go.
        pin.lock().unwrap_or_else(PoisonError::into_inner).hold();
        let thread_pin = pin.clone();
        let thread = std::thread::Builder::new().name("hets-checkpoint".into()).spawn(move || {
            let lock_pin = || thread_pin.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                let last =
                    !matches!(stopped.recv_timeout(CHECKPOINT_EVERY), Err(std::sync::mpsc::RecvTimeoutError::Timeout));
                for f in &files {
                    if f.schema == "records" {
                        // Each file's WAL starts over under the lock of the writer that appends to it.
                        checkpoint(&conn, &records_writer, f);
                    } else {
                        // The pin would keep every frame in the WAL: it lets go for the pass.
                        lock_pin().let_go_for(|| checkpoint(&conn, &writer, f));
                    }
                }
                if last {
                    lock_pin().release();
                    return;
                }
            }
        });
        match thread {
            Ok(t) => Some(Checkpointer { stop: Some(stop), thread: Some(t) }),
            Err(e) => {
                tracing::error!(error = %e, "could not start the checkpointer thread");
                pin.lock().unwrap_or_else(PoisonError::into_inner).release();
                None
            }
        }
    }
}

/// A read transaction kept open on the main file by a connection that reads nothing, so this
/// process always holds the shared lock of the WAL read slot that readers take.
///
/// Every read transaction takes a shared lock on one of the WAL's read slots, and SQLite counts
/// those locks per process: only the first connection of the process to take a slot, and the
/// last to let it go, lock the file (a `fcntl` system call each way). The main file changes
/// only with an edit, so its readers all take the same slot (slot 0 once the WAL is copied
/// back); with requests arriving one after another, the count fell to zero and rose again
/// for nearly every request: two system calls a request, on the shared-memory file's lock.
/// Held here, the count never falls to zero.
///
/// A reader on slot 0 reads the database file itself, so a checkpoint cannot copy frames into
/// it while one is open: the checkpointer lets the pin go for its pass over the main file,
/// and so does a bulk load's final checkpoint. The pin reads no rows and holds up no writer.
struct ReadPin {
    conn: Option<Connection>,
    held: bool,
}

impl ReadPin {
    /// Without a connection (it could not be opened) the pin does nothing.
    fn open(path: &Path) -> ReadPin {
        let conn = open_file(path, "opening the read pin's connection")
            .map_err(|e| tracing::warn!(error = %e, "no read pin; each read will lock the WAL itself"))
            .ok();
        ReadPin { conn, held: false }
    }

    fn hold(&mut self) {
        let Some(conn) = self.conn.as_ref().filter(|_| !self.held) else { return };
        // A deferred BEGIN takes its read lock at the first read.
        let begun = conn.execute_batch("BEGIN").and_then(|()| {
            conn.query_row("SELECT count(*) FROM (SELECT 1 FROM main.sqlite_schema LIMIT 1)", [], |r| {
                r.get::<_, i64>(0)
            })
        });
        match begun {
            Ok(_) => self.held = true,
            Err(e) => {
                tracing::debug!(error = %e, "the read pin could not begin; retrying next round");
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }

    /// Runs `f` with the pin let go, and holds it again after if it was held.
    fn let_go_for<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let was_held = self.held;
        self.release();
        let out = f();
        if was_held {
            self.hold();
        }
        out
    }

    fn release(&mut self) {
        let Some(conn) = self.conn.as_ref().filter(|_| self.held) else { return };
        self.held = false;
        if let Err(e) = conn.execute_batch("COMMIT") {
            tracing::debug!(error = %e, "the read pin did not end cleanly");
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

/// One round: copy back what readers allow; when the WAL has grown long, copy back the rest
/// with writes held, so the next commit can start the WAL over.
///
/// A checkpoint syncs the WAL before it copies, but the database file only when it has copied
/// the very last frame, which under load only the pass under the writer's lock does: that pass
/// then synced every page all the earlier passes had copied, 30 to 100 ms with commits held.
/// So each pass here syncs the database file itself, off the lock, leaving the locked pass
/// only its own few frames to sync.
fn checkpoint(conn: &Connection, writer: &Mutex<Connection>, target: &WalFile) {
    let file = target.file.as_ref();
    let sql = format!("PRAGMA {}.wal_checkpoint(PASSIVE)", target.schema);
    // (frames in the WAL, frames copied back so far). A short count only means a reader still
    // needs older frames: a later pass copies them.
    let pass = |sync: bool| -> Option<(i64, i64)> {
        let counts = conn.query_row(&sql, [], |r| Ok((r.get(1)?, r.get(2)?)));
        match counts {
            Ok(counts) => {
                if sync
                    && let Some(f) = file
                    && let Err(e) = f.sync_data()
                {
                    tracing::warn!(error = %e, "syncing the database file failed; the checkpoint will");
                }
                Some(counts)
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                None
            }
        }
    };
    let Some((mut frames, mut copied)) = pass(true) else { return };
    if frames <= target.restart_frames {
        return;
    }
    // Passes without the lock, each copying what arrived during the one before, until what
    // is left is small.
    for _ in 0..8 {
        let Some((now, done)) = pass(true) else { return };
        let arrived = now - frames;
        (frames, copied) = (now, done);
        if arrived <= target.locked_pass_frames && copied == frames {
            break;
        }
    }
    if frames - copied > target.locked_pass_frames {
        // Readers kept old frames or the writer outran us: next round.
        return;
    }
    // The WAL is synced at the start of every pass that copies: sync what the writer appended
    // since, here, so the locked pass has only its last few frames left to sync.
    if file.is_some()
        && let Ok(wal) = std::fs::File::open(&target.wal)
    {
        let _ = wal.sync_data();
    }
    // Readers that start from now on read the database file only; if one of the older ones is
    // still reading when the next commit begins, the WAL goes on growing and a later round
    // tries again (a RESTART checkpoint would wait for them with writes held, sleeping in
    // SQLite's busy handler).
    let _writes_wait = writer.lock().unwrap_or_else(PoisonError::into_inner);
    // This pass copies the last frame, so SQLite syncs the database file itself.
    pass(false);
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    let context = "applying schema migrations";
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sq(context))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL)",
    )
    .map_err(sq(context))?;
    let current: i64 = tx
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .map_err(sq(context))?;
    let known = migrations.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::SchemaTooNew { found: current, known });
    }
    for m in migrations.iter().filter(|m| m.version > current) {
        tx.execute_batch(m.sql).map_err(sq(context))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, now_millis()],
        )
        .map_err(sq(context))?;
        tracing::info!(backend = "sqlite", version = m.version, name = m.name, "applied schema migration");
    }
    tx.commit().map_err(sq(context))
}

pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn small<T: TryFrom<i64>>(what: &'static str, column: &str, v: i64) -> Result<T, StoreError> {
    T::try_from(v).map_err(|_| StoreError::corrupt(what, format!("column {column} holds {v}")))
}

/// A provider row's columns, as SQLite returns them.
type ProviderRow = (String, String, Option<String>, String, String, Option<String>, Option<String>);

/// Inserts or replaces relationships by (submitter, NPI), inside the caller's transaction.
fn upsert_relationships(
    tx: &Connection,
    context: &'static str,
    relationships: &[Relationship],
) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO relationship (submitter_id, npi, status, effective_date, end_date)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (submitter_id, npi) DO UPDATE SET status = excluded.status,
                 effective_date = excluded.effective_date, end_date = excluded.end_date",
        )
        .map_err(sq(context))?;
    for r in relationships {
        stmt.execute(params![
            r.submitter,
            r.npi,
            r.status.as_str(),
            codec::date_text(r.effective),
            r.end.map(codec::date_text),
        ])
        .map_err(sq(context))?;
    }
    Ok(())
}

/// The provider (?2), the submitter's (?1) relationship to it and the beneficiary (?3, its
/// [`mbi_key`]) in one row: the left joins hang off one constant row, so a missing provider or
/// relationship reads as NULLs, and a NULL ?3 finds no beneficiary.
const REQUEST_FACTS: &str = "SELECT p.npi, p.name, p.first_name, p.entity, p.medicare, p.enrolled_on, p.ended_on,
        r.submitter_id, r.npi, r.status, r.effective_date, r.end_date,
        (SELECT body FROM beneficiary WHERE id = ?3)
    FROM (SELECT 1) AS one
    LEFT JOIN provider AS p ON p.npi = ?2
    LEFT JOIN relationship AS r ON r.submitter_id = ?1 AND r.npi = ?2";

/// The row id a beneficiary is stored under (migration 7): its MBI read as a base-36 number,
/// digits then capital letters. None for a string no stored MBI can be (every stored MBI is
/// valid, `check_beneficiaries`): eleven such characters, and 36^11 < 2^63.
pub(crate) fn mbi_key(mbi: &str) -> Option<i64> {
    let b = mbi.as_bytes();
    if b.len() != 11 {
        return None;
    }
    b.iter().try_fold(0i64, |key, &c| {
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'Z' => c - b'A' + 10,
            _ => return None,
        };
        Some(key * 36 + i64::from(digit))
    })
}

fn read_beneficiary(conn: &Connection, mbi: &str) -> Result<Option<Beneficiary>, StoreError> {
    let context = "reading a beneficiary";
    let Some(key) = mbi_key(mbi) else { return Ok(None) };
    let mut stmt = conn.prepare_cached("SELECT body FROM beneficiary WHERE id = ?1").map_err(sq(context))?;
    let mut rows = stmt.query([key]).map_err(sq(context))?;
    let Some(row) = rows.next().map_err(sq(context))? else {
        return Ok(None);
    };
    // Decoded straight from SQLite's buffer: no copy of the blob (this is the request path's
    // one read when the provider and relationship are still known).
    match row.get_ref(0).map_err(sq(context))? {
        ValueRef::Blob(b) => codec::decode_beneficiary(b).map(Some),
        _ => Err(StoreError::corrupt("beneficiary", "the body is not a blob")),
    }
}

fn read_provider(conn: &Connection, npi: &str) -> Result<Option<Provider>, StoreError> {
    let context = "reading a provider";
    let mut stmt = conn
        .prepare_cached(
            "SELECT npi, name, first_name, entity, medicare, enrolled_on, ended_on FROM provider WHERE npi = ?1",
        )
        .map_err(sq(context))?;
    let row = stmt.query_row([npi], provider_from_row).optional().map_err(sq(context))?;
    row.map(provider).transpose()
}

fn read_relationship(conn: &Connection, submitter: &str, npi: &str) -> Result<Option<Relationship>, StoreError> {
    let context = "reading a relationship";
    let mut stmt = conn
        .prepare_cached(
            "SELECT submitter_id, npi, status, effective_date, end_date FROM relationship
             WHERE submitter_id = ?1 AND npi = ?2",
        )
        .map_err(sq(context))?;
    let row = stmt.query_row([submitter, npi], relationship_from_row).optional().map_err(sq(context))?;
    row.map(relationship).transpose()
}

fn provider_from_row(r: &Row<'_>) -> rusqlite::Result<ProviderRow> {
    provider_at(r, 0)
}

/// A provider's seven columns, from column `at` on.
fn provider_at(r: &Row<'_>, at: usize) -> rusqlite::Result<ProviderRow> {
    Ok((r.get(at)?, r.get(at + 1)?, r.get(at + 2)?, r.get(at + 3)?, r.get(at + 4)?, r.get(at + 5)?, r.get(at + 6)?))
}

type RelationshipRow = (String, String, String, String, Option<String>);

fn relationship_from_row(r: &Row<'_>) -> rusqlite::Result<RelationshipRow> {
    relationship_at(r, 0)
}

/// A relationship's five columns, from column `at` on.
fn relationship_at(r: &Row<'_>, at: usize) -> rusqlite::Result<RelationshipRow> {
    Ok((r.get(at)?, r.get(at + 1)?, r.get(at + 2)?, r.get(at + 3)?, r.get(at + 4)?))
}

fn relationship((submitter, npi, status, effective, end): RelationshipRow) -> Result<Relationship, StoreError> {
    Ok(Relationship {
        submitter,
        npi,
        status: codec::relationship_status(&status)?,
        effective: codec::parse_date("relationship", &effective)?,
        end: codec::parse_opt_date("relationship", end)?,
    })
}

type TxRow = (i64, i64, String, Option<String>, Option<String>, String, String, String, i64);

fn transaction(
    (id, at_ms, submitter, npi, mbi, outcome, aaa, stc, duration): TxRow,
) -> Result<RecordedTransaction, StoreError> {
    Ok(RecordedTransaction {
        id,
        record: TransactionRecord {
            at: codec::millis_to_instant(at_ms),
            submitter,
            npi,
            mbi,
            outcome: codec::outcome(&outcome)?,
            aaa_codes: codec::split_codes(&aaa),
            service_types: codec::split_codes(&stc),
            duration_micros: small("transaction record", "duration_us", duration)?,
        },
    })
}

const INSERT_TRANSACTION: &str = "INSERT INTO transaction_record
    (at_ms, submitter_id, npi, mbi, outcome, aaa_codes, service_types, duration_us)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

fn insert_transaction(conn: &Connection, t: &TransactionRecord) -> Result<i64, StoreError> {
    let context = "recording a transaction";
    let mut stmt = conn.prepare_cached(INSERT_TRANSACTION).map_err(sq(context))?;
    stmt.execute(params![
        codec::instant_to_millis(t.at),
        t.submitter,
        t.npi,
        t.mbi,
        t.outcome.as_str(),
        codec::join_codes(&t.aaa_codes),
        codec::join_codes(&t.service_types),
        i64::try_from(t.duration_micros).unwrap_or(i64::MAX),
    ])
    .map_err(sq(context))?;
    Ok(conn.last_insert_rowid())
}

/// Which answer is kept for a pair (the first within 24 hours) is decided before this insert,
/// in `record_exchanges`: the table has no unique index to do it.
const INSERT_REPLAY: &str = "INSERT INTO payload_replay
    (sender_id, payload_id, at_ms, request_digest, payload_type, response) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// The D11 window.
const DAY_MS: i64 = 86_400_000;

/// How far out of time order two stored answers may be: rows are appended as requests are
/// answered, and two requests' instants, taken as they arrived, may commit in the other order
/// (by microseconds; a minute also covers a clock stepped back a little).
const ORDER_SLACK_MS: i64 = 60_000;

/// The id of the first stored answer whose instant is `at_ms` or later, if any: a binary search
/// over row ids, each step one seek, since rows are appended in time order (within
/// [`ORDER_SLACK_MS`], which callers allow for). An index on the instant would cost every
/// insert a second B-tree for the sake of a purge every ten minutes and one load at start.
fn first_replay_at_or_after(conn: &Connection, at_ms: i64) -> Result<Option<i64>, StoreError> {
    let context = "finding the stored answers of an instant";
    let (min, max): (Option<i64>, Option<i64>) = conn
        .query_row("SELECT min(id), max(id) FROM payload_replay", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sq(context))?;
    let (Some(mut lo), Some(max)) = (min, max) else { return Ok(None) };
    let mut stmt = conn
        .prepare_cached("SELECT id, at_ms FROM payload_replay WHERE id >= ?1 ORDER BY id LIMIT 1")
        .map_err(sq(context))?;
    let mut first_from = |id: i64| -> Result<Option<(i64, i64)>, StoreError> {
        stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional().map_err(sq(context))
    };
    // The smallest position whose first row is at `at_ms` or later; `max + 1` has no row.
    let mut hi = max.saturating_add(1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match first_from(mid)? {
            Some((_, at)) if at >= at_ms => hi = mid,
            Some((id, _)) => lo = id + 1,
            None => hi = mid,
        }
    }
    Ok(first_from(lo)?.filter(|&(_, at)| at >= at_ms).map(|(id, _)| id))
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn calls_inline(&self) -> bool {
        // WAL: readers never wait for the writer, and the pool has a connection per request
        // thread and more. A commit appends to the WAL without a sync (synchronous = NORMAL),
        // and the checkpointer copies the WAL back from a thread of its own.
        true
    }

    fn reference_version(&self) -> Option<u64> {
        Some(self.main_writes.load(Ordering::Acquire))
    }

    fn beneficiary(&self, mbi: &str) -> Result<Option<Beneficiary>, StoreError> {
        read_beneficiary(&*self.readers.get()?, mbi)
    }

    fn provider(&self, npi: &str) -> Result<Option<Provider>, StoreError> {
        read_provider(&*self.readers.get()?, npi)
    }

    fn request_facts(&self, submitter: &str, npi: &str, mbi: Option<&str>) -> Result<RequestFacts, StoreError> {
        // One statement: one snapshot for the three reads and one look at the WAL, without the
        // BEGIN and COMMIT statements an explicit transaction costs (they were a twentieth of
        // the in-process path).
        let context = "reading a request's provider, relationship and beneficiary";
        let conn = self.readers.get()?;
        let mut stmt = conn.prepare_cached(REQUEST_FACTS).map_err(sq(context))?;
        let mut rows = stmt.query(params![submitter, npi, mbi.and_then(mbi_key)]).map_err(sq(context))?;
        let Some(row) = rows.next().map_err(sq(context))? else {
            return Err(StoreError::corrupt("request facts", "the constant row is missing"));
        };
        // A missing provider or relationship reads as NULL in its first column (a key).
        let provider = match row.get_ref(0).map_err(sq(context))? {
            ValueRef::Null => None,
            _ => Some(provider(provider_at(row, 0).map_err(sq(context))?)?),
        };
        let relationship = match row.get_ref(7).map_err(sq(context))? {
            ValueRef::Null => None,
            _ => Some(relationship(relationship_at(row, 7).map_err(sq(context))?)?),
        };
        // Decoded straight from SQLite's buffer: no copy of the blob.
        let beneficiary = match row.get_ref(12).map_err(sq(context))? {
            ValueRef::Blob(b) => Some(codec::decode_beneficiary(b)?),
            ValueRef::Null => None,
            _ => return Err(StoreError::corrupt("beneficiary", "the body is not a blob")),
        };
        Ok(RequestFacts { provider, relationship, beneficiary })
    }

    fn submitter(&self, id: &str) -> Result<Option<Submitter>, StoreError> {
        self.one_submitter(id)
    }

    fn verify_password(&self, id: &str, password: &str) -> Result<bool, StoreError> {
        let context = "reading a password hash";
        let stored: Option<String> = {
            let conn = self.readers.get()?;
            let mut stmt =
                conn.prepare_cached("SELECT password_hash FROM submitter WHERE id = ?1").map_err(sq(context))?;
            stmt.query_row([id], |r| r.get(0)).optional().map_err(sq(context))?
        };
        // The connection is back in the pool before the deliberately slow hash.
        password::verify(stored.as_deref(), password)
    }

    fn relationship(&self, submitter: &str, npi: &str) -> Result<Option<Relationship>, StoreError> {
        read_relationship(&*self.readers.get()?, submitter, npi)
    }

    fn relationships_of(&self, submitter: &str) -> Result<Vec<Relationship>, StoreError> {
        let context = "reading relationships";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT submitter_id, npi, status, effective_date, end_date FROM relationship
                 WHERE submitter_id = ?1 ORDER BY npi",
            )
            .map_err(sq(context))?;
        let rows = stmt.query_map([submitter], relationship_from_row).map_err(sq(context))?;
        rows.map(|r| r.map_err(sq(context)).and_then(relationship)).collect()
    }

    fn cost_sharing(&self) -> Result<Vec<CostSharing>, StoreError> {
        let context = "reading cost sharing";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT year, part_a_deductible, part_a_coinsurance_day_61_90, part_a_lifetime_reserve_day,
                        snf_coinsurance_day_21_100, part_b_deductible, part_b_coinsurance_rate,
                        blood_deductible_pints, smoking_cessation_sessions, pulmonary_rehab_sessions
                 FROM cost_sharing ORDER BY year",
            )
            .map_err(sq(context))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    [r.get::<_, f64>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
                    [r.get::<_, i64>(7)?, r.get(8)?, r.get(9)?],
                ))
            })
            .map_err(sq(context))?;
        rows.map(|r| {
            let (year, f, n) = r.map_err(sq(context))?;
            cost_sharing_from(year, f, n)
        })
        .collect()
    }

    fn record_transaction(&self, record: &TransactionRecord) -> Result<i64, StoreError> {
        let conn = self.records_writer.lock().unwrap_or_else(PoisonError::into_inner);
        insert_transaction(&conn, record)
    }

    fn record_transactions(&self, records: &[TransactionRecord]) -> Result<(), StoreError> {
        self.write_records("recording transactions", |tx| {
            for r in records {
                insert_transaction(tx, r)?;
            }
            Ok(())
        })
    }

    fn record_exchanges(&self, records: &[TransactionRecord], replays: &[Replay]) -> Result<(), StoreError> {
        if let Some(newest) = replays.iter().map(|r| codec::instant_to_millis(r.at)).max() {
            self.load_recent(newest - DAY_MS);
            let full = !self.replay_indexed.load(Ordering::Acquire)
                && self.recent.write().unwrap_or_else(PoisonError::into_inner).would_overflow(replays.len());
            if full {
                self.use_replay_index();
            }
        }
        let indexed = self.replay_indexed.load(Ordering::Acquire);
        self.write_records("recording transactions and replays", |tx| {
            for r in records {
                insert_transaction(tx, r)?;
            }
            let context = "storing replayable answers";
            let mut packed = Vec::new();
            let mut ids = Vec::new();
            // (pair hash, row id, at) of the rows written: into the table once all are in,
            // still before the commit, so no reader finds a row the table does not know.
            let mut written: Vec<(u64, i64, i64)> = Vec::with_capacity(if indexed { 0 } else { replays.len() });
            for r in replays {
                let at_ms = codec::instant_to_millis(r.at);
                // D11: an answer held for the pair and younger than 24 hours stays (the first
                // of two in one batch too); an older one gives way.
                match self.held_replay(tx, &r.sender, &r.payload_id, &written, &mut ids)? {
                    Some((_, held_ms)) if held_ms >= at_ms - DAY_MS => continue,
                    Some((id, _)) => {
                        tx.prepare_cached("DELETE FROM payload_replay WHERE id = ?1")
                            .and_then(|mut stmt| stmt.execute([id]))
                            .map_err(sq(context))?;
                    }
                    None => {}
                }
                // Packed on the request's thread (`pack_replay`), or here.
                let stored = if codec::is_packed(&r.response) {
                    &r.response
                } else {
                    codec::pack_answer(&r.response, &mut packed);
                    &packed
                };
                let mut stmt = tx.prepare_cached(INSERT_REPLAY).map_err(sq(context))?;
                stmt.execute(params![r.sender, r.payload_id, at_ms, r.request_digest, r.payload_type, stored])
                    .map_err(sq(context))?;
                if !indexed {
                    written.push((recent::pair_hash(&r.sender, &r.payload_id), tx.last_insert_rowid(), at_ms));
                }
            }
            if let Some(newest) = written.iter().map(|w| w.2).max() {
                let mut table = self.recent.write().unwrap_or_else(PoisonError::into_inner);
                for &(hash, id, at_ms) in &written {
                    table.insert(hash, id, at_ms);
                }
                table.expire(newest - DAY_MS);
            }
            Ok(())
        })
    }

    fn pack_replay(&self, replay: &mut Replay) {
        if !codec::is_packed(&replay.response) {
            let mut packed = Vec::new();
            codec::pack_answer(&replay.response, &mut packed);
            replay.response = packed;
        }
    }

    fn replay(&self, sender: &str, payload_id: &str, since: Instant) -> Result<Option<Replay>, StoreError> {
        let context = "reading a replayable answer";
        let since_ms = codec::instant_to_millis(since);
        self.load_recent(since_ms);
        let mut ids = Vec::new();
        if !self.replay_indexed.load(Ordering::Acquire) {
            // Nearly every PayloadID is new: answered from memory, without a read.
            self.recent
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .candidates(recent::pair_hash(sender, payload_id), &mut ids);
            // A miss is certain unless the table was just given up for the index (the flag is
            // set before the table is emptied).
            if ids.is_empty() && !self.replay_indexed.load(Ordering::Acquire) {
                return Ok(None);
            }
        }
        let conn = self.readers.get()?;
        let Some((id, at_ms)) = self.held_replay(&conn, sender, payload_id, &[], &mut ids)? else {
            return Ok(None);
        };
        if at_ms < since_ms {
            return Ok(None);
        }
        let mut stmt = conn
            .prepare_cached("SELECT request_digest, payload_type, response FROM payload_replay WHERE id = ?1")
            .map_err(sq(context))?;
        let row: Option<(String, String, Vec<u8>)> =
            stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional().map_err(sq(context))?;
        row.map(|(request_digest, payload_type, response)| {
            Ok(Replay {
                sender: sender.to_string(),
                payload_id: payload_id.to_string(),
                at: codec::millis_to_instant(at_ms),
                request_digest,
                payload_type,
                response: codec::unpack_answer(response)?,
            })
        })
        .transpose()
    }

    fn purge_replays(&self, before: Instant) -> Result<u64, StoreError> {
        let context = "purging replayable answers";
        self.write_records(context, |tx| {
            // Every row before the first of `before - ORDER_SLACK_MS` is older than `before`;
            // the few older ones after it go with the next purge (a lookup compares instants
            // itself, so an expired answer is never replayed).
            let before_ms = codec::instant_to_millis(before);
            let Some(first) = first_replay_at_or_after(tx, before_ms - ORDER_SLACK_MS)? else {
                // Nothing that recent: every row is older.
                let n = tx.execute("DELETE FROM payload_replay WHERE at_ms < ?1", [before_ms]).map_err(sq(context))?;
                return Ok(n as u64);
            };
            let n = tx.execute("DELETE FROM payload_replay WHERE id < ?1", [first]).map_err(sq(context))?;
            Ok(n as u64)
        })
    }

    fn add_maintenance(&self, window: &MaintenanceWindow) -> Result<i64, StoreError> {
        check_window(window)?;
        self.write("adding a maintenance window", |tx| {
            tx.execute(
                "INSERT INTO maintenance_window (starts_ms, ends_ms, reason) VALUES (?1, ?2, ?3)",
                params![codec::instant_to_millis(window.starts), codec::instant_to_millis(window.ends), window.reason],
            )
            .map_err(sq("adding a maintenance window"))?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn maintenance_windows(&self, after: Instant) -> Result<Vec<MaintenanceWindow>, StoreError> {
        let context = "reading maintenance windows";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, starts_ms, ends_ms, reason FROM maintenance_window WHERE ends_ms > ?1 ORDER BY starts_ms, id",
            )
            .map_err(sq(context))?;
        let rows = stmt
            .query_map([codec::instant_to_millis(after)], |r| {
                Ok(MaintenanceWindow {
                    id: r.get(0)?,
                    starts: codec::millis_to_instant(r.get(1)?),
                    ends: codec::millis_to_instant(r.get(2)?),
                    reason: r.get(3)?,
                })
            })
            .map_err(sq(context))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sq(context))
    }

    fn delete_maintenance(&self, id: i64) -> Result<bool, StoreError> {
        self.write("deleting a maintenance window", |tx| {
            let n = tx
                .execute("DELETE FROM maintenance_window WHERE id = ?1", [id])
                .map_err(sq("deleting a maintenance window"))?;
            Ok(n > 0)
        })
    }

    fn transactions_for(
        &self,
        submitter: &str,
        from: Instant,
        to: Instant,
    ) -> Result<Vec<RecordedTransaction>, StoreError> {
        let context = "reading transaction records";
        let conn = self.readers.get()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, at_ms, submitter_id, npi, mbi, outcome, aaa_codes, service_types, duration_us
                 FROM transaction_record
                 WHERE submitter_id = ?1 AND at_ms >= ?2 AND at_ms < ?3 ORDER BY at_ms, id",
            )
            .map_err(sq(context))?;
        let rows = stmt
            .query_map(params![submitter, codec::instant_to_millis(from), codec::instant_to_millis(to)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
            })
            .map_err(sq(context))?;
        rows.map(|r| r.map_err(sq(context)).and_then(transaction)).collect()
    }

    fn put_beneficiaries(&self, beneficiaries: &[Beneficiary]) -> Result<(), StoreError> {
        check_beneficiaries(beneficiaries)?;
        let context = "writing beneficiaries";
        self.write(context, |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO beneficiary (id, mbi, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                )
                .map_err(sq(context))?;
            let mut blob = Vec::with_capacity(1024);
            for b in beneficiaries {
                codec::encode_beneficiary(b, &mut blob)?;
                let key = mbi_key(&b.mbi)
                    .ok_or_else(|| StoreError::invalid("beneficiary", "the MBI is not in MBI format"))?;
                stmt.execute(params![key, b.mbi, blob]).map_err(sq(context))?;
            }
            Ok(())
        })
    }

    fn put_providers(&self, providers: &[Provider]) -> Result<(), StoreError> {
        check_providers(providers)?;
        let context = "writing providers";
        self.write(context, |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO provider (npi, name, first_name, entity, medicare, enrolled_on, ended_on)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (npi) DO UPDATE SET name = excluded.name, first_name = excluded.first_name,
                         entity = excluded.entity, medicare = excluded.medicare,
                         enrolled_on = excluded.enrolled_on, ended_on = excluded.ended_on",
                )
                .map_err(sq(context))?;
            for p in providers {
                stmt.execute(params![
                    p.npi,
                    p.name,
                    p.first_name,
                    codec::entity_text(p.entity),
                    codec::enrollment_text(p.medicare),
                    p.enrolled_on.map(codec::date_text),
                    p.ended_on.map(codec::date_text),
                ])
                .map_err(sq(context))?;
            }
            Ok(())
        })
    }

    fn put_submitters(&self, submitters: &[SubmitterSeed]) -> Result<(), StoreError> {
        let context = "writing submitters";
        let until: Vec<Option<Instant>> = submitters
            .iter()
            .map(|s| codec::seed_suspended_until(s.suspended_until.as_deref()))
            .collect::<Result<_, _>>()?;
        // Hash before taking the write lock: hashing is slow on purpose.
        let hashes = password::hash_all(&submitters.iter().map(|s| s.password.as_str()).collect::<Vec<_>>())?;
        self.write(context, |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO submitter (id, name, email, status, suspended_until_ms, suspensions, password_hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,
                         status = excluded.status, suspended_until_ms = excluded.suspended_until_ms,
                         suspensions = excluded.suspensions, password_hash = excluded.password_hash",
                )
                .map_err(sq(context))?;
            for ((s, until), hash) in submitters.iter().zip(&until).zip(&hashes) {
                stmt.execute(params![
                    s.id,
                    s.name,
                    s.email,
                    codec::submitter_status_text(s.status),
                    until.map(codec::instant_to_millis),
                    s.suspensions,
                    hash,
                ])
                .map_err(sq(context))?;
            }
            Ok(())
        })
    }

    fn put_relationships(&self, relationships: &[Relationship]) -> Result<(), StoreError> {
        check_relationships(relationships)?;
        let context = "writing relationships";
        self.write(context, |tx| upsert_relationships(tx, context, relationships))
    }

    fn put_cost_sharing(&self, years: &[CostSharing]) -> Result<(), StoreError> {
        let context = "writing cost sharing";
        self.write(context, |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO cost_sharing (year, part_a_deductible, part_a_coinsurance_day_61_90,
                         part_a_lifetime_reserve_day, snf_coinsurance_day_21_100, part_b_deductible,
                         part_b_coinsurance_rate, blood_deductible_pints, smoking_cessation_sessions,
                         pulmonary_rehab_sessions)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(sq(context))?;
            for c in years {
                stmt.execute(params![
                    c.year,
                    c.part_a_deductible,
                    c.part_a_coinsurance_day_61_90,
                    c.part_a_lifetime_reserve_day,
                    c.snf_coinsurance_day_21_100,
                    c.part_b_deductible,
                    c.part_b_coinsurance_rate,
                    c.blood_deductible_pints,
                    c.smoking_cessation_sessions,
                    c.pulmonary_rehab_sessions,
                ])
                .map_err(sq(context))?;
            }
            Ok(())
        })
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        let context = "counting rows";
        let conn = self.readers.get()?;
        let n: [i64; 6] = conn
            .query_row(
                "SELECT (SELECT count(*) FROM beneficiary), (SELECT count(*) FROM provider),
                        (SELECT count(*) FROM submitter), (SELECT count(*) FROM relationship),
                        (SELECT count(*) FROM cost_sharing), (SELECT count(*) FROM transaction_record)",
                [],
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?]),
            )
            .map_err(sq(context))?;
        let n = n.map(|v| u64::try_from(v).unwrap_or(0));
        Ok(Counts {
            beneficiaries: n[0],
            providers: n[1],
            submitters: n[2],
            relationships: n[3],
            cost_sharing_years: n[4],
            transactions: n[5],
        })
    }

    fn size_bytes(&self) -> Result<u64, StoreError> {
        let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        Ok(len(&self.path) + len(Path::new(&wal)))
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
        if on {
            self.writer()
                .execute_batch(&format!("PRAGMA synchronous = OFF; PRAGMA cache_size = -{BULK_CACHE_KIB};"))
                .map_err(sq("entering bulk-load mode"))
        } else {
            // Back to durable writes, then fold the WAL into the database file (so its size is
            // the real size) and refresh the planner's statistics.
            self.writer()
                .execute_batch(&format!("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{CACHE_KIB};"))
                .map_err(sq("leaving bulk-load mode"))?;
            // The pin would keep the WAL from being copied back whole (see `ReadPin`). Taken
            // before the writer, in the checkpointer's order.
            self.pin.lock().unwrap_or_else(PoisonError::into_inner).let_go_for(|| {
                self.writer()
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .map_err(sq("checkpointing the WAL"))
            })?;
            self.writer().execute_batch("PRAGMA optimize").map_err(sq("optimizing"))
        }
    }
}

fn provider(
    (npi, name, first_name, entity, medicare, enrolled_on, ended_on): ProviderRow,
) -> Result<Provider, StoreError> {
    Ok(Provider {
        npi,
        name,
        first_name,
        entity: need("provider", "entity", &entity, codec::parse_entity(&entity))?,
        medicare: need("provider", "medicare", &medicare, codec::parse_enrollment(&medicare))?,
        enrolled_on: codec::parse_opt_date("provider", enrolled_on)?,
        ended_on: codec::parse_opt_date("provider", ended_on)?,
    })
}

pub(crate) fn cost_sharing_from(year: i64, f: [f64; 6], n: [i64; 3]) -> Result<CostSharing, StoreError> {
    let what = "cost sharing";
    Ok(CostSharing {
        year: small(what, "year", year)?,
        part_a_deductible: f[0],
        part_a_coinsurance_day_61_90: f[1],
        part_a_lifetime_reserve_day: f[2],
        snf_coinsurance_day_21_100: f[3],
        part_b_deductible: f[4],
        part_b_coinsurance_rate: f[5],
        blood_deductible_pints: small(what, "blood_deductible_pints", n[0])?,
        smoking_cessation_sessions: small(what, "smoking_cessation_sessions", n[1])?,
        pulmonary_rehab_sessions: small(what, "pulmonary_rehab_sessions", n[2])?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn replay_at(payload_id: &str, digest: &str, at_ms: i64) -> Replay {
        Replay {
            sender: "WDEMO001".into(),
            payload_id: payload_id.into(),
            at: codec::millis_to_instant(at_ms),
            request_digest: digest.into(),
            payload_type: "X12_271_Response_005010X279A1".into(),
            response: format!("ISA*{digest}~").into_bytes(),
        }
    }

    fn pair_index(path: &Path) -> bool {
        let conn = Connection::open(records_path(path)).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'payload_replay' AND name LIKE 'payload_replay_%' AND name != 'payload_replay_at'", [], |r| r.get(0))
            .unwrap();
        n > 0
    }

    #[test]
    fn payload_ids_are_looked_up_in_memory_and_through_an_index_once_memory_is_full() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hets.db");
        let store = SqliteStore::open(&path).unwrap();
        *store.recent.write().unwrap() = recent::RecentPayloads::with_limit(3);
        let t = 1_800_000_000_000;
        let digest = |id: &str| {
            store.replay("WDEMO001", id, codec::millis_to_instant(t - DAY_MS)).unwrap().map(|r| r.request_digest)
        };
        store.record_exchanges(&[], &[replay_at("p-1", "a", t), replay_at("p-2", "b", t)]).unwrap();
        assert!(!pair_index(&path), "no index while memory holds the pairs");
        assert!(!store.replay_indexed.load(Ordering::Acquire));
        assert_eq!(digest("p-1").as_deref(), Some("a"));
        assert_eq!(digest("p-3"), None);
        // Two more would pass the limit of three: the index is built and takes over.
        store.record_exchanges(&[], &[replay_at("p-3", "c", t + 1_000), replay_at("p-1", "again", t + 2_000)]).unwrap();
        assert!(store.replay_indexed.load(Ordering::Acquire));
        assert!(pair_index(&path));
        assert_eq!(digest("p-1").as_deref(), Some("a"), "the first answer within 24 hours stays");
        assert_eq!(digest("p-3").as_deref(), Some("c"));
        assert_eq!(digest("p-4"), None);
        // A day later the pair takes a new answer, in place of the old row.
        store.record_exchanges(&[], &[replay_at("p-2", "later", t + DAY_MS + 1_000)]).unwrap();
        assert_eq!(digest("p-2").as_deref(), Some("later"));
        drop(store);
        // Reopened with room in memory: the index goes, every pair is found from the table.
        let store = SqliteStore::open(&path).unwrap();
        let digest = |id: &str| {
            store.replay("WDEMO001", id, codec::millis_to_instant(t - DAY_MS)).unwrap().map(|r| r.request_digest)
        };
        assert_eq!(digest("p-1").as_deref(), Some("a"));
        assert_eq!(digest("p-2").as_deref(), Some("later"));
        assert_eq!(digest("p-3").as_deref(), Some("c"));
        assert_eq!(digest("p-4"), None);
        assert!(!store.replay_indexed.load(Ordering::Acquire));
        assert!(!pair_index(&path));
        let rows: i64 = Connection::open(records_path(&path))
            .unwrap()
            .query_row("SELECT count(*) FROM payload_replay", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3, "one row per pair: the repeat was not stored, the day-old row replaced");
    }

    #[test]
    fn an_answer_packed_before_the_commit_is_replayed_as_it_was_sent() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hets.db")).unwrap();
        let answer =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/x12/valid/271-original-medicare.x12"))
                .unwrap();
        let mut early = Replay { response: answer.clone(), ..replay_at("p-early", "d1", 1_000) };
        store.pack_replay(&mut early);
        assert!(early.response.len() < answer.len() / 2, "packed on the caller's thread");
        let late = Replay { response: answer.clone(), ..replay_at("p-late", "d2", 1_000) };
        store.record_exchanges(&[], &[early, late]).unwrap();
        for id in ["p-early", "p-late"] {
            let got = store.replay("WDEMO001", id, codec::millis_to_instant(0)).unwrap().unwrap();
            assert_eq!(got.response, answer, "{id}");
        }
    }

    #[test]
    fn the_first_answer_of_an_instant_is_found_by_row_id() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE payload_replay (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL);
             INSERT INTO payload_replay (id, at_ms) VALUES (3, 10), (4, 20), (9, 20), (10, 30), (17, 40), (18, 40);",
        )
        .unwrap();
        let first = |at| first_replay_at_or_after(&conn, at).unwrap();
        assert_eq!(first(0), Some(3));
        assert_eq!(first(10), Some(3));
        assert_eq!(first(11), Some(4));
        assert_eq!(first(20), Some(4));
        assert_eq!(first(21), Some(10));
        assert_eq!(first(31), Some(17));
        assert_eq!(first(40), Some(17));
        assert_eq!(first(41), None);
        conn.execute_batch("DELETE FROM payload_replay").unwrap();
        assert_eq!(first(0), None);
    }

    #[test]
    fn mbi_keys_are_base_36_and_only_for_mbi_shaped_strings() {
        assert_eq!(mbi_key("00000000000"), Some(0));
        assert_eq!(mbi_key("0000000000Z"), Some(35));
        assert_eq!(mbi_key("00000000010"), Some(36));
        assert_eq!(mbi_key("ZZZZZZZZZZZ"), Some(36_i64.pow(11) - 1));
        assert_eq!(mbi_key("1EG4TE5MK73"), Some(i64::from_str_radix("1EG4TE5MK73", 36).unwrap()));
        for bad in ["", "1EG4TE5MK7", "1EG4TE5MK733", "1eg4te5mk73", "1EG4TE5MK7-", "1EG4TE5MK7\u{e9}"] {
            assert_eq!(mbi_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn beneficiaries_of_a_version_6_database_are_renumbered_by_their_mbi() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/personas.toml")).unwrap();
        let personas = eligibility::Personas::from_toml(&text).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.db");
        {
            // Version 6: the WITHOUT ROWID table keyed by the MBI's text.
            let mut old = Connection::open(&path).unwrap();
            migrate(&mut old, &migrate::SQLITE[..6]).unwrap();
            let mut blob = Vec::new();
            for b in &personas.beneficiaries {
                codec::encode_beneficiary(b, &mut blob).unwrap();
                old.execute("INSERT INTO beneficiary (mbi, body) VALUES (?1, ?2)", params![b.mbi, blob]).unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        assert!(!personas.beneficiaries.is_empty());
        for b in &personas.beneficiaries {
            assert_eq!(store.beneficiary(&b.mbi).unwrap().as_ref(), Some(b), "{}", b.mbi);
        }
        let conn = connect(&path).unwrap();
        let rows: Vec<(i64, String)> = conn
            .prepare("SELECT id, mbi FROM beneficiary")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), personas.beneficiaries.len());
        for (id, mbi) in rows {
            assert_eq!(Some(id), mbi_key(&mbi), "{mbi}: the migration's SQL and mbi_key agree");
        }
        // A lookup by a string that is no MBI finds nothing, without an error.
        assert_eq!(store.beneficiary("not an mbi").unwrap(), None);
    }

    #[test]
    fn a_database_from_before_the_records_file_has_its_records_moved_there_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // The old layout: every table in the one file.
            let mut old = Connection::open(&path).unwrap();
            migrate(&mut old, migrate::SQLITE).unwrap();
            old.execute_batch(
                "INSERT INTO transaction_record (id, at_ms, submitter_id, npi, mbi, outcome, duration_us)
                     VALUES (7, 1000, 'WDEMO001', '1125213722', NULL, 'TA1', 5);
                 INSERT INTO payload_replay (sender_id, payload_id, at_ms, request_digest, payload_type, response)
                     VALUES ('WDEMO001', 'p-old', 1000, 'd', 'X12_271_Response_005010X279A1', x'49');",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.counts().unwrap().transactions, 1);
        let replay = store.replay("WDEMO001", "p-old", codec::millis_to_instant(0)).unwrap().unwrap();
        assert_eq!(replay.response, b"I");
        let conn = connect(&path).unwrap();
        let left: i64 = conn
            .query_row(
                "SELECT count(*) FROM main.sqlite_master WHERE name IN ('transaction_record', 'payload_replay')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0, "the main file no longer holds the records");
        let id: i64 = conn.query_row("SELECT id FROM records.transaction_record", [], |r| r.get(0)).unwrap();
        assert_eq!(id, 7, "record ids are kept");
        drop(store);
        // Opening again moves nothing twice.
        assert_eq!(SqliteStore::open(&path).unwrap().counts().unwrap().transactions, 1);
        assert!(records_path(&path).exists());
    }

    #[test]
    fn answers_stored_before_the_store_was_opened_are_still_found_for_replay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replay.db");
        let at = Instant::parse_rfc3339("2026-11-16T09:30:00Z").unwrap();
        let since = Instant::parse_rfc3339("2026-11-15T09:30:00Z").unwrap();
        let replay = |id: &str| Replay {
            sender: "WDEMO001".into(),
            payload_id: id.into(),
            at,
            request_digest: "d".into(),
            payload_type: "X12_271_Response_005010X279A1".into(),
            response: b"ISA~".to_vec(),
        };
        {
            let first = SqliteStore::open(&path).unwrap();
            first.record_exchanges(&[], &[replay("before-restart")]).unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        // Written by another connection after this store opened, before its first lookup.
        connect(&path)
            .unwrap()
            .execute(
                "INSERT INTO payload_replay (sender_id, payload_id, at_ms, request_digest, payload_type, response)
                 VALUES ('WDEMO001', 'other-connection', ?1, 'd', 'X12_271_Response_005010X279A1', x'49')",
                [codec::instant_to_millis(at)],
            )
            .unwrap();
        assert_eq!(store.replay("WDEMO001", "before-restart", since).unwrap(), Some(replay("before-restart")));
        assert!(store.replay("WDEMO001", "other-connection", since).unwrap().is_some());
        assert_eq!(store.replay("WDEMO001", "never-sent", since).unwrap(), None);
        store.record_exchanges(&[], &[replay("after-load")]).unwrap();
        assert_eq!(store.replay("WDEMO001", "after-load", since).unwrap(), Some(replay("after-load")));
    }

    #[test]
    fn the_checkpointer_keeps_the_wal_short_while_commits_keep_coming() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = Arc::new(Mutex::new(connect(&path).unwrap()));
        {
            let w = writer.lock().unwrap();
            let _: String = w.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).unwrap();
            w.execute_batch("PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (b BLOB)").unwrap();
        }
        // A writer that keeps committing, as under load: 3,000 commits of two pages or more
        // each, over 24 MB of WAL in all.
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let commits = {
            let (writer, done) = (writer.clone(), done.clone());
            std::thread::spawn(move || {
                for _ in 0..3000 {
                    writer.lock().unwrap().execute("INSERT INTO t (b) VALUES (zeroblob(4096))", []).unwrap();
                    // The recorder too lets go of the writer between commits (it answers the
                    // batch and gathers the next one).
                    std::thread::sleep(Duration::from_micros(200));
                }
                done.store(true, std::sync::atomic::Ordering::Relaxed);
            })
        };
        let checkpointer = connect(&path).unwrap();
        // A restart threshold of 64 frames (256 KiB) instead of 16,384.
        let target = WalFile { restart_frames: 64, ..WalFile::new("main", &path) };
        let mut rounds = 0;
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            checkpoint(&checkpointer, &writer, &target);
            rounds += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        commits.join().unwrap();
        let wal = std::fs::metadata(dir.path().join("wal.db-wal")).unwrap().len();
        // The WAL file keeps the largest extent it reached between two restarts. Without them it
        // would hold all 24 MB and more; a third of that leaves room for a slow `fdatasync` on a
        // machine busy with other tests (4 MB proved tight under such load).
        assert!(wal < 8 << 20, "WAL of {wal} bytes after {rounds} rounds");
        let rows: i64 = checkpointer.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 3000, "every commit is still there");
    }

    #[test]
    fn the_read_pin_holds_up_neither_checkpoints_nor_a_bulk_loads_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin.db");
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.pin.lock().unwrap().held, "the checkpointer holds the pin");
        for i in 0..20 {
            store.put_setting("pin_test", &i.to_string()).unwrap();
        }
        // Another connection of this process cannot copy the WAL back past the pin, so once
        // every frame is copied back, the checkpointer let the pin go to do it.
        let other = Connection::open(&path).unwrap();
        let copied_back = (0..200).any(|_| {
            let (log, done): (i64, i64) =
                other.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |r| Ok((r.get(1)?, r.get(2)?))).unwrap();
            std::thread::sleep(Duration::from_millis(10));
            log > 0 && log == done
        });
        assert!(copied_back, "the main file's WAL was copied back while the pin is held between rounds");
        assert!(store.pin.lock().unwrap().held);
        assert_eq!(store.setting("pin_test").unwrap().as_deref(), Some("19"));
        // A bulk load ends by folding the whole WAL into the file and emptying it: a megabyte
        // of WAL here, of which only the few pages `PRAGMA optimize` writes after may remain.
        store.set_bulk_load(true).unwrap();
        store
            .writer()
            .execute_batch(
                "CREATE TABLE bulk (b BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 256)
                 INSERT INTO bulk SELECT zeroblob(4000) FROM n;",
            )
            .unwrap();
        store.put_setting("pin_test", "bulk").unwrap();
        store.set_bulk_load(false).unwrap();
        let wal = std::fs::metadata(dir.path().join("pin.db-wal")).unwrap().len();
        assert!(wal < 256 << 10, "the WAL was emptied, not left at {wal} bytes");
        assert!(store.pin.lock().unwrap().held, "and the pin is held again");
        assert_eq!(store.setting("pin_test").unwrap().as_deref(), Some("bulk"));
    }
}
