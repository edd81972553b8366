"""Webhook credentials: bearer token (header, X-Vigil-Token or ?token=) and HMAC signatures."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from vigil.interfaces.api.webhook_auth import sign, signer, verify
from vigil.platform.settings import WebhookAuth

BODY = b'{"event": {"id": "01DEN2JSBXHHMSBD52WEGMM9X3"}}'
BEARER = WebhookAuth(mode="bearer", token="s3cret")
HMAC = WebhookAuth(mode="hmac", secret="pd-secret")
GOOD = hmac.new(b"pd-secret", BODY, hashlib.sha256).hexdigest()


def test_sign_is_hmac_sha256_hex() -> None:
    assert sign("pd-secret", BODY) == GOOD


def test_none_lets_everything_in() -> None:
    assert verify(WebhookAuth(), {}, {}, BODY)


@pytest.mark.parametrize(
    ("headers", "query", "ok"),
    [
        ({"authorization": "Bearer s3cret"}, {}, True),
        ({"authorization": "bearer s3cret"}, {}, True),
        ({"x-vigil-token": "s3cret"}, {}, True),
        ({}, {"token": "s3cret"}, True),
        ({}, {}, False),
        ({"authorization": "Bearer s3cre"}, {}, False),
        ({"authorization": "Bearer s3cret2"}, {}, False),
        ({"authorization": "Basic s3cret"}, {}, False),
        ({"authorization": "Bearer "}, {}, False),
    ],
)
def test_bearer(headers: dict[str, str], query: dict[str, str], ok: bool) -> None:
    assert verify(BEARER, headers, query, BODY) is ok


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"x-pagerduty-signature": f"v1={GOOD}"}, True),
        ({"x-pagerduty-signature": f"v1={GOOD.upper()}"}, True),
        ({"x-pagerduty-signature": f"v1={'0' * 64}, v1={GOOD}"}, True),
        ({"x-pagerduty-signature": f"v0={GOOD}"}, False),
        ({"x-pagerduty-signature": "v1="}, False),
        ({"x-pagerduty-signature": f"v1={'0' * 64}"}, False),
        ({"x-vigil-signature": f"sha256={GOOD}"}, True),
        ({"x-hub-signature-256": f"sha256={GOOD}"}, True),
        ({"x-hub-signature-256": f"sha1={GOOD}"}, False),
        ({"authorization": "Bearer pd-secret"}, False),
        ({}, False),
    ],
)
def test_hmac(headers: dict[str, str], ok: bool) -> None:
    assert verify(HMAC, headers, {}, BODY) is ok


def test_hmac_covers_the_exact_body() -> None:
    assert not verify(HMAC, {"x-pagerduty-signature": f"v1={GOOD}"}, {}, BODY + b"\n")


def test_a_signature_with_non_ascii_characters_is_wrong_not_an_error() -> None:
    assert not verify(HMAC, {"x-pagerduty-signature": "v1=\xe9\xe9"}, {}, BODY)
    assert not verify(HMAC, {"x-vigil-signature": "sha256=\xff"}, {}, BODY)


def test_a_digest_taken_while_streaming_is_checked_like_the_body() -> None:
    streamed = signer(HMAC)
    assert streamed is not None
    for part in (BODY[:10], BODY[10:]):
        streamed.update(part)
    headers = {"x-pagerduty-signature": f"v1={GOOD}"}
    assert verify(HMAC, headers, {}, digest=streamed.hexdigest())
    assert signer(BEARER) is None
