//! The transaction record, written off the request path.
//!
//! Requests hand their records to a channel; one writer thread appends them in batches, one
//! database transaction per batch. A commit per request would serialise every request on the
//! database's single writer; a batch costs one commit for hundreds of requests. The channel is
//! bounded: when the writer falls behind, requests wait for room instead of records being
//! dropped. [`Recorder::flush`] waits until everything handed in so far is written.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use store::{Store, TransactionRecord};

/// Records waiting at most this long before they are written.
const MAX_DELAY: Duration = Duration::from_millis(20);
const MAX_BATCH: usize = 2000;
const CAPACITY: usize = 65_536;

enum Message {
    Record(TransactionRecord),
    /// Answered once every record sent before it is written.
    Flush(Arc<(Mutex<bool>, Condvar)>),
}

pub struct Recorder {
    sender: Option<SyncSender<Message>>,
    writer: Option<JoinHandle<()>>,
}

impl Recorder {
    pub fn start(store: Arc<dyn Store>) -> Recorder {
        let (sender, receiver) = sync_channel(CAPACITY);
        let writer = std::thread::Builder::new()
            .name("hets-recorder".into())
            .spawn(move || write_loop(store.as_ref(), &receiver))
            .ok();
        if writer.is_none() {
            tracing::error!("could not start the transaction recorder thread");
        }
        Recorder { sender: Some(sender), writer }
    }

    /// Hands one record to the writer; waits only when the queue is full.
    pub fn record(&self, record: TransactionRecord) {
        if let Some(s) = &self.sender
            && s.send(Message::Record(record)).is_err()
        {
            tracing::error!("the transaction recorder has stopped; a record was not written");
        }
    }

    /// Waits until every record handed in before this call is written.
    pub fn flush(&self) {
        let Some(s) = &self.sender else { return };
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        if s.send(Message::Flush(done.clone())).is_err() {
            return;
        }
        let (lock, cvar) = &*done;
        let mut finished = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*finished {
            finished = cvar.wait(finished).unwrap_or_else(|e| e.into_inner());
        }
    }
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

fn write_loop(store: &dyn Store, receiver: &Receiver<Message>) {
    let mut batch: Vec<TransactionRecord> = Vec::with_capacity(MAX_BATCH);
    let mut waiting: Vec<Arc<(Mutex<bool>, Condvar)>> = Vec::new();
    loop {
        let first = match receiver.recv() {
            Ok(m) => m,
            Err(_) => return,
        };
        let mut closed = false;
        let take = |m: Message, batch: &mut Vec<TransactionRecord>, waiting: &mut Vec<_>| match m {
            Message::Record(r) => batch.push(r),
            Message::Flush(f) => waiting.push(f),
        };
        take(first, &mut batch, &mut waiting);
        let deadline = std::time::Instant::now() + MAX_DELAY;
        while batch.len() < MAX_BATCH && waiting.is_empty() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match receiver.recv_timeout(left) {
                Ok(m) => take(m, &mut batch, &mut waiting),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        if !batch.is_empty() {
            if let Err(e) = store.record_transactions(&batch) {
                tracing::error!(error = %e, records = batch.len(), "could not record transactions");
            }
            batch.clear();
        }
        for f in waiting.drain(..) {
            let (lock, cvar) = &*f;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
            cvar.notify_all();
        }
        if closed {
            return;
        }
    }
}
