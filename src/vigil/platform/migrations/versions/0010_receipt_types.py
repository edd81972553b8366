"""Receipts say what kind of event they took in, and are found by when: the statistics
count the alerts that arrived in a window without looking up every event.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipts") as batch:
        batch.add_column(sa.Column("event_type", sa.String(16)))
    op.execute(
        "UPDATE receipts SET event_type ="
        " (SELECT events.event_type FROM events WHERE events.id = receipts.event_id)"
    )
    op.create_index("ix_receipts_tenant_received", "receipts", ["tenant_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_receipts_tenant_received", table_name="receipts")
    with op.batch_alter_table("receipts") as batch:
        batch.drop_column("event_type")
