"""Durable records: the writeback outbox and the append-only audit trail (SQLAlchemy 2)."""
