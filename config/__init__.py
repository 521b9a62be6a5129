"""Settings: the default `app.toml`, a user file, and `KUKURI_*` environment overrides."""

from config.settings import ConfigError, Settings, load_settings

__all__ = ["ConfigError", "Settings", "load_settings"]
