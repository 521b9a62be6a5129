"""Faust agents, timers and the ingest service: wiring between Kafka, the window state and the sinks."""
