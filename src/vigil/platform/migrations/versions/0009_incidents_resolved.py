"""Incidents by when they resolved: an alert that started before an incident's end may
arrive after it, and correlation looks up the incidents resolved since then.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_tenant_resolved", "incidents", ["tenant_id", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_tenant_resolved", table_name="incidents")
