"""Tables of the detection service: each detector's learned state, cursor and alarms."""

from __future__ import annotations

import sqlalchemy as sa

from vigil.platform.db import JSONType, UTCDateTime, metadata

__all__ = ["detector_states"]

# One row per tracked thing: a metric series, a forecast series, a log watch, or a
# watch's read cursor. `state` is the JSON the detector saved (it continues from it).
detector_states = sa.Table(
    "detector_states",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("watch", sa.String(255), nullable=False),
    sa.Column("labels", JSONType, nullable=False),
    sa.Column("state", JSONType, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_detector_states_tenant_kind", "tenant_id", "kind"),
)
