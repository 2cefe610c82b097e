-- openhets store, SQLite, version 2: what the CORE endpoints keep.

-- D11: the answer to each (SenderID, PayloadID) for 24 hours, so a retry of the same request
-- gets the same answer and a different request under a used PayloadID is refused. The request
-- itself is not kept, only a digest of it; the response is kept because replaying it is the
-- point, and rows older than 24 hours are purged.
-- Rows are appended in arrival order (rowid, and at_ms nearly so): an answer's ~3 KB lands on
-- the table's last pages and only the small unique index takes a random leaf per insert, so a
-- group commit writes few pages. Keyed by (sender_id, payload_id) the blobs would scatter
-- over random leaves and every commit would rewrite many of them.
CREATE TABLE payload_replay (
    id             INTEGER PRIMARY KEY,
    sender_id      TEXT NOT NULL,
    payload_id     TEXT NOT NULL,
    at_ms          INTEGER NOT NULL,
    request_digest TEXT NOT NULL,
    payload_type   TEXT NOT NULL,
    response       BLOB NOT NULL
);

CREATE UNIQUE INDEX payload_replay_key ON payload_replay (sender_id, payload_id);
CREATE INDEX payload_replay_at ON payload_replay (at_ms);

-- D12: scheduled maintenance windows, during which the real-time endpoints answer 503.
CREATE TABLE maintenance_window (
    id        INTEGER PRIMARY KEY,
    starts_ms INTEGER NOT NULL,
    ends_ms   INTEGER NOT NULL CHECK (ends_ms > starts_ms),
    reason    TEXT NOT NULL
);
