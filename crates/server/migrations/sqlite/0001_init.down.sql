-- Undo 0001_init: drop the catalog (every file's row, job and result; the blobs stay in the store).
DROP TABLE results;
DROP TABLE jobs;
DROP TABLE files;
