-- kukuri's own tables, as the app defines them (docs/metrics.md, "The app database"). kukuri-trending never alters them in a real deployment; this
-- file exists so the demo (`run`), `produce --app-db` and the tests can stand in for the app.
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    content TEXT,
    kind INTEGER NOT NULL,
    tags TEXT DEFAULT '[]',
    created_at INTEGER NOT NULL,
    deleted INTEGER DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_events_created_at ON events (created_at);
CREATE INDEX IF NOT EXISTS idx_events_kind ON events (kind);
CREATE TABLE IF NOT EXISTS event_topics (
    event_id TEXT,
    topic_id TEXT,
    PRIMARY KEY (event_id, topic_id)
);
CREATE INDEX IF NOT EXISTS idx_event_topics_topic ON event_topics (topic_id);
CREATE TABLE IF NOT EXISTS topics (
    topic_id TEXT PRIMARY KEY,
    name TEXT UNIQUE,
    description TEXT,
    created_at INTEGER,
    updated_at INTEGER,
    member_count INTEGER DEFAULT 0,
    post_count INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS bookmarks (
    id TEXT PRIMARY KEY,
    user_pubkey TEXT,
    post_id TEXT,
    created_at INTEGER,
    UNIQUE (user_pubkey, post_id)
);
