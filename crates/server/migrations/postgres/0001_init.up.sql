-- The catalog: files, their processing jobs and their results. Times are Unix epoch milliseconds.
-- Same tables and columns as migrations/sqlite/0001_init.sql. Ids compare bytewise (COLLATE "C",
-- like SQLite's BINARY) because the file id is also the list cursor. JSON columns are TEXT so that
-- the stored text is returned exactly as written, as with SQLite.

CREATE TABLE files (
    id            TEXT COLLATE "C" PRIMARY KEY, -- UUID v7: time-ordered, so it is also the list cursor
    owner         TEXT NOT NULL,
    filename      TEXT NOT NULL,
    file_type     TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,              -- bytes
    sha256        TEXT NOT NULL,                -- hex
    status        TEXT NOT NULL,                -- uploading | pending | queued | processing | completed | failed | quarantined
    progress      DOUBLE PRECISION NOT NULL DEFAULT 0, -- 0..1
    step          TEXT,
    message       TEXT,
    purpose       TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}',   -- JSON object
    storage_key   TEXT NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    uploaded_at   BIGINT NOT NULL,
    processed_at  BIGINT,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX files_owner_id ON files (owner, id);

CREATE TABLE jobs (
    id               TEXT COLLATE "C" PRIMARY KEY,
    file_id          TEXT COLLATE "C" NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    status           TEXT NOT NULL,             -- queued | running | completed | failed | cancelled
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    run_at           BIGINT NOT NULL,           -- not claimed before this time
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    error_code       TEXT,
    error_message    TEXT,
    options          TEXT NOT NULL DEFAULT '{}',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX jobs_claim ON jobs (status, run_at);
CREATE INDEX jobs_file ON jobs (file_id);
-- At most one queued or running job per file. `enqueue` already checks under a row lock on the
-- file; this makes the rule hold whatever writes the table.
CREATE UNIQUE INDEX jobs_one_active_per_file ON jobs (file_id) WHERE status IN ('queued', 'running');

CREATE TABLE results (
    file_id       TEXT COLLATE "C" PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    result        TEXT NOT NULL,                -- the result JSON (DESIGN.md section 4)
    records_key   TEXT,                         -- blob key of the records (NDJSON), if the format has records
    records_index TEXT,                         -- JSON array: byte offset of every 1024th record
    records_count BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
