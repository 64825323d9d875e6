-- Uploads in progress (chunked and tus, see `ingest::resumable`). An upload is a row beside its
-- file row (status `uploading`) and a row per stored piece; deleting the file deletes both.
-- Times are Unix epoch milliseconds.

CREATE TABLE uploads (
    id              TEXT PRIMARY KEY,           -- UUID v7, distinct from the file id
    file_id         TEXT NOT NULL UNIQUE REFERENCES files (id) ON DELETE CASCADE,
    owner           TEXT NOT NULL,              -- the file's owner
    kind            TEXT NOT NULL CHECK (kind IN ('chunked', 'tus')),
    length          INTEGER,                    -- declared total bytes; NULL while deferred (tus)
    chunk_size      INTEGER,                    -- bytes per part (chunked); NULL for tus
    "offset"        INTEGER NOT NULL DEFAULT 0, -- bytes received and committed ("offset" is a keyword)
    auto_process    INTEGER NOT NULL DEFAULT 0 CHECK (auto_process IN (0, 1)), -- queue when complete
    upload_metadata TEXT,                       -- the tus Upload-Metadata header as received
    lock_token      TEXT,                       -- the request holding the upload's lock, if any
    lock_expires_at INTEGER,                    -- when that lock lapses; a lapsed lock is free
    expires_at      INTEGER NOT NULL,           -- an unfinished upload is removed after this time
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    -- A lock is a token with a lease: both or neither.
    CHECK ((lock_token IS NULL) = (lock_expires_at IS NULL))
);
CREATE INDEX uploads_expires_at ON uploads (expires_at);

CREATE TABLE upload_parts (
    upload_id   TEXT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,               -- from 1: a chunked part, or a tus segment in append order
    size        INTEGER NOT NULL,               -- bytes
    etag        TEXT NOT NULL,                  -- quoted hex MD5 of the bytes, as S3 gives a part's ETag
    storage_key TEXT NOT NULL,                  -- blob key of the bytes
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
