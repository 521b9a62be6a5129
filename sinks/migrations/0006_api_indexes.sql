-- The read API's trending order (docs/api.md: score_24h DESC, score_6h DESC, posts_24h DESC,
-- topic_id ASC) within one snapshot. With it the top of a 100k-topic snapshot is an index range
-- scan instead of a sort of every row; score changes are primary-key lookups and need nothing new.
CREATE INDEX IF NOT EXISTS idx_topic_metrics_rank
    ON topic_metrics (window_end, score_24h DESC, score_6h DESC, posts_24h DESC, topic_id);
