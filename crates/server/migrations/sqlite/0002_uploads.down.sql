-- Undo 0002_uploads: uploads in progress are forgotten, and their files (still `uploading`) with
-- them; their pieces stay in the store under each file's `upload/` prefix.
DROP TABLE upload_parts;
DROP TABLE uploads;
DELETE FROM files WHERE status = 'uploading';
