-- Undo 0003_virus_scan: scan outcomes are forgotten. Quarantined files stay quarantined (their
-- status and error say so), but no longer show their threats.
ALTER TABLE files DROP COLUMN virus_scan;
