-- The snapshot job's failure streak and its open incident, shared by every worker and kept across
-- restarts: a worker that fails, exits and is restarted by its supervisor still reaches the alert
-- threshold, and an incident is announced (and closed) once, whichever worker sees it.
CREATE TABLE IF NOT EXISTS job_failures (
    job TEXT PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    incident_started_at INTEGER,
    last_error TEXT,
    updated_at INTEGER NOT NULL
);
