//! Which (sender, PayloadID) pairs may have a stored answer: a filter in front of the D11
//! lookup.
//!
//! Nearly every PayloadID a submitter sends is new, yet answering "is this a retry?" from the
//! database costs a read transaction and a walk down an index whose pages the group commit
//! keeps rewriting: on the 2-core machine that lookup was about a ninth of the server's time per
//! request. The embedded store is the only writer of its `payload_replay` table (one `hets serve`
//! per SQLite file; several servers share PostgreSQL instead), so it can remember what it wrote
//! and ask the database only when the answer may be yes.
//!
//! The memory is a list of Bloom filters, each taking up to [`BUCKET_PAYLOADS`] pairs in the
//! order they were stored. A filter never forgets a pair it was given, so "no" is always right;
//! "maybe" (a retry, or about one new PayloadID in fifty once a bucket is full) goes to the
//! database as before. A bucket is dropped once everything in it is older than the 24-hour
//! window. Memory is bounded: past [`MAX_BUCKETS`] buckets the filter stops answering "no" until
//! old buckets expire, so a flood costs speed, never a wrong answer.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

/// Pairs per bucket. With [`BUCKET_BITS`] bits and [`PROBES`] probes a full bucket says "maybe"
/// to about 1.8% of new pairs.
const BUCKET_PAYLOADS: usize = 1 << 20;
const BUCKET_BITS: usize = 1 << 23;
const PROBES: u64 = 5;
/// 48 MiB of filters at most: 48 million PayloadIDs within a day.
const MAX_BUCKETS: usize = 48;

pub(crate) struct SeenPayloads {
    buckets: RwLock<Vec<Bucket>>,
    /// True until the table's existing rows have been read in: until then every answer is
    /// "maybe".
    loading: AtomicBool,
    /// True while the filter holds [`MAX_BUCKETS`] buckets and the newest is full.
    saturated: AtomicBool,
}

struct Bucket {
    bits: Box<[AtomicU64]>,
    count: AtomicUsize,
    /// The newest `at` in the bucket, in Unix milliseconds.
    newest_ms: AtomicI64,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            bits: (0..BUCKET_BITS / 64).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicUsize::new(0),
            newest_ms: AtomicI64::new(i64::MIN),
        }
    }

    fn probes(hash: u64) -> impl Iterator<Item = usize> {
        // Double hashing: k probes from two halves of one 64-bit hash.
        let (h1, h2) = (hash & 0xffff_ffff, (hash >> 32) | 1);
        (0..PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) as usize) & (BUCKET_BITS - 1))
    }

    fn may_contain(&self, hash: u64) -> bool {
        Bucket::probes(hash).all(|bit| self.bits[bit / 64].load(Ordering::Acquire) & (1 << (bit % 64)) != 0)
    }

    fn insert(&self, hash: u64, at_ms: i64) {
        for bit in Bucket::probes(hash) {
            self.bits[bit / 64].fetch_or(1 << (bit % 64), Ordering::AcqRel);
        }
        self.count.fetch_add(1, Ordering::AcqRel);
        self.newest_ms.fetch_max(at_ms, Ordering::AcqRel);
    }
}

/// SipHash with fixed keys: the same pair hashes the same in every process, and a collision
/// only ever costs a database lookup.
fn pair_hash(sender: &str, payload_id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    sender.hash(&mut h);
    payload_id.hash(&mut h);
    h.finish()
}

impl SeenPayloads {
    pub(crate) fn new() -> SeenPayloads {
        SeenPayloads {
            buckets: RwLock::new(Vec::new()),
            loading: AtomicBool::new(true),
            saturated: AtomicBool::new(false),
        }
    }

    /// The table's rows have all been added: "no" answers may start.
    pub(crate) fn loaded(&self) {
        self.loading.store(false, Ordering::Release);
    }

    /// False only when no answer for this pair was stored through this filter or loaded into it.
    pub(crate) fn may_contain(&self, sender: &str, payload_id: &str) -> bool {
        if self.loading.load(Ordering::Acquire) || self.saturated.load(Ordering::Acquire) {
            return true;
        }
        let hash = pair_hash(sender, payload_id);
        let buckets = self.buckets.read().unwrap_or_else(|e| e.into_inner());
        buckets.iter().rev().any(|b| b.may_contain(hash))
    }

    /// Remembers a pair. Called before the row is committed, so that no reader can find the
    /// row in the database while the filter still says "no".
    pub(crate) fn insert(&self, sender: &str, payload_id: &str, at_ms: i64) {
        let hash = pair_hash(sender, payload_id);
        {
            let buckets = self.buckets.read().unwrap_or_else(|e| e.into_inner());
            if let Some(last) = buckets.last().filter(|b| b.count.load(Ordering::Acquire) < BUCKET_PAYLOADS) {
                last.insert(hash, at_ms);
                return;
            }
        }
        let mut buckets = self.buckets.write().unwrap_or_else(|e| e.into_inner());
        let full = buckets.last().is_none_or(|b| b.count.load(Ordering::Acquire) >= BUCKET_PAYLOADS);
        if full {
            if buckets.len() >= MAX_BUCKETS {
                // Keep adding to the last bucket (it only says "maybe" more often) and stop
                // saying "no" until old buckets expire.
                self.saturated.store(true, Ordering::Release);
            } else {
                buckets.push(Bucket::new());
            }
        }
        if let Some(last) = buckets.last() {
            last.insert(hash, at_ms);
        }
    }

    /// Drops the buckets whose every pair is older than `since_ms` (the start of the window).
    pub(crate) fn expire(&self, since_ms: i64) {
        let stale = {
            let buckets = self.buckets.read().unwrap_or_else(|e| e.into_inner());
            // The newest bucket stays: it takes the next inserts.
            buckets.len() > 1 && buckets[0].newest_ms.load(Ordering::Acquire) < since_ms
        };
        if !stale {
            return;
        }
        let mut buckets = self.buckets.write().unwrap_or_else(|e| e.into_inner());
        let last = buckets.len().saturating_sub(1);
        let keep_from =
            buckets[..last].iter().position(|b| b.newest_ms.load(Ordering::Acquire) >= since_ms).unwrap_or(last);
        buckets.drain(..keep_from);
        if buckets.len() < MAX_BUCKETS {
            self.saturated.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn says_maybe_until_loaded_then_no_for_new_pairs_and_maybe_for_stored_ones() {
        let seen = SeenPayloads::new();
        assert!(seen.may_contain("WDEMO001", "a"), "nothing may be ruled out before the table is read");
        seen.insert("WDEMO001", "a", 1_000);
        seen.loaded();
        assert!(seen.may_contain("WDEMO001", "a"));
        assert!(!seen.may_contain("WDEMO001", "b"));
        // The sender is part of the key.
        assert!(!seen.may_contain("WOTHER01", "a"));
    }

    #[test]
    fn never_forgets_a_pair_and_rarely_says_maybe_to_a_new_one() {
        let seen = SeenPayloads::new();
        seen.loaded();
        for i in 0..200_000 {
            seen.insert("WDEMO001", &format!("stored-{i}"), i);
        }
        assert!((0..200_000).all(|i| seen.may_contain("WDEMO001", &format!("stored-{i}"))));
        let maybes = (0..100_000).filter(|i| seen.may_contain("WDEMO001", &format!("new-{i}"))).count();
        assert!(maybes < 100, "{maybes} false maybes in 100,000");
    }

    #[test]
    fn full_buckets_give_way_to_new_ones_and_expire_with_the_window() {
        let seen = SeenPayloads::new();
        seen.loaded();
        for i in 0..BUCKET_PAYLOADS as i64 + 10 {
            seen.insert("S", &i.to_string(), i);
        }
        assert_eq!(seen.buckets.read().unwrap().len(), 2);
        // Everything in the first bucket is older than the window: it goes, the second stays.
        seen.expire(BUCKET_PAYLOADS as i64);
        assert_eq!(seen.buckets.read().unwrap().len(), 1);
        assert!(seen.may_contain("S", &(BUCKET_PAYLOADS as i64 + 5).to_string()));
        // The newest bucket is never dropped, however old.
        seen.expire(i64::MAX);
        assert_eq!(seen.buckets.read().unwrap().len(), 1);
    }

    #[test]
    fn a_saturated_filter_says_maybe_to_everything_until_buckets_expire() {
        let seen = SeenPayloads::new();
        seen.loaded();
        {
            let mut buckets = seen.buckets.write().unwrap();
            for k in 0..MAX_BUCKETS {
                let b = Bucket::new();
                b.count.store(BUCKET_PAYLOADS, Ordering::Release);
                b.newest_ms.store(k as i64, Ordering::Release);
                buckets.push(b);
            }
        }
        seen.insert("S", "one more", 100);
        assert!(seen.may_contain("S", "never stored"));
        seen.expire(10);
        assert!(!seen.may_contain("S", "never stored"));
        assert!(seen.may_contain("S", "one more"));
    }
}
