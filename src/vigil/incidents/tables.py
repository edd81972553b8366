"""Tables of incidents: the incidents, their member alerts, timelines and feedback."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from vigil.platform.db import JSONType, UTCDateTime, metadata

__all__ = [
    "HAS_CHANGES",
    "incident_feedback",
    "incident_members",
    "incident_timeline",
    "incidents",
    "indexed_group_key",
]

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
    # The incidents resolved lately (an alert of theirs may arrive after the end).
    sa.Index("ix_incidents_tenant_resolved", "tenant_id", "resolved_at"),
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

# A group key is unbounded text and a Postgres b-tree entry must fit in a third of a page:
# Postgres indexes its first characters (SQLite has no such limit and indexes all of it).
GROUP_PREFIX = 256


def indexed_group_key(key: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """A group key as Postgres indexes it; the length is spelt out, not a parameter, so that
    a query's expression is the index's."""
    return sa.func.left(key, sa.literal_column(str(GROUP_PREFIX)))


# Members that carry a deploy, commit or trace id, per dialect: a query must spell this
# as the partial index below does for the index to serve it.
HAS_CHANGES = {
    "sqlite": "json_array_length(change_keys) > 0",
    "postgresql": "jsonb_array_length(change_keys) > 0",
}


def _lookup_indexes(m: sa.Table) -> None:
    """The indexes of correlation's per-batch lookups (see lookup.py): recent members on a
    key, members still firing on a key (`firing` is a column too so that SQLite answers
    from the index alone), the latest members carrying a change."""
    c = m.c

    def recent(name: str, key: sa.ColumnElement[Any]) -> sa.Index:
        return sa.Index(
            f"ix_incident_members_{name}_recent", c.tenant_id, key, c.attached_at, c.incident_id
        )

    def firing(name: str, key: sa.ColumnElement[Any]) -> sa.Index:
        return sa.Index(
            f"ix_incident_members_{name}_firing",
            c.tenant_id,
            key,
            c.incident_id,
            c.attached_at,
            c.firing,
            sqlite_where=sa.text("firing = 1"),
            postgresql_where=sa.text("firing"),
        )

    recent("service", c.service)
    recent("family", c.family)
    firing("family", c.family)
    for dialect, group in (("sqlite", c.group_key), ("postgresql", indexed_group_key(c.group_key))):
        recent("group", group).ddl_if(dialect=dialect)
        firing("group", group).ddl_if(dialect=dialect)
    sa.Index(
        "ix_incident_members_changes",
        c.tenant_id,
        c.attached_at,
        sqlite_where=sa.text(HAS_CHANGES["sqlite"]),
        postgresql_where=sa.text(HAS_CHANGES["postgresql"]),
    )


_lookup_indexes(incident_members)

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
