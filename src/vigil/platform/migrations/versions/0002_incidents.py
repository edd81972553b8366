"""Incidents: incidents, member alerts, timeline, grouping feedback.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(1024), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(2), nullable=False),
        sa.Column("services", _JSON, nullable=False),
        sa.Column("alert_count", sa.Integer, nullable=False),
        sa.Column("opener_event_id", sa.String(26), nullable=False),
        sa.Column("detected_at", _TS, nullable=False),
        sa.Column("acknowledged_at", _TS),
        sa.Column("mitigated_at", _TS),
        sa.Column("resolved_at", _TS),
        sa.Column("learned_at", _TS),
        sa.Column("last_activity_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("reopened", sa.Integer, nullable=False),
        sa.Column("merged_into", sa.String(26)),
    )
    op.create_index("ix_incidents_tenant_state", "incidents", ["tenant_id", "state"])
    op.create_index("ix_incidents_tenant_detected", "incidents", ["tenant_id", "detected_at"])
    op.create_table(
        "incident_members",
        sa.Column("incident_id", sa.String(26), primary_key=True),
        sa.Column("event_id", sa.String(26), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("family", sa.String(32), nullable=False),
        sa.Column("service", sa.String(255)),
        sa.Column("group_key", sa.Text),
        sa.Column("change_keys", _JSON, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(2), nullable=False),
        sa.Column("firing", sa.Boolean, nullable=False),
        sa.Column("attached_at", _TS, nullable=False),
        sa.Column("reason_kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_incident_members_event", "incident_members", ["tenant_id", "event_id"])
    op.create_index(
        "ix_incident_members_started", "incident_members", ["incident_id", "attached_at"]
    )
    op.create_table(
        "incident_timeline",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.String(26), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("data", _JSON, nullable=False),
    )
    op.create_index(
        "ix_incident_timeline_incident", "incident_timeline", ["incident_id", "at", "id"]
    )
    op.create_table(
        "incident_feedback",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.String(26), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_incident_feedback_tenant", "incident_feedback", ["tenant_id", "created_at"])


def downgrade() -> None:
    for table in ("incident_feedback", "incident_timeline", "incident_members", "incidents"):
        op.drop_table(table)
