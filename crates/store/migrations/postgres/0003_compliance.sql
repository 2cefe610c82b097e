-- openhets store, PostgreSQL, version 3: security audits and trading-partner compliance (D13–D15).

-- The ladder of D13 counts terminations too: the 3rd is permanent.
ALTER TABLE submitter ADD COLUMN terminations INTEGER NOT NULL DEFAULT 0 CHECK (terminations >= 0);

-- A relationship suspended for repeated inquiries (D15) may be ended for good: 'permanent'.
ALTER TABLE relationship DROP CONSTRAINT relationship_status_check;
ALTER TABLE relationship ADD CONSTRAINT relationship_status_check
    CHECK (status IN ('active', 'suspended', 'permanent'));

-- One row per submitter and audit period: the figures that decided it and what it did. The
-- unique key is what makes an audit idempotent: a rerun finds the row and changes nothing.
CREATE TABLE audit_record (
    id              BIGSERIAL PRIMARY KEY,
    submitter_id    TEXT NOT NULL,
    period          TEXT NOT NULL,
    period_start_ms BIGINT NOT NULL,
    period_end_ms   BIGINT NOT NULL,
    at_ms           BIGINT NOT NULL,
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
    opened_ms    BIGINT NOT NULL,
    deadline_ms  BIGINT NOT NULL,
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
    submitted_ms       BIGINT NOT NULL,
    submitted_by       TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('submitted', 'accepted', 'rejected')),
    decided_ms         BIGINT,
    decided_by         TEXT,
    comment            TEXT
);
CREATE INDEX cap_submitter ON cap (submitter_id, submitted_ms);

-- Every change of standing (submitter, relationship, case, CAP) with its reason and actor: the
-- history both the submitter and the help desk see. Append-only by convention: no code path
-- updates it.
CREATE TABLE status_change (
    id           BIGSERIAL PRIMARY KEY,
    at_ms        BIGINT NOT NULL,
    submitter_id TEXT NOT NULL,
    subject      TEXT NOT NULL,
    from_state   TEXT NOT NULL,
    to_state     TEXT NOT NULL,
    reason       TEXT NOT NULL,
    actor        TEXT NOT NULL
);
CREATE INDEX status_change_submitter ON status_change (submitter_id, at_ms);

-- The email outbox: written in the same transaction as the state change it announces, and
-- delivered (at least once) by a separate loop with retry and backoff.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    created_ms      BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    submitter_id    TEXT,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    sent_ms         BIGINT,
    gave_up         BOOLEAN NOT NULL DEFAULT FALSE,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_ms) WHERE sent_ms IS NULL AND NOT gave_up;
