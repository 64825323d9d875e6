-- The outcome of a file's virus scan (`security.virus_scanning`, see `scan`), as JSON text:
-- {"status": "clean" | "infected" | "not_scanned", "clean", "threats": [...], "scanned_at",
-- "scanner", "reason"?}. NULL for a file never scanned.
ALTER TABLE files ADD COLUMN virus_scan TEXT;
