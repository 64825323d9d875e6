-- Bytes of an original stored zstd-compressed (storage.compression; see blob::compress), shown
-- as storage_info.compressed_size. NULL when the original is stored as it came, and for files
-- stored before this migration.
ALTER TABLE files ADD COLUMN compressed_size INTEGER;
