"""Event models, window math, metric definitions and window state (pure logic, no I/O but the store)."""
