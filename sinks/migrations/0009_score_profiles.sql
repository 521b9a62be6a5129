-- Score profiles (docs/scoring.md). Every run records the active profile and its fingerprint, so
-- `score_change` compares only scores of the same profile parameters (NULL: a run from before
-- profiles), and the shadow profiles stored with it as JSON {profile: fingerprint}, so a reader knows
-- which fingerprints a snapshot holds without scanning its scores. kukuri's own columns of
-- trending_runs stay as they are.
ALTER TABLE trending_runs ADD COLUMN score_profile TEXT;
ALTER TABLE trending_runs ADD COLUMN score_fingerprint TEXT;
ALTER TABLE trending_runs ADD COLUMN score_shadows TEXT;

-- Each staged part records what it was computed with: its active profile and, as JSON
-- {profile: fingerprint}, every profile it computed. Parts that disagree on the active profile are
-- never promoted into one snapshot.
ALTER TABLE snapshot_parts ADD COLUMN score_profile TEXT;
ALTER TABLE snapshot_parts ADD COLUMN score_fingerprints TEXT;

-- The shadow profiles' scores, computed with every snapshot from the same state, in the same
-- transaction. `rank` is global (1-based, the read API's order); NULL when the profile does not rank
-- the topic (`min_authors`). Expired with topic_metrics.
CREATE TABLE IF NOT EXISTS topic_profile_scores (
    topic_id TEXT NOT NULL,
    window_end INTEGER NOT NULL,
    profile TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    score_24h REAL NOT NULL,
    score_6h REAL NOT NULL,
    ranked INTEGER NOT NULL,
    rank INTEGER,
    -- One row per (topic_id, window_end, profile), clustered by snapshot and profile: a snapshot's
    -- rows are written, read and expired together.
    PRIMARY KEY (window_end, profile, topic_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_topic_profile_scores_rank ON topic_profile_scores (window_end, profile, rank);

-- One worker's part of the shadow scores, before promotion (as topic_metrics_staging).
CREATE TABLE IF NOT EXISTS topic_profile_scores_staging (
    window_end INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    topic_id TEXT NOT NULL,
    profile TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    score_24h REAL NOT NULL,
    score_6h REAL NOT NULL,
    ranked INTEGER NOT NULL,
    PRIMARY KEY (window_end, partition, profile, topic_id)
) WITHOUT ROWID;
