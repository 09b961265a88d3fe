"""Storage: engine and session factories, tables, Alembic migrations."""
