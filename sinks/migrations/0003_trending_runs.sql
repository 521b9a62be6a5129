-- One row per committed snapshot, also an empty one, so freshness is known when nothing is active.
CREATE TABLE IF NOT EXISTS trending_runs (
    window_end INTEGER PRIMARY KEY,
    source TEXT NOT NULL CHECK (source IN ('stream', 'reconcile', 'backfill')),
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    topics_upserted INTEGER NOT NULL DEFAULT 0,
    expired_records INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_trending_runs_finished_at ON trending_runs (finished_at);

CREATE TABLE IF NOT EXISTS topic_metrics_history (
    topic_id TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    posts_24h INTEGER NOT NULL DEFAULT 0,
    posts_6h INTEGER NOT NULL DEFAULT 0,
    unique_authors INTEGER NOT NULL DEFAULT 0,
    boosts INTEGER NOT NULL DEFAULT 0,
    replies INTEGER NOT NULL DEFAULT 0,
    bookmarks INTEGER NOT NULL DEFAULT 0,
    participant_delta INTEGER NOT NULL DEFAULT 0,
    score_24h REAL NOT NULL DEFAULT 0,
    score_6h REAL NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    unique_authors_6h INTEGER NOT NULL DEFAULT 0,
    boosts_6h INTEGER NOT NULL DEFAULT 0,
    replies_6h INTEGER NOT NULL DEFAULT 0,
    bookmarks_6h INTEGER NOT NULL DEFAULT 0,
    participants_24h INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL CHECK (source IN ('stream', 'reconcile', 'backfill')),
    run_at INTEGER NOT NULL,
    PRIMARY KEY (topic_id, window_end, source)
);
CREATE INDEX IF NOT EXISTS idx_topic_metrics_history_window_end ON topic_metrics_history (window_end);
