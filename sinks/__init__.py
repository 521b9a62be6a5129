"""SQLite: schema migrations, snapshot writers and readers of the app database."""
