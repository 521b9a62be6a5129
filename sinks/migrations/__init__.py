"""Numbered SQL migrations, applied in order by `sinks.migrate`."""
