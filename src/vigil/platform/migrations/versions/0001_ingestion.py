"""Ingestion pipeline: intake, events, receipts, dead letters, silences.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "intake",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("request_key", sa.String(64), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("headers", _JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("processed_at", _TS),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("tenant_id", "source", "request_key", name="uq_intake_request"),
    )
    op.create_index("ix_intake_state_id", "intake", ["state", "id"])
    op.create_table(
        "events",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("first_seen", _TS, nullable=False),
        sa.Column("last_seen", _TS, nullable=False),
        sa.Column("resolved_at", _TS),
        sa.Column("service", sa.String(255)),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(2), nullable=False),
        sa.Column("title", sa.String(1024), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("entity", _JSON, nullable=False),
        sa.Column("labels", _JSON, nullable=False),
        sa.Column("correlation_ids", _JSON, nullable=False),
        sa.Column("enrichment", _JSON, nullable=False),
        sa.Column("raw", _JSON, nullable=False),
        sa.Column("ingest_id", sa.String(128), nullable=False),
        sa.Column("last_ingest_id", sa.String(128), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("flaps", sa.Integer, nullable=False),
        sa.Column("silenced_by", sa.String(255)),
    )
    op.create_index(
        "ix_events_tenant_fingerprint", "events", ["tenant_id", "fingerprint", "last_seen"]
    )
    op.create_index("ix_events_tenant_last_seen", "events", ["tenant_id", "last_seen"])
    op.create_index("ix_events_tenant_service", "events", ["tenant_id", "service"])
    op.create_table(
        "receipts",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("ingest_id", sa.String(128), primary_key=True),
        sa.Column("event_id", sa.String(26), nullable=False),
        sa.Column("intake_id", sa.String(26)),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("field", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("headers", _JSON, nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("intake_id", sa.String(26)),
        sa.Column("replayed_at", _TS),
        sa.Column("replay_result", sa.Text),
    )
    op.create_index("ix_dead_letters_tenant_id", "dead_letters", ["tenant_id", "id"])
    op.create_table(
        "silences",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("matchers", _JSON, nullable=False),
        sa.Column("starts_at", _TS, nullable=False),
        sa.Column("ends_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_silences_tenant_ends", "silences", ["tenant_id", "ends_at"])


def downgrade() -> None:
    for table in ("silences", "dead_letters", "receipts", "events", "intake"):
        op.drop_table(table)
