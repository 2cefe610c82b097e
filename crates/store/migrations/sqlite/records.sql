-- openhets store, SQLite: the records file (`<database>.records`, attached as `records`).
--
-- What every answered request appends (the transaction record of D17 and the replayable answer
-- of D11) lives in a file of its own, beside the reference data. In WAL mode SQLite empties a
-- connection's page cache whenever the database it reads has had any commit since its last
-- read; with the group commit writing into the same file every millisecond, every request's
-- lookups started from an empty cache (the provider, relationship and beneficiary reads were a
-- sixth of the server's time). Commits to this file leave the reference data's caches warm.
--
-- Applied on every open (hence IF NOT EXISTS); versioned migrations of the main file never
-- touch these tables. Databases made before the split had both tables in the main file: the
-- store moves their rows here on open (see `SqliteStore::open`). The definitions are those of
-- migrations 0001 and 0002 (the outcome check written out, see below).

-- Append-only record of every transaction: who asked what, when, and the outcome. Never the
-- payload. aaa_codes and service_types are comma-separated codes.
CREATE TABLE IF NOT EXISTS records.transaction_record (
    id            INTEGER PRIMARY KEY,
    at_ms         INTEGER NOT NULL,
    submitter_id  TEXT NOT NULL,
    npi           TEXT,
    mbi           TEXT,
    -- Comparisons, not `IN (...)`: SQLite builds a throwaway index for an IN list each time the
    -- constraint is checked, which was a quarter of each record's insert.
    outcome       TEXT NOT NULL
                  CHECK (outcome = '271' OR outcome = '271-AAA' OR outcome = '999' OR outcome = 'TA1'),
    aaa_codes     TEXT NOT NULL DEFAULT '',
    service_types TEXT NOT NULL DEFAULT '',
    duration_us   INTEGER NOT NULL CHECK (duration_us >= 0)
);

-- The audits read one submitter's transactions over a period.
CREATE INDEX IF NOT EXISTS records.transaction_record_submitter_at ON transaction_record (submitter_id, at_ms);

-- Records are evidence: they are never rewritten (retention may delete old ones).
CREATE TRIGGER IF NOT EXISTS records.transaction_record_append_only BEFORE UPDATE ON transaction_record
BEGIN
    SELECT RAISE(ABORT, 'transaction records are append-only');
END;

-- D11: the answer to each (SenderID, PayloadID) for 24 hours. Rows are appended in arrival
-- order, so an answer lands on the table's last pages. No index on the pair: PayloadIDs are
-- random, and its B-tree took a random page write per request; the store keeps that index in
-- memory instead (`src/sqlite/recent.rs`), and builds `payload_replay_pair` on (sender_id,
-- payload_id) only when more pairs are held than memory may take. A pair has one row in force:
-- a newer answer within 24 hours of it is not stored, an older row is deleted when a new answer
-- comes. `response` holds the answer as it was sent, or (from 2026-12) compressed: a 0 byte,
-- the length, an LZ4 block (see `codec::pack_answer`).
CREATE TABLE IF NOT EXISTS records.payload_replay (
    id             INTEGER PRIMARY KEY,
    sender_id      TEXT NOT NULL,
    payload_id     TEXT NOT NULL,
    at_ms          INTEGER NOT NULL,
    request_digest TEXT NOT NULL,
    payload_type   TEXT NOT NULL,
    response       BLOB NOT NULL
);

-- No index on at_ms either: rows are appended in time order, so the first row of an instant is
-- found by a binary search over the row ids (`first_replay_at_or_after` in `src/sqlite.rs`),
-- and no insert pays for a second B-tree. (Files from before 2026-12-05 evening had
-- `payload_replay_at`; it is dropped on open.)
