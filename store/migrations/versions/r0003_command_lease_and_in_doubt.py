"""Commands record who runs them and when that worker last showed it is alive, and since when a write is in doubt.

`runner` and `heartbeat_at`: a running command whose worker stopped beating is handed back within seconds.
`in_doubt_since`: SAP may have applied the write (timeout, dropped connection); it is not re-sent before
SAP has been asked. All nullable, no backfill: older commands have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("writeback_commands", sa.Column("runner", sa.String(255), nullable=True))
    op.add_column("writeback_commands", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("writeback_commands", sa.Column("in_doubt_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("writeback_commands") as batch:  # SQLite: rebuilds the table
        batch.drop_column("in_doubt_since")
        batch.drop_column("heartbeat_at")
        batch.drop_column("runner")
