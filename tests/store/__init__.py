"""Store tests: every behaviour on SQLite and PostgreSQL."""
