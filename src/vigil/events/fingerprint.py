"""Stable fingerprints (identity of an alert) and ingest ids (identity of one delivery)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

__all__ = ["VOLATILE_LABELS", "fingerprint_labels", "ingest_id"]

# Labels that change between notifications of the same alert and so must not
# take part in its identity.
VOLATILE_LABELS = frozenset({"value", "timestamp", "__value__", "description", "summary"})


def fingerprint_labels(labels: Mapping[str, str], *, ignore: Iterable[str] = ()) -> str:
    """Hash the sorted identity labels into a 16-hex-digit fingerprint.

    Order of the mapping does not matter; volatile labels and `ignore` are left out.
    """
    skip = VOLATILE_LABELS.union(ignore)
    digest = hashlib.sha256()
    for key in sorted(labels):
        if key in skip:
            continue
        digest.update(key.encode())
        digest.update(b"\x00")
        digest.update(str(labels[key]).encode())
        digest.update(b"\x01")
    return digest.hexdigest()[:16]


def ingest_id(source: str, fingerprint: str, status: str, occurrence: str) -> str:
    """Identity of one occurrence: a redelivered payload yields the same id again.

    `occurrence` is whatever the vendor uses to tell notifications apart (an event id,
    or the start/end time of the alert state).
    """
    digest = hashlib.sha256("\x00".join((source, fingerprint, status, occurrence)).encode())
    return digest.hexdigest()[:32]
