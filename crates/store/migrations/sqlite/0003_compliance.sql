-- openhets store, SQLite, version 3: security audits and trading-partner compliance (D13–D15).

-- The ladder of D13 counts terminations too: the 3rd is permanent.
ALTER TABLE submitter ADD COLUMN terminations INTEGER NOT NULL DEFAULT 0 CHECK (terminations >= 0);

-- A relationship suspended for repeated inquiries (D15) may be ended for good: 'permanent'.
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt (it has no dependants).
CREATE TABLE relationship_v3 (
    submitter_id   TEXT NOT NULL,
    npi            TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'permanent')),
    effective_date TEXT NOT NULL,
    end_date       TEXT,
    PRIMARY KEY (submitter_id, npi)
) WITHOUT ROWID;
INSERT INTO relationship_v3 SELECT submitter_id, npi, status, effective_date, end_date FROM relationship;
DROP TABLE relationship;
ALTER TABLE relationship_v3 RENAME TO relationship;

-- One row per submitter and audit period: the figures that decided it and what it did. The
-- unique key is what makes an audit idempotent: a rerun finds the row and changes nothing.
CREATE TABLE audit_record (
    id              INTEGER PRIMARY KEY,
    submitter_id    TEXT NOT NULL,
    period          TEXT NOT NULL,
    period_start_ms INTEGER NOT NULL,
    period_end_ms   INTEGER NOT NULL,
    at_ms           INTEGER NOT NULL,
    npi_verdict     TEXT NOT NULL,
    aaa_verdict     TEXT NOT NULL,
    figures         TEXT NOT NULL,
    actions         TEXT NOT NULL,
    UNIQUE (submitter_id, period)
);
CREATE INDEX audit_record_period ON audit_record (period);

-- AAA error-rate cases (D14). The id names the submitter and the period that opened it.
CREATE TABLE aaa_case (
    id           TEXT NOT NULL PRIMARY KEY,
    submitter_id TEXT NOT NULL,
    period       TEXT NOT NULL,
    opened_ms    INTEGER NOT NULL,
    deadline_ms  INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('notified', 'cap_submitted', 'closed', 'suspended')),
    figures      TEXT NOT NULL
);
CREATE INDEX aaa_case_submitter ON aaa_case (submitter_id, state);

-- Corrective action plans on the help desk's template: the restatement of the Rules of
-- Behavior, the steps, and the error-rate reduction expected.
CREATE TABLE cap (
    id                 TEXT NOT NULL PRIMARY KEY,
    submitter_id       TEXT NOT NULL,
    subject            TEXT NOT NULL,
    understanding      TEXT NOT NULL,
    steps              TEXT NOT NULL,
    expected_reduction TEXT NOT NULL,
    submitted_ms       INTEGER NOT NULL,
    submitted_by       TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('submitted', 'accepted', 'rejected')),
    decided_ms         INTEGER,
    decided_by         TEXT,
    comment            TEXT
);
CREATE INDEX cap_submitter ON cap (submitter_id, submitted_ms);

-- Every change of standing (submitter, relationship, case, CAP) with its reason and actor: the
-- history both the submitter and the help desk see. Append-only.
CREATE TABLE status_change (
    id           INTEGER PRIMARY KEY,
    at_ms        INTEGER NOT NULL,
    submitter_id TEXT NOT NULL,
    subject      TEXT NOT NULL,
    from_state   TEXT NOT NULL,
    to_state     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    actor        TEXT NOT NULL
);
CREATE INDEX status_change_submitter ON status_change (submitter_id, at_ms);
CREATE TRIGGER status_change_append_only BEFORE UPDATE ON status_change
BEGIN
    SELECT RAISE(ABORT, 'status changes are append-only');
END;

-- The email outbox: written in the same transaction as the state change it announces, and
-- delivered (at least once) by a separate loop with retry and backoff.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    created_ms      INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    submitter_id    TEXT,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    sent_ms         INTEGER,
    gave_up         INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_ms) WHERE sent_ms IS NULL AND gave_up = 0;
