"""Tables of the detection service: each detector's learned state, cursor and alarms, and
the lease that lets one process at a time run the passes."""

from __future__ import annotations

import sqlalchemy as sa

from vigil.platform.db import JSONType, UTCDateTime, metadata

__all__ = ["detection_leases", "detector_states"]

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

# One row per tenant: which process runs that tenant's passes, until when. `generation`
# grows each time the lease changes hands (a holder that sees it change lost the lease).
detection_leases = sa.Table(
    "detection_leases",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(255), nullable=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)
