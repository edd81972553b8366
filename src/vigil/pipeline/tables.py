"""Tables of the ingestion pipeline: intake (durable outbox), events, receipts, dead letters."""

from __future__ import annotations

import sqlalchemy as sa

from vigil.platform.db import JSONType, UTCDateTime, metadata

__all__ = [
    "MUTED_FIRING",
    "bus_cursor",
    "bus_sequence",
    "dead_letters",
    "events",
    "intake",
    "receipts",
    "silences",
]

# Every raw webhook request, stored before the 2xx; `state` walks pending -> done.
intake = sa.Table(
    "intake",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("request_key", sa.String(64), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("headers", JSONType, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("processed_at", UTCDateTime),
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("tenant_id", "source", "request_key", name="uq_intake_request"),
    sa.Index("ix_intake_state_id", "state", "id"),
    # The intake writer finds what a batch stored (or found stored) by request key alone.
    sa.Index("ix_intake_request_key", "request_key"),
)

# What the muted-alerts index holds; queries repeat it word for word so that it is used.
MUTED_FIRING = (
    "silenced_by IS NOT NULL AND status = 'firing'"
    " AND event_type IN ('alert', 'anomaly', 'incident')"
)

# One row per distinct alert (fingerprint) per dedup window, updated by repeats.
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(16), nullable=False),
    sa.Column("fingerprint", sa.String(128), nullable=False),
    sa.Column("ts", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("service", sa.String(255)),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(2), nullable=False),
    sa.Column("title", sa.String(1024), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("entity", JSONType, nullable=False),
    sa.Column("labels", JSONType, nullable=False),
    sa.Column("correlation_ids", JSONType, nullable=False),
    sa.Column("enrichment", JSONType, nullable=False),
    sa.Column("raw", JSONType, nullable=False),
    sa.Column("ingest_id", sa.String(128), nullable=False),
    sa.Column("last_ingest_id", sa.String(128), nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("occurrences", sa.Integer, nullable=False),
    sa.Column("flaps", sa.Integer, nullable=False),
    sa.Column("silenced_by", sa.String(255)),
    sa.Index("ix_events_tenant_fingerprint", "tenant_id", "fingerprint", "last_seen"),
    sa.Index("ix_events_tenant_last_seen", "tenant_id", "last_seen"),
    sa.Index("ix_events_tenant_service", "tenant_id", "service"),
    # Muted alerts still firing: looked over when a silence or maintenance window ends.
    sa.Index(
        "ix_events_muted_firing",
        "id",
        sqlite_where=sa.text(MUTED_FIRING),
        postgresql_where=sa.text(MUTED_FIRING),
    ),
)

# Every ingest id ever accepted: the idempotency record that makes redelivery harmless.
receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("ingest_id", sa.String(128), primary_key=True),
    sa.Column("event_id", sa.String(26), nullable=False),
    sa.Column("intake_id", sa.String(26)),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("event_type", sa.String(16)),  # what the statistics count as alerts in
    sa.Index("ix_receipts_tenant_received", "tenant_id", "received_at"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("field", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("headers", JSONType, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("intake_id", sa.String(26)),
    sa.Column("replayed_at", UTCDateTime),
    sa.Column("replay_result", sa.Text),
    sa.Index("ix_dead_letters_tenant_id", "tenant_id", "id"),
)

silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("matchers", JSONType, nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_silences_tenant_ends", "tenant_id", "ends_at"),
)

# Intake that came over the bus, by the broker's stream sequence: workers store requests
# in parallel, and one at a time processes them in this order (`vigil.pipeline.ordering`).
# A row goes once the cursor has passed it; `intake_id` is None for an unreadable message.
bus_sequence = sa.Table(
    "bus_sequence",
    metadata,
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("intake_id", sa.String(26)),
    sa.Column("stored_at", UTCDateTime, nullable=False),
)

# How far each stream has been processed (every sequence up to `seq` is done or given up).
bus_cursor = sa.Table(
    "bus_cursor",
    metadata,
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)
