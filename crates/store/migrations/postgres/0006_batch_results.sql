-- openhets store, PostgreSQL, version 6: HDT Batch result files kept (D16).

-- Each upload's result file, written in the same transaction as the upload's relationship
-- changes, so that the file a submitter downloads always tells what was applied. Kept in the
-- database rather than in the server's memory: it can be downloaded later, from another
-- session, and from any `hets serve` sharing the database.
CREATE TABLE batch_result (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    submitter_id  TEXT NOT NULL,
    -- The desktop user (or API caller) who uploaded the file.
    username      TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    result_name   TEXT NOT NULL,
    at_ms         BIGINT NOT NULL,
    accepted      INTEGER NOT NULL CHECK (accepted >= 0),
    rejected      INTEGER NOT NULL CHECK (rejected >= 0),
    result_csv    TEXT NOT NULL
);

CREATE INDEX batch_result_submitter_at ON batch_result (submitter_id, at_ms);
