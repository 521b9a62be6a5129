"""Readers of kukuri's own tables (the app database): they only ever read, on read-only connections."""
