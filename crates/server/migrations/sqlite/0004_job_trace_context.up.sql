-- The W3C trace context (`traceparent`, https://www.w3.org/TR/trace-context/) of the request that
-- queued a job, so the job's span joins that request's trace (see `telemetry`). NULL when traces
-- are not exported, or for jobs queued before this migration.
ALTER TABLE jobs ADD COLUMN trace_context TEXT;
