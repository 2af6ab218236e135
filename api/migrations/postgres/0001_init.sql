-- Ringfence store, PostgreSQL: the tables of migrations/sqlite/0001_init.sql, column for
-- column, so one set of statements serves both. Sequence numbers are BIGINT identities
-- (SQLite's INTEGER is 64-bit); times are RFC 3339 text as on SQLite; record fields are JSON
-- text (not JSONB: JSONB refuses the escaped NUL character that a field may hold).

-- Accounts and inquiries: the data contract's fields as the caller sent them (raw strings,
-- PII included), in one JSON object per record. Normalised values are never stored: the graph
-- is rebuilt from these with graph-core's one normalisation.
CREATE TABLE accounts (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    fields      TEXT NOT NULL,
    inserted_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE inquiries (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    account_id  TEXT,
    fields      TEXT NOT NULL,
    inserted_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX inquiries_by_account ON inquiries (account_id);

-- Every change to a record, in commit order: the background re-link rebuilds from a snapshot
-- and replays the changes committed after it.
CREATE TABLE changes (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    at          TEXT NOT NULL
);

-- Label history (the current label is the record's `label` field).
CREATE TABLE labels (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    label       TEXT,
    key_id      TEXT NOT NULL,
    at          TEXT NOT NULL
);

-- API keys: only the SHA-256 of the token is kept.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    scopes      TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- Idempotency records: one per (API key, Idempotency-Key). Written in the transaction of the
-- change it guards; the response is filled in once it is known.
CREATE TABLE idempotency (
    key_id       TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    resource_id  TEXT,
    status       BIGINT,
    body         TEXT,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (key_id, idem_key)
);

-- Saved graph-query templates.
CREATE TABLE graph_queries (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    template    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
