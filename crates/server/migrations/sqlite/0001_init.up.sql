-- The catalog: files, their processing jobs and their results. Times are Unix epoch milliseconds.

CREATE TABLE files (
    id            TEXT PRIMARY KEY,          -- UUID v7: time-ordered, so it is also the list cursor
    owner         TEXT NOT NULL,
    filename      TEXT NOT NULL,
    file_type     TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,          -- bytes
    sha256        TEXT NOT NULL,             -- hex
    status        TEXT NOT NULL,             -- uploading | pending | queued | processing | completed | failed | quarantined
    progress      REAL NOT NULL DEFAULT 0,   -- 0..1
    step          TEXT,
    message       TEXT,
    purpose       TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}', -- JSON object
    storage_key   TEXT NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    uploaded_at   INTEGER NOT NULL,
    processed_at  INTEGER,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX files_owner_id ON files (owner, id);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    file_id          TEXT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    status           TEXT NOT NULL,          -- queued | running | completed | failed | cancelled
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,       -- not claimed before this time
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    error_code       TEXT,
    error_message    TEXT,
    options          TEXT NOT NULL DEFAULT '{}',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX jobs_claim ON jobs (status, run_at);
CREATE INDEX jobs_file ON jobs (file_id);

CREATE TABLE results (
    file_id       TEXT PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    result        TEXT NOT NULL,             -- the result JSON (DESIGN.md section 4)
    records_key   TEXT,                      -- blob key of the records (NDJSON), if the format has records
    records_index TEXT,                      -- JSON array: byte offset of every 1024th record
    records_count INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
