-- How far each partition's stream had been read when its part of boundary E was written: the
-- next Kafka offset the part reflects. A part is written only over an older position of the same
-- partition, so a writer whose state is behind (a worker replaying a partition it was just given,
-- a write delayed past a rebalance) never replaces newer numbers with older ones.
CREATE TABLE IF NOT EXISTS snapshot_positions (
    window_end INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    written_at INTEGER NOT NULL,
    PRIMARY KEY (window_end, partition)
) WITHOUT ROWID;

-- When a partition's log was found lost (a broker that restarted empty, a recreated topic), its
-- offsets start again from zero. Positions written before `since` belong to the old log and no
-- longer hold back writes of that partition.
CREATE TABLE IF NOT EXISTS partition_lineage (
    partition INTEGER PRIMARY KEY,
    since INTEGER NOT NULL
);
