"""Incident lookups: indexes for correlation's per-batch reads of incident members.

Revision ID: 0007
Revises: 0006
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_FIRING = {"sqlite": "firing = 1", "postgresql": "firing"}
_CHANGES = {
    "sqlite": "json_array_length(change_keys) > 0",
    "postgresql": "jsonb_array_length(change_keys) > 0",
}


def _indexes(dialect: str) -> list[tuple[str, list[Any], dict[str, Any]]]:
    """Recent members on a key, members still firing on a key (`firing` is a column too
    so that SQLite answers from the index alone), the latest members carrying a change."""
    # A group key is unbounded text and a Postgres b-tree entry must fit in a third of a
    # page: Postgres indexes its first 256 characters (at most 1 KiB).
    group = sa.text("left(group_key, 256)") if dialect == "postgresql" else "group_key"
    firing = {f"{dialect}_where": sa.text(_FIRING[dialect])}
    changes = {f"{dialect}_where": sa.text(_CHANGES[dialect])}
    return [
        ("service_recent", ["tenant_id", "service", "attached_at", "incident_id"], {}),
        ("family_recent", ["tenant_id", "family", "attached_at", "incident_id"], {}),
        ("group_recent", ["tenant_id", group, "attached_at", "incident_id"], {}),
        ("family_firing", ["tenant_id", "family", "incident_id", "attached_at", "firing"], firing),
        ("group_firing", ["tenant_id", group, "incident_id", "attached_at", "firing"], firing),
        ("changes", ["tenant_id", "attached_at"], changes),
    ]


def upgrade() -> None:
    for name, columns, options in _indexes(op.get_bind().dialect.name):
        op.create_index(f"ix_incident_members_{name}", "incident_members", columns, **options)


def downgrade() -> None:
    for name, _columns, _options in _indexes(op.get_bind().dialect.name):
        op.drop_index(f"ix_incident_members_{name}", table_name="incident_members")
