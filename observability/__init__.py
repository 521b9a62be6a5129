"""Operability: Prometheus metrics and their HTTP endpoint, JSON logs, webhook alerts."""
