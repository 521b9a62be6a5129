-- Score profiles (docs/scoring.md). Every run records the active profile and its fingerprint, so
-- `score_change` compares only scores of the same profile parameters (NULL: a run from before
-- profiles, written with the built-in default). kukuri's own columns of trending_runs stay as they are.
ALTER TABLE trending_runs ADD COLUMN score_profile TEXT;
ALTER TABLE trending_runs ADD COLUMN score_fingerprint TEXT;

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
    PRIMARY KEY (topic_id, window_end, profile)
);
CREATE INDEX IF NOT EXISTS idx_topic_profile_scores_rank ON topic_profile_scores (window_end, profile, rank);
CREATE INDEX IF NOT EXISTS idx_topic_profile_scores_fingerprint ON topic_profile_scores (window_end, fingerprint);

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
);
