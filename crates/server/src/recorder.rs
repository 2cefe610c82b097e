//! The transaction record, committed before the response is released, with group commit.
//!
//! Requests hand their records (and, from the CORE endpoints, the replayable answer of D11) to a
//! queue; one writer at a time takes everything waiting, writes it in one database transaction
//! and then tells every request of the batch. A request releases its response only once told,
//! so a response that reached a client always has its record on disk, yet a commit is shared by
//! every request that arrived while the previous commit was running: under load batches grow by
//! themselves and durability costs no throughput, while a lone request waits for one commit.
//!
//! Who writes depends on the store (`Store::calls_inline`):
//! - **A local store (SQLite)** is written by a task on the server's own runtime, started when
//!   the first record arrives at an idle queue and ended when the queue is empty ([`Tasks`]).
//!   Its commits take tens of microseconds of CPU and never wait on a network, so they cost a
//!   request thread less than a hand-over to a thread of their own: on the 2-core machine the
//!   wake-ups between request threads and a writer thread (a futex call and, across cores, an
//!   interrupt each way) took about a tenth of the server's time under load.
//! - **A network store (PostgreSQL)** blocks for round trips, which must not hold a request
//!   thread: one writer thread of its own takes batches from a bounded channel ([`Thread`]).

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
type Done = Box<dyn FnOnce(bool) + Send>;

/// How a request learns that its record is committed.
enum Notify {
    Callback(Done),
    /// A thread blocked in [`Thread::record_durably`]: the writer sets the flag
    /// ([`PENDING`] until then) and wakes all such threads with one call per commit, instead of
    /// one wake-up call per request on the writer's own (serial) time.
    Flag(Arc<AtomicU8>),
}

const PENDING: u8 = 0;
const COMMITTED: u8 = 1;
const FAILED: u8 = 2;

/// Where threads blocked in [`Thread::record_durably`] wait for their flag.
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

/// The group commit of the transaction records: a writer task for a local store, a writer
/// thread for a network store (see the module's documentation).
pub struct Recorder {
    how: How,
}

enum How {
    Tasks(Arc<Tasks>),
    Thread(Thread),
}

impl Recorder {
    pub fn start(store: Arc<dyn Store>) -> Recorder {
        let how = if store.calls_inline() {
            How::Tasks(Arc::new(Tasks::new(store)))
        } else {
            How::Thread(Thread::start(store))
        };
        Recorder { how }
    }

    /// Records one transaction (and its replayable answer) with the next group commit and
    /// waits for that commit; true when it was committed.
    pub async fn record(&self, record: TransactionRecord, replay: Option<Replay>) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel::<bool>();
        match &self.how {
            How::Tasks(tasks) => {
                if tasks.enqueue(record, replay, Waiter::Task(tx)) {
                    match tokio::runtime::Handle::try_current() {
                        Ok(runtime) => {
                            runtime.spawn(tasks.clone().run());
                        }
                        // Not on a runtime after all: write here.
                        Err(_) => tasks.write_from_thread(),
                    }
                }
            }
            How::Thread(thread) => thread.submit(
                record,
                replay,
                Some(Box::new(move |ok| {
                    let _ = tx.send(ok);
                })),
            ),
        }
        // A writer that panicked dropped the sender: not committed.
        rx.await == Ok(true)
    }

    /// Records one transaction and blocks until it is committed (for callers on plain or
    /// blocking threads); true when it was committed.
    pub fn record_durably(&self, record: TransactionRecord, replay: Option<Replay>) -> bool {
        match &self.how {
            How::Tasks(tasks) => {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let mut lead = tasks.enqueue(record, replay, Waiter::Thread(tx));
                loop {
                    if lead {
                        tasks.write_from_thread();
                    }
                    match rx.recv() {
                        Ok(Signal::Done(ok)) => return ok,
                        Ok(Signal::Lead) => lead = true,
                        Err(_) => return false,
                    }
                }
            }
            How::Thread(thread) => thread.record_durably(record, replay),
        }
    }

    /// Waits until every record handed in before this call is written.
    pub fn flush(&self) {
        match &self.how {
            How::Tasks(tasks) => tasks.flush(),
            How::Thread(thread) => thread.flush(),
        }
    }
}

/// The writer of a local store: whoever finds the queue idle starts a writer (a task on the
/// runtime, or a blocking caller's own thread), which commits everything queued, tells the
/// batch, and goes on until the queue is empty. New arrivals during a commit form the next
/// batch, so one writer at a time and no hand-over between threads.
struct Tasks {
    store: Arc<dyn Store>,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    batch: Batch,
    /// A writer is at work: it takes every arrival before it stops.
    writing: bool,
}

#[derive(Default)]
struct Batch {
    records: Vec<TransactionRecord>,
    replays: Vec<Replay>,
    waiting: Vec<Waiter>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.replays.is_empty() && self.waiting.is_empty()
    }
}

/// How a request learns that its record is committed.
enum Waiter {
    Task(tokio::sync::oneshot::Sender<bool>),
    /// A thread blocked in [`Recorder::record_durably`], which may also be asked to write.
    Thread(std::sync::mpsc::SyncSender<Signal>),
}

/// What a blocked thread hears.
#[derive(Debug, PartialEq, Eq)]
enum Signal {
    /// Its record is committed (or could not be).
    Done(bool),
    /// The writer before it has finished one batch: it writes the next.
    Lead,
}

impl Waiter {
    fn tell(self, ok: bool) {
        // A request that went away (its client hung up) no longer listens; its record is
        // written all the same.
        match self {
            Waiter::Task(tx) => {
                let _ = tx.send(ok);
            }
            Waiter::Thread(tx) => {
                let _ = tx.send(Signal::Done(ok));
            }
        }
    }
}

impl Tasks {
    fn new(store: Arc<dyn Store>) -> Tasks {
        Tasks { store, queue: Mutex::new(Queue::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one record; true when no writer is at work and the caller must start one.
    fn enqueue(&self, record: TransactionRecord, replay: Option<Replay>, waiter: Waiter) -> bool {
        let mut q = self.lock();
        q.batch.records.push(record);
        q.batch.replays.extend(replay);
        q.batch.waiting.push(waiter);
        !std::mem::replace(&mut q.writing, true)
    }

    /// Commits what is queued and tells its requests; false (and no writer at work any
    /// more) when the queue was empty. `spare` is the previous batch's emptied buffers.
    fn write_batch(&self, spare: &mut Batch) -> bool {
        {
            let mut q = self.lock();
            if q.batch.is_empty() {
                q.writing = false;
                return false;
            }
            std::mem::swap(&mut q.batch, spare);
        }
        let ok = commit(self.store.as_ref(), &spare.records, &spare.replays);
        spare.records.clear();
        spare.replays.clear();
        for w in spare.waiting.drain(..) {
            w.tell(ok);
        }
        true
    }

    /// A writer task: commits until the queue is empty, letting the runtime's other tasks run
    /// between commits. A task that yields runs again after the runtime's other ready tasks and
    /// its pending I/O events: the first yield lets the requests just told answer their clients,
    /// the second lets the requests that arrived meanwhile reach the queue. Under the SOAP load
    /// on the 2-core machine, one yield gave commits of 15 records, two gave 21, and a record
    /// cost 9.5 µs of commit time instead of 10.9 (each commit costs about 34 µs whatever it
    /// carries); an idle server's lone request finds no other task and waits for neither.
    async fn run(self: Arc<Self>) {
        let mut writing = StopGuard { tasks: &self, armed: true };
        let mut spare = Batch::default();
        while self.write_batch(&mut spare) {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        }
        writing.armed = false;
    }

    /// A writer on a blocked caller's thread: one batch (which holds the caller's record), then
    /// the writing passes on, so the caller is not kept writing for everyone after it: to
    /// another blocked thread in the queue, or to a task when there is a runtime to run one;
    /// failing both, this thread goes on until the queue is empty.
    fn write_from_thread(self: &Arc<Self>) {
        // A commit that panics must not leave the queue marked as being written forever.
        let mut writing = StopGuard { tasks: self, armed: true };
        let mut spare = Batch::default();
        while self.write_batch(&mut spare) {
            let q = self.lock();
            if q.batch.is_empty() {
                // The next write_batch finds it empty and ends the writing.
                continue;
            }
            let next = q.batch.waiting.iter().find_map(|w| match w {
                Waiter::Thread(tx) => Some(tx.clone()),
                Waiter::Task(_) => None,
            });
            drop(q);
            // Its channel holds nothing yet (its Done comes with the commit it is asked to make).
            if next.is_some_and(|tx| tx.try_send(Signal::Lead).is_ok()) {
                writing.armed = false;
                return;
            }
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(self.clone().run());
                writing.armed = false;
                return;
            }
        }
        writing.armed = false;
    }

    /// Waits until the queue is empty and no writer is at work, writing on this thread when
    /// nobody is.
    fn flush(&self) {
        loop {
            {
                let mut q = self.lock();
                if !q.writing {
                    if q.batch.is_empty() {
                        return;
                    }
                    q.writing = true;
                } else {
                    drop(q);
                    // A writer is at work: it finishes by itself.
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
            }
            let mut writing = StopGuard { tasks: self, armed: true };
            let mut spare = Batch::default();
            while self.write_batch(&mut spare) {}
            writing.armed = false;
        }
    }
}

/// A writer that stops without finishing (a task dropped between commits as the runtime shuts
/// down, a commit that panicked) leaves the queue to the next writer, or to `flush`; the
/// requests of the batch it held hear `false` when their senders are dropped.
struct StopGuard<'a> {
    tasks: &'a Tasks,
    armed: bool,
}

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.tasks.lock().writing = false;
        }
    }
}

/// One group commit; false (logged) when it could not be written.
fn commit(store: &dyn Store, records: &[TransactionRecord], replays: &[Replay]) -> bool {
    if records.is_empty() && replays.is_empty() {
        return true;
    }
    let started = std::time::Instant::now();
    let written = store.record_exchanges(records, replays);
    // Group commit at a glance: how many records each commit carried and how long requests
    // waited on it.
    metrics::histogram!("hets_record_commit_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("hets_record_commit_records").record(records.len() as f64);
    match written {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, records = records.len(), "could not record transactions");
            false
        }
    }
}

/// The writer of a network store: a thread of its own, fed by a bounded channel.
struct Thread {
    sender: Option<SyncSender<Message>>,
    writer: Option<JoinHandle<()>>,
    commits: Arc<Commits>,
}

impl Thread {
    fn start(store: Arc<dyn Store>) -> Thread {
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
        Thread { sender: Some(sender), writer, commits }
    }

    /// Hands one record (and its replayable answer) to the writer; `done` runs after the
    /// commit. Waits only when the queue is full.
    fn submit(&self, record: TransactionRecord, replay: Option<Replay>, done: Option<Done>) {
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
    fn record_durably(&self, record: TransactionRecord, replay: Option<Replay>) -> bool {
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
    fn flush(&self) {
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

impl Drop for Thread {
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
        let ok = commit(store, &records, &replays);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use eligibility::Instant;
    use store::Outcome;

    fn at() -> Instant {
        Instant::parse_rfc3339("2026-11-16T09:30:00Z").unwrap()
    }

    fn record(n: usize) -> TransactionRecord {
        TransactionRecord {
            at: at(),
            submitter: "WDEMO001".into(),
            npi: Some("1125213722".into()),
            mbi: Some(format!("1EG4TE5MK{:02}", n % 100)),
            outcome: Outcome::Response271,
            aaa_codes: Vec::new(),
            service_types: vec!["30".into()],
            duration_micros: n as u64,
        }
    }

    fn sqlite(dir: &tempfile::TempDir) -> Arc<dyn Store> {
        store::open(&format!("sqlite:{}", dir.path().join("hets.db").display())).unwrap()
    }

    /// Every record kept, as (duration_micros) sorted: the tests number their records there.
    fn kept(store: &dyn Store) -> Vec<u64> {
        let until = Instant::from_unix(at().unix_seconds + 1);
        let mut v: Vec<u64> =
            store.transactions_for("WDEMO001", at(), until).unwrap().iter().map(|t| t.record.duration_micros).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn a_local_store_is_written_by_tasks_and_every_request_hears_of_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(&dir);
        let recorder = Arc::new(Recorder::start(store.clone()));
        assert!(matches!(recorder.how, How::Tasks(_)));
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        let told = runtime.block_on(async {
            let mut tasks = Vec::new();
            for n in 0..300 {
                let r = recorder.clone();
                tasks.push(tokio::spawn(async move { r.record(record(n), None).await }));
            }
            let mut told = Vec::new();
            for t in tasks {
                told.push(t.await.unwrap());
            }
            told
        });
        assert!(told.iter().all(|&ok| ok));
        assert_eq!(kept(store.as_ref()), (0..300).collect::<Vec<u64>>());
        // The last requests hear of their commit before the writer task has yielded and found
        // the queue empty: it stops by itself soon after, on the runtime still running.
        let How::Tasks(tasks) = &recorder.how else { unreachable!() };
        let stopped = (0..2000).any(|_| {
            let done = !tasks.lock().writing;
            if !done {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            done
        });
        assert!(stopped, "the writer task stopped once the queue was empty");
        assert!(tasks.lock().batch.is_empty());
    }

    #[test]
    fn blocking_callers_without_a_runtime_write_for_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(&dir);
        let recorder = Arc::new(Recorder::start(store.clone()));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let r = recorder.clone();
                std::thread::spawn(move || (0..25).all(|i| r.record_durably(record(t * 25 + i), None)))
            })
            .collect();
        assert!(threads.into_iter().all(|t| t.join().unwrap()));
        assert_eq!(kept(store.as_ref()), (0..100).collect::<Vec<u64>>());
    }

    #[test]
    fn a_writer_task_dropped_between_commits_leaves_the_queue_to_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite(&dir);
        let tasks = Tasks::new(store.clone());
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        // The caller was told to start a writer; the writer was dropped before its first commit.
        assert!(tasks.enqueue(record(7), None, Waiter::Thread(tx)));
        drop(StopGuard { tasks: &tasks, armed: true });
        assert!(!tasks.lock().writing);
        tasks.flush();
        assert_eq!(rx.try_recv(), Ok(Signal::Done(true)));
        assert_eq!(kept(store.as_ref()), vec![7]);
    }
}
