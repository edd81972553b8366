"""Tables of incidents: the incidents, their member alerts, timelines and feedback."""

from __future__ import annotations

import sqlalchemy as sa

from vigil.platform.db import JSONType, UTCDateTime, metadata

__all__ = ["incident_feedback", "incident_members", "incident_timeline", "incidents"]

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("title", sa.String(1024), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(2), nullable=False),
    # Denormalised for listing; the members are the truth.
    sa.Column("services", JSONType, nullable=False),
    sa.Column("alert_count", sa.Integer, nullable=False),
    sa.Column("opener_event_id", sa.String(26), nullable=False),
    sa.Column("detected_at", UTCDateTime, nullable=False),
    sa.Column("acknowledged_at", UTCDateTime),
    sa.Column("mitigated_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("learned_at", UTCDateTime),
    sa.Column("last_activity_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("reopened", sa.Integer, nullable=False),
    sa.Column("merged_into", sa.String(26)),
    sa.Index("ix_incidents_tenant_state", "tenant_id", "state"),
    sa.Index("ix_incidents_tenant_detected", "tenant_id", "detected_at"),
)

# The alerts (stored events) of an incident, each with why it was grouped.
incident_members = sa.Table(
    "incident_members",
    metadata,
    sa.Column("incident_id", sa.String(26), primary_key=True),
    sa.Column("event_id", sa.String(26), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.String(128), nullable=False),
    sa.Column("family", sa.String(32), nullable=False),
    sa.Column("service", sa.String(255)),
    sa.Column("group_key", sa.Text),
    sa.Column("change_keys", JSONType, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(2), nullable=False),
    sa.Column("firing", sa.Boolean, nullable=False),
    sa.Column("attached_at", UTCDateTime, nullable=False),
    sa.Column("reason_kind", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Index("ix_incident_members_event", "tenant_id", "event_id"),
    sa.Index("ix_incident_members_started", "incident_id", "attached_at"),
)

incident_timeline = sa.Table(
    "incident_timeline",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("incident_id", sa.String(26), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("data", JSONType, nullable=False),
    sa.Index("ix_incident_timeline_incident", "incident_id", "at", "id"),
)

# A person's corrections of the grouping (merge, split), kept for learning.
incident_feedback = sa.Table(
    "incident_feedback",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("incident_id", sa.String(26), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("data", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_incident_feedback_tenant", "tenant_id", "created_at"),
)
