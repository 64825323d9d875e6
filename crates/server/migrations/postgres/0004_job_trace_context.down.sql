-- Undo 0004_job_trace_context: jobs no longer remember the trace that queued them.
ALTER TABLE jobs DROP COLUMN trace_context;
