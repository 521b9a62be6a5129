"""The one home of the SQL on kukuri-trending's own tables.

`topic_metrics`, `topic_window_metrics`, `trending_runs`, snapshot parts, staging and positions
(`snapshot_positions`, `partition_lineage`), `materialize_acks` (`snapshots`, writes; `reads`, reads), `topic_metrics_history` (`history`),
`trending_workers` (`workers`) and `schema_migrations` (`schema`). Everything else (agents, the
CLI, the API, the reconciliation) calls these functions instead of writing SQL on these tables,
and every write transaction goes through `sql.transaction`. kukuri's own tables are read by
`appdb`, never here.
"""
