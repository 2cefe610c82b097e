//! The D11 lookup of the embedded store, kept in memory: which rows of `payload_replay` may
//! hold the answer to a (sender, PayloadID) pair.
//!
//! Why not an index in the file: PayloadIDs are random UUIDs, so a B-tree over them takes each
//! insert on a random leaf page. At the group commit's pace every request dirtied a leaf of its
//! own, written once to the WAL and once more at checkpoint: most of the server's writes per
//! request, and with the B-tree work about a quarter of its CPU (measured 2026-12-05, see
//! `docs/benchmarks.md`). The embedded store is the only writer of its records file (one
//! `hets serve` per SQLite file; several servers share PostgreSQL, which keeps its index), so
//! it keeps the index itself: an open-addressing table from a hash of the pair to row ids.
//!
//! The table is a hint, never the truth: every candidate row is read back and compared, so a
//! hash collision, a rolled-back insert or a purged row costs a read, never a wrong answer. A
//! pair never answered (nearly every request) costs one probe and no read at all.
//!
//! Rows are appended in arrival order, so row ids grow with time and expiry is one row id:
//! every entry below it belongs to a row older than the 24-hour window. Dead entries go when
//! the table is rebuilt as it fills. Memory is bounded: past [`MAX_LIVE`] pairs within the
//! window the store falls back to an index in the file (`SqliteStore::use_replay_index`).

use std::collections::VecDeque;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// Pairs held within the window before the store falls back to an index in the file: a day of
/// about 90 requests a second, every PayloadID new. The table then has 2^24 slots of 8 bytes
/// (128 MiB; briefly twice that while it is rebuilt).
pub(crate) const MAX_LIVE: usize = 8_000_000;
const MIN_SLOTS: usize = 1 << 12;
/// A slot's low bits: the row id's offset from `base`. The table is rebuilt (and the base
/// moved) long before ids stored in one table span 2^28.
const OFFSET_BITS: u32 = 28;
const OFFSET: u64 = (1 << OFFSET_BITS) - 1;
/// A slot's high bits: the pair hash's. The lowest of them pick the home slot, so entries met
/// on one probe share those and differ in the rest: 36 bits less the table's size bits.
const TAG: u64 = !OFFSET;
/// Rows whose times lie within this of a span's first row share its span.
const SPAN_MS: i64 = 60_000;

/// SipHash with fixed keys: the same pair hashes the same in every process, and a collision
/// only ever costs a read.
pub(crate) fn pair_hash(sender: &str, payload_id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    sender.hash(&mut h);
    payload_id.hash(&mut h);
    h.finish()
}

/// Row ids stored within a span of time: expiry drops whole spans.
#[derive(Clone, Copy, Debug)]
struct Span {
    last: i64,
    started_ms: i64,
    newest_ms: i64,
}

pub(crate) struct RecentPayloads {
    /// Each slot is empty (0) or the pair hash's high bits (whose lowest also pick the home
    /// slot, so a rebuild can place entries without the full hash) above the row id's offset
    /// from `base` (at least 1, so a used slot is never 0).
    slots: Vec<u64>,
    base: i64,
    /// Slots in use, live or dead.
    used: usize,
    /// Row ids below this are older than the window.
    live_from: i64,
    /// The newest row id inserted.
    newest: i64,
    spans: VecDeque<Span>,
    max_live: usize,
}

impl RecentPayloads {
    pub(crate) fn new() -> RecentPayloads {
        RecentPayloads::with_limit(MAX_LIVE)
    }

    pub(crate) fn with_limit(max_live: usize) -> RecentPayloads {
        RecentPayloads {
            slots: vec![0; MIN_SLOTS],
            base: 0,
            used: 0,
            live_from: i64::MIN,
            newest: i64::MIN,
            spans: VecDeque::new(),
            max_live,
        }
    }

    /// Whether `more` further pairs would take the table past its limit, counting dead entries
    /// (they go only at a rebuild, and an exact count would cost a scan).
    /// Dead entries are dropped first when they are all that stands in the way.
    pub(crate) fn would_overflow(&mut self, more: usize) -> bool {
        if self.used + more <= self.max_live {
            return false;
        }
        if self.used > 0 {
            self.rebuild(self.newest);
        }
        self.used + more > self.max_live
    }

    /// How many pairs the table may hold.
    pub(crate) fn limit(&self) -> usize {
        self.max_live
    }

    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn home(&self, slot_or_hash: u64) -> usize {
        ((slot_or_hash >> OFFSET_BITS) as usize) & self.mask()
    }

    /// The row ids that may hold this pair, newest first.
    pub(crate) fn candidates(&self, hash: u64, out: &mut Vec<i64>) {
        out.clear();
        let tag = hash & TAG;
        let mut i = self.home(hash);
        loop {
            let s = self.slots[i];
            if s == 0 {
                break;
            }
            if s & TAG == tag {
                let id = self.base + (s & OFFSET) as i64;
                if id >= self.live_from {
                    out.push(id);
                }
            }
            i = (i + 1) & self.mask();
        }
        // Newest first: the answer in force is the newest row of the pair.
        out.sort_unstable_by(|a, b| b.cmp(a));
    }

    /// Remembers that row `id`, stored at `at_ms`, answers the pair hashing to `hash`.
    pub(crate) fn insert(&mut self, hash: u64, id: i64, at_ms: i64) {
        if id < self.newest {
            // Row ids went back: SQLite hands out max(id) + 1, so every row above `id` was
            // deleted. Entries for them are harmless (a candidate is always read back), but
            // the spans no longer follow the ids: expiry starts over from here.
            self.spans.clear();
            self.live_from = self.live_from.min(id);
        }
        self.newest = id;
        match self.spans.back_mut() {
            Some(s) if at_ms < s.started_ms + SPAN_MS => {
                s.last = s.last.max(id);
                s.newest_ms = s.newest_ms.max(at_ms);
            }
            _ => self.spans.push_back(Span { last: id, started_ms: at_ms, newest_ms: at_ms }),
        }
        let fits = id - self.base >= 1 && id - self.base <= OFFSET as i64;
        if !fits || (self.used + 1) * 10 > self.slots.len() * 7 {
            self.rebuild(id);
        }
        self.place((hash & TAG) | (id - self.base) as u64);
        self.used += 1;
    }

    fn place(&mut self, slot: u64) {
        let mut i = self.home(slot);
        while self.slots[i] != 0 {
            i = (i + 1) & self.mask();
        }
        self.slots[i] = slot;
    }

    /// Forgets the rows older than `since_ms` (the start of the window): their entries are
    /// dead from now on and dropped at the next rebuild.
    pub(crate) fn expire(&mut self, since_ms: i64) {
        while let Some(s) = self.spans.front().copied().filter(|s| s.newest_ms < since_ms) {
            self.live_from = self.live_from.max(s.last + 1);
            self.spans.pop_front();
        }
    }

    /// Rebuilds the table with its live entries only, at a size that leaves room to grow and
    /// a base that fits both them and row `id`.
    fn rebuild(&mut self, id: i64) {
        let (old_base, live_from) = (self.base, self.live_from);
        let row = |s: u64| old_base + (s & OFFSET) as i64;
        // SQLite hands out max(id) + 1, so live ids never lie 2^28 apart; were they to, the
        // entries too far below `id` would be forgotten rather than misplaced.
        let keep = |s: u64| s != 0 && row(s) >= live_from && id - row(s) < OFFSET as i64;
        let (live, lowest) =
            self.slots.iter().filter(|&&s| keep(s)).fold((0, id), |(n, low), &s| (n + 1, low.min(row(s))));
        let mut size = MIN_SLOTS;
        // Half full at most after a rebuild (then seven tenths before the next one), so a
        // steady stream rebuilds once per fifth of the table's size.
        while size < 2 * (live + 1) {
            size *= 2;
        }
        // The old slots are read straight into the new table: no list of the live entries
        // beside the two tables.
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        self.base = lowest - 1;
        self.used = live;
        for s in old.into_iter().filter(|&s| keep(s)) {
            let moved = (s & TAG) | (row(s) - self.base) as u64;
            self.place(moved);
        }
    }

    /// Entries in the table, live or dead.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn found(t: &RecentPayloads, sender: &str, payload: &str) -> Vec<i64> {
        let mut out = Vec::new();
        t.candidates(pair_hash(sender, payload), &mut out);
        out
    }

    #[test]
    fn finds_every_stored_pair_and_nothing_for_new_ones() {
        let mut t = RecentPayloads::new();
        for i in 1..=200_000i64 {
            t.insert(pair_hash("WDEMO001", &format!("stored-{i}")), i, i);
        }
        assert!((1..=200_000i64).all(|i| found(&t, "WDEMO001", &format!("stored-{i}")).contains(&i)));
        // A tag match among the entries a probe meets is the only way to a false candidate
        // (it costs a read): with 2^19 slots, 17 bits must match, about one lookup in 100,000.
        let false_candidates: usize = (0..100_000).map(|i| found(&t, "WDEMO001", &format!("new-{i}")).len()).sum();
        assert!(false_candidates < 10, "{false_candidates} false candidates in 100,000");
        // The sender is part of the key.
        assert_eq!(found(&t, "WOTHER01", "stored-7"), Vec::<i64>::new());
        // Seven tenths full at most.
        assert!(t.used() * 10 <= t.slots.len() * 7);
    }

    #[test]
    fn a_pair_stored_twice_gives_both_rows_newest_first() {
        let mut t = RecentPayloads::new();
        let h = pair_hash("S", "p");
        t.insert(h, 10, 1_000);
        t.insert(pair_hash("S", "q"), 11, 1_000);
        t.insert(h, 12, 2_000);
        assert_eq!(found(&t, "S", "p"), vec![12, 10]);
    }

    #[test]
    fn expired_spans_drop_out_and_rebuilds_reclaim_them() {
        let mut t = RecentPayloads::new();
        // Ten minutes of rows, one a second.
        for i in 1..=600i64 {
            t.insert(pair_hash("S", &i.to_string()), i, i * 1_000);
        }
        // The window now starts at five minutes: rows of spans entirely older are gone.
        t.expire(300_000);
        assert!(found(&t, "S", "10").is_empty());
        assert_eq!(found(&t, "S", "599"), vec![599]);
        // Rows of the span that straddles the start stay (expiry is conservative).
        assert_eq!(found(&t, "S", "300"), vec![300]);
        // Enough new rows force rebuilds, which drop the dead entries for good.
        for i in 601..=20_000i64 {
            t.insert(pair_hash("S", &i.to_string()), i, 600_000);
        }
        assert!(t.used() < 20_000 - 200, "dead entries are dropped by a rebuild");
        assert!((300..=20_000i64).all(|i| found(&t, "S", &i.to_string()) == vec![i]));
    }

    #[test]
    fn row_ids_going_back_restart_expiry_and_far_ids_rebase() {
        let mut t = RecentPayloads::new();
        t.insert(pair_hash("S", "a"), 1_000, 0);
        t.expire(1);
        assert!(found(&t, "S", "a").is_empty());
        // Every row was purged and SQLite starts again at 1.
        t.insert(pair_hash("S", "b"), 1, 10);
        assert_eq!(found(&t, "S", "b"), vec![1]);
        // A row id beyond 2^28 of the base moves the base.
        t.insert(pair_hash("S", "c"), 1 << 20, 20);
        t.insert(pair_hash("S", "d"), 1 << 40, 20);
        assert_eq!(found(&t, "S", "d"), vec![1 << 40]);
        t.insert(pair_hash("S", "e"), (1 << 40) + 1, 20);
        assert_eq!(found(&t, "S", "e"), vec![(1 << 40) + 1]);
        assert_eq!(found(&t, "S", "d"), vec![1 << 40]);
    }

    #[test]
    fn the_limit_is_reported_before_it_is_passed() {
        let mut t = RecentPayloads::with_limit(100);
        for i in 1..=90i64 {
            t.insert(pair_hash("S", &i.to_string()), i, 0);
        }
        assert!(!t.would_overflow(10));
        assert!(t.would_overflow(11));
        // Dead entries do not count once a rebuild has dropped them.
        t.expire(1);
        assert!(!t.would_overflow(11));
    }
}
