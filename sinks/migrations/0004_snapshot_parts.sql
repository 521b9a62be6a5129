-- Several workers each own some partitions. Each stages its partitions' rows for boundary E; the
-- worker whose part completes the set promotes the staged rows into topic_metrics in the same
-- transaction, so readers never see a partial snapshot.
CREATE TABLE IF NOT EXISTS snapshot_parts (
    window_end INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    partitions INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    topics INTEGER NOT NULL,
    written_at INTEGER NOT NULL,
    PRIMARY KEY (window_end, partition)
);

CREATE TABLE IF NOT EXISTS topic_metrics_staging (
    partition INTEGER NOT NULL,
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
    PRIMARY KEY (window_end, partition, topic_id)
);

-- Extra configured windows (1h, 7d, ...): one row per topic, boundary and window.
CREATE TABLE IF NOT EXISTS topic_window_metrics (
    topic_id TEXT NOT NULL,
    window_end INTEGER NOT NULL,
    window TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    posts INTEGER NOT NULL DEFAULT 0,
    replies INTEGER NOT NULL DEFAULT 0,
    boosts INTEGER NOT NULL DEFAULT 0,
    bookmarks INTEGER NOT NULL DEFAULT 0,
    unique_authors INTEGER NOT NULL DEFAULT 0,
    participants INTEGER NOT NULL DEFAULT 0,
    score REAL NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    partition INTEGER NOT NULL DEFAULT -1,  -- the stream partition that owns the topic; -1 for batch writes
    PRIMARY KEY (window_end, window, topic_id)
);

-- Running workers announce themselves, so `materialize` can tell "no worker" from "slow worker".
CREATE TABLE IF NOT EXISTS trending_workers (
    worker_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    partitions TEXT NOT NULL DEFAULT '[]'
);
