"""Detection: what each detector learned, its cursor and what it has raised.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "detector_states",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("watch", sa.String(255), nullable=False),
        sa.Column("labels", _JSON, nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_detector_states_tenant_kind", "detector_states", ["tenant_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_detector_states_tenant_kind", table_name="detector_states")
    op.drop_table("detector_states")
