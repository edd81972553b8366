"""Muted events: an index of the alerts a silence or maintenance window muted that still
fire, looked over when the silence ends.

Revision ID: 0008
Revises: 0007
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_WHERE = (
    "silenced_by IS NOT NULL AND status = 'firing'"
    " AND event_type IN ('alert', 'anomaly', 'incident')"
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    where: dict[str, Any] = {f"{dialect}_where": sa.text(_WHERE)}
    op.create_index("ix_events_muted_firing", "events", ["id"], **where)


def downgrade() -> None:
    op.drop_index("ix_events_muted_firing", table_name="events")
