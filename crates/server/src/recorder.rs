//! The transaction record, committed before the response is released, with group commit.
//!
//! Requests hand their records (and, from the CORE endpoints, the replayable answer of D11) to a
//! channel with a completion callback; one writer thread takes everything waiting, writes it in
//! one database transaction and then calls every callback of the batch. A request releases its
//! response only from its callback, so a response that reached a client always has its record
//! on disk, yet a commit is shared by every request that arrived while the previous commit was
//! running: under load batches grow by themselves and durability costs no throughput, while a
//! lone request waits for one commit. The channel is bounded: when the writer falls behind,
//! requests wait for room instead of records being dropped.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use store::{Replay, Store, TransactionRecord};

const MAX_BATCH: usize = 2000;
/// A batch smaller than this may wait up to [`GATHER`] for company, but only while records are
/// arriving faster than one per [`GATHER`] (a busy server). Each commit costs the same whatever
/// it carries (BEGIN, COMMIT, the last page of each table and index written again): on the
/// 2-core machine under the SOAP load, commits without waiting carried 2.9 records on average,
/// 4,100 commits a second; waiting up to 150 µs for eight cut the bytes written per request by a
/// third, with a lower p99 and throughput up by about 4% (median of six pairs: within the noise;
/// `docs/benchmarks.md`).
/// An idle server's lone request never waits: the rate says nobody is coming. (A fixed wait of
/// 0.5 ms, before the rate was watched, cut the in-process path from 8,100 to 2,200
/// transactions/s at two requesters.)
const SMALL_BATCH: usize = 8;
const GATHER: std::time::Duration = std::time::Duration::from_micros(150);
/// Jobs waiting for the writer. A bounded channel allocates its whole ring up front (65,536
/// jobs took 20 MB); a few batches' worth is plenty, since every waiting job is a request
/// holding its response until the commit.
const CAPACITY: usize = 2 * MAX_BATCH;

/// Called once the record is committed (`true`) or could not be written (`false`).
pub type Done = Box<dyn FnOnce(bool) + Send>;

/// How a request learns that its record is committed.
enum Notify {
    Callback(Done),
    /// A thread blocked in [`Recorder::record_durably`]: the writer sets the flag
    /// ([`PENDING`] until then) and wakes all such threads with one call per commit, instead of
    /// one wake-up call per request on the writer's own (serial) time.
    Flag(Arc<AtomicU8>),
}

const PENDING: u8 = 0;
const COMMITTED: u8 = 1;
const FAILED: u8 = 2;

/// Where threads blocked in [`Recorder::record_durably`] wait for their flag.
#[derive(Default)]
struct Commits {
    lock: Mutex<()>,
    done: Condvar,
}

// Flush is rare; boxing every entry to shrink it would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
enum Message {
    Entry {
        record: TransactionRecord,
        replay: Option<Replay>,
        done: Option<Notify>,
    },
    /// Answered once every record sent before it is written.
    Flush(Done),
}

pub struct Recorder {
    sender: Option<SyncSender<Message>>,
    writer: Option<JoinHandle<()>>,
    commits: Arc<Commits>,
}

impl Recorder {
    pub fn start(store: Arc<dyn Store>) -> Recorder {
        let (sender, receiver) = sync_channel(CAPACITY);
        let commits = Arc::new(Commits::default());
        let woken = commits.clone();
        let writer = std::thread::Builder::new()
            .name("hets-recorder".into())
            .spawn(move || write_loop(store.as_ref(), &receiver, &woken))
            .ok();
        if writer.is_none() {
            tracing::error!("could not start the transaction recorder thread");
        }
        Recorder { sender: Some(sender), writer, commits }
    }

    /// Hands one record (and its replayable answer) to the writer; `done` runs after the
    /// commit. Waits only when the queue is full.
    pub fn submit(&self, record: TransactionRecord, replay: Option<Replay>, done: Option<Done>) {
        self.send(record, replay, done.map(Notify::Callback));
    }

    fn send(&self, record: TransactionRecord, replay: Option<Replay>, done: Option<Notify>) {
        let message = Message::Entry { record, replay, done };
        let unsent = match &self.sender {
            Some(s) => match s.send(message) {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!("the transaction recorder has stopped; a record was not written");
                    e.0
                }
            },
            None => message,
        };
        if let Message::Entry { done: Some(d), .. } = unsent {
            // A blocked caller has not started waiting yet: it reads its flag first.
            notify(d, false);
        }
    }

    /// Writes one record and waits for its commit; true when it was committed.
    pub fn record_durably(&self, record: TransactionRecord, replay: Option<Replay>) -> bool {
        let flag = Arc::new(AtomicU8::new(PENDING));
        self.send(record, replay, Some(Notify::Flag(flag.clone())));
        let mut guard = self.commits.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            // Read under the lock the writer takes to wake us, so no wake-up is missed.
            match flag.load(Ordering::Acquire) {
                PENDING => guard = self.commits.done.wait(guard).unwrap_or_else(|e| e.into_inner()),
                state => return state == COMMITTED,
            }
        }
    }

    /// Waits until every record handed in before this call is written.
    pub fn flush(&self) {
        let Some(s) = &self.sender else { return };
        let (done, wait) = blocking_done();
        if s.send(Message::Flush(done)).is_ok() {
            wait();
        }
    }
}

/// A callback and the blocking wait for it (for callers on plain threads).
fn blocking_done() -> (Done, impl FnOnce() -> bool) {
    let slot = Arc::new((Mutex::new(None::<bool>), Condvar::new()));
    let signal = slot.clone();
    let done: Done = Box::new(move |ok| {
        let (lock, cvar) = &*signal;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(ok);
        cvar.notify_all();
    });
    let wait = move || {
        let (lock, cvar) = &*slot;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(ok) = *state {
                return ok;
            }
            state = cvar.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    };
    (done, wait)
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Closing the channel ends the writer after it has written what is queued.
        self.sender.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Tells one request how its record fared; true for a blocked caller, who still needs the
/// wake-up on [`Commits`] (sent once per batch by the writer).
fn notify(n: Notify, ok: bool) -> bool {
    match n {
        Notify::Callback(d) => {
            d(ok);
            false
        }
        Notify::Flag(f) => {
            f.store(if ok { COMMITTED } else { FAILED }, Ordering::Release);
            true
        }
    }
}

fn write_loop(store: &dyn Store, receiver: &Receiver<Message>, commits: &Commits) {
    let mut records: Vec<TransactionRecord> = Vec::with_capacity(MAX_BATCH);
    let mut replays: Vec<Replay> = Vec::new();
    let mut waiting: Vec<Notify> = Vec::new();
    let mut flushes: Vec<Done> = Vec::new();
    // The mean time between records, smoothed over the last cycles (receive, commit, notify).
    let mut gap = std::time::Duration::MAX;
    let mut cycle_start = std::time::Instant::now();
    loop {
        let first = match receiver.recv() {
            Ok(m) => m,
            Err(_) => return,
        };
        let mut take = |m: Message| match m {
            Message::Entry { record, replay, done } => {
                records.push(record);
                replays.extend(replay);
                waiting.extend(done);
            }
            Message::Flush(f) => flushes.push(f),
        };
        take(first);
        // Everything that queued up while the last commit ran joins this one.
        let mut closed = false;
        let mut n = 1;
        while n < MAX_BATCH {
            match receiver.try_recv() {
                Ok(m) => take(m),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
            n += 1;
        }
        // While records come faster than one per GATHER, a small batch waits for company.
        let gather_until = std::time::Instant::now() + GATHER;
        while !closed && n < SMALL_BATCH && gap < GATHER {
            let left = gather_until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match receiver.recv_timeout(left) {
                Ok(m) => take(m),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => closed = true,
            }
            n += 1;
        }
        let now = std::time::Instant::now();
        let this_cycle = now.duration_since(cycle_start) / u32::try_from(n).unwrap_or(u32::MAX).max(1);
        gap = if gap == std::time::Duration::MAX { this_cycle } else { (gap * 3 + this_cycle) / 4 };
        cycle_start = now;
        let ok = if records.is_empty() && replays.is_empty() {
            true
        } else {
            let started = std::time::Instant::now();
            let written = store.record_exchanges(&records, &replays);
            // Group commit at a glance: how many records each commit carried and how long
            // requests waited on it.
            metrics::histogram!("hets_record_commit_seconds").record(started.elapsed().as_secs_f64());
            metrics::histogram!("hets_record_commit_records").record(records.len() as f64);
            match written {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(error = %e, records = records.len(), "could not record transactions");
                    false
                }
            }
        };
        records.clear();
        replays.clear();
        let mut blocked = false;
        for d in waiting.drain(..) {
            blocked |= notify(d, ok);
        }
        if blocked {
            // One wake-up call for every blocked thread of the batch.
            let _guard = commits.lock.lock().unwrap_or_else(|e| e.into_inner());
            commits.done.notify_all();
        }
        for f in flushes.drain(..) {
            f(ok);
        }
        if closed {
            return;
        }
    }
}
