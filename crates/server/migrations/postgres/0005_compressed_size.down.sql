-- Undo 0005_compressed_size: files no longer record a compressed size (compressed originals
-- still read: their objects describe themselves).
ALTER TABLE files DROP COLUMN compressed_size;
