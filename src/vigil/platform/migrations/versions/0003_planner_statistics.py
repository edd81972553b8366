"""Planner statistics and lookups: per-table autovacuum thresholds, intake by request key.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Postgres re-analyses a table after 10% of it changed and vacuums after 20% by default:
# at millions of rows the dedup and receipt lookups would plan on stale statistics for
# hours, and the intake outbox (every row updated once, pending -> done) would bloat.
# These tables grow and churn all day, so they are analysed and vacuumed far sooner.
_STORAGE = {
    "intake": {"autovacuum_vacuum_scale_factor": 0.02, "autovacuum_analyze_scale_factor": 0.02},
    "events": {"autovacuum_vacuum_scale_factor": 0.05, "autovacuum_analyze_scale_factor": 0.02},
    "receipts": {"autovacuum_analyze_scale_factor": 0.02},
    "incidents": {"autovacuum_vacuum_scale_factor": 0.05, "autovacuum_analyze_scale_factor": 0.02},
    "incident_members": {"autovacuum_analyze_scale_factor": 0.02},
    "incident_timeline": {"autovacuum_analyze_scale_factor": 0.02},
}
_THRESHOLD = 500


def upgrade() -> None:
    # The intake writer looks stored requests up by request key alone.
    op.create_index("ix_intake_request_key", "intake", ["request_key"])
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, params in _STORAGE.items():
        options = {**params, "autovacuum_analyze_threshold": _THRESHOLD}
        listed = ", ".join(f"{name} = {value}" for name, value in options.items())
        op.execute(sa.text(f"ALTER TABLE {table} SET ({listed})"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, params in _STORAGE.items():
            names = ", ".join([*params, "autovacuum_analyze_threshold"])
            op.execute(sa.text(f"ALTER TABLE {table} RESET ({names})"))
    op.drop_index("ix_intake_request_key", table_name="intake")
