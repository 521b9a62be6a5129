"""Event producers: synthetic kukuri traffic and JSON-lines files, sent to Kafka."""
