"""Commands keep the W3C `traceparent` of the request that made them (optional OpenTelemetry tracing).

Nullable, no default and no backfill: older commands, and every command while tracing is off, have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Adding a nullable column is an in-place ALTER on both SQLite and PostgreSQL (no table rebuild).
    op.add_column("writeback_commands", sa.Column("traceparent", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("writeback_commands") as batch:  # SQLite: rebuilds the table
        batch.drop_column("traceparent")
