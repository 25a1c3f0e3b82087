-- A daemon's liveness on the database's clock: beat_at is written with now() every few
-- seconds while the daemon runs (during long cycles too), beat_interval_ms says how
-- often. A daemon silent for three of its intervals (at least 15 s) is dead to the
-- others, which take its jobs over at once instead of waiting out the lease.
ALTER TABLE lora_ops.daemon_heartbeats ADD COLUMN IF NOT EXISTS beat_at timestamptz;
ALTER TABLE lora_ops.daemon_heartbeats ADD COLUMN IF NOT EXISTS beat_interval_ms integer;

-- Lease renewal and takeover look jobs up by their holder.
CREATE INDEX IF NOT EXISTS training_jobs_claimed_by_idx ON training_jobs (claimed_by) WHERE status IN ('initializing', 'running');
