-- `materialize` waits for its own request, not for any run of the same boundary: each worker
-- acknowledges the partitions it wrote for request R in the transaction that wrote them.
CREATE TABLE IF NOT EXISTS materialize_acks (
    request_id TEXT NOT NULL,
    partition INTEGER NOT NULL,
    window_end INTEGER NOT NULL,
    acked_at INTEGER NOT NULL,
    PRIMARY KEY (request_id, partition)
);
CREATE INDEX IF NOT EXISTS idx_materialize_acks_window_end ON materialize_acks (window_end);
