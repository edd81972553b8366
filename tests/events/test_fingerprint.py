"""Fingerprints (identity of an alert) and ingest ids (identity of one delivery)."""

from __future__ import annotations

import pytest

from vigil.events import VOLATILE_LABELS, fingerprint_labels, ingest_id

LABELS = {"alertname": "HighErrorRatio", "service": "checkout", "severity": "critical"}


def test_fingerprint_is_16_hex_digits_and_stable() -> None:
    fp = fingerprint_labels(LABELS)
    assert len(fp) == 16
    int(fp, 16)
    assert fingerprint_labels(dict(LABELS)) == fp


def test_fingerprint_ignores_label_order() -> None:
    reordered = dict(reversed(list(LABELS.items())))
    assert list(reordered) != list(LABELS)
    assert fingerprint_labels(reordered) == fingerprint_labels(LABELS)


@pytest.mark.parametrize("volatile", sorted(VOLATILE_LABELS))
def test_fingerprint_ignores_volatile_labels(volatile: str) -> None:
    assert fingerprint_labels({**LABELS, volatile: "0.93"}) == fingerprint_labels(LABELS)


def test_fingerprint_ignores_named_labels() -> None:
    with_pod = {**LABELS, "pod": "checkout-7d9f"}
    assert fingerprint_labels(with_pod) != fingerprint_labels(LABELS)
    assert fingerprint_labels(with_pod, ignore=["pod"]) == fingerprint_labels(LABELS)


def test_fingerprint_tells_identities_apart() -> None:
    assert fingerprint_labels({**LABELS, "service": "cart"}) != fingerprint_labels(LABELS)
    # Keys and values are delimited: moving characters between them changes the identity.
    assert fingerprint_labels({"ab": "c"}) != fingerprint_labels({"a": "bc"})
    assert fingerprint_labels({"a": "b", "c": "d"}) != fingerprint_labels({"a": "bc", "": "d"})


def test_ingest_id_is_stable_and_32_hex_digits() -> None:
    first = ingest_id("alertmanager", "24173005caa50803", "firing", "2026-11-21T11:51:29Z|")
    again = ingest_id("alertmanager", "24173005caa50803", "firing", "2026-11-21T11:51:29Z|")
    assert first == again
    assert len(first) == 32
    int(first, 16)


@pytest.mark.parametrize(
    "changed",
    [
        ("grafana", "24173005caa50803", "firing", "2026-11-21T11:51:29Z|"),
        ("alertmanager", "24173005caa50804", "firing", "2026-11-21T11:51:29Z|"),
        ("alertmanager", "24173005caa50803", "resolved", "2026-11-21T11:51:29Z|"),
        ("alertmanager", "24173005caa50803", "firing", "2026-11-21T11:52:29Z|"),
    ],
)
def test_ingest_id_changes_with_each_part(changed: tuple[str, str, str, str]) -> None:
    base = ingest_id("alertmanager", "24173005caa50803", "firing", "2026-11-21T11:51:29Z|")
    assert ingest_id(*changed) != base
