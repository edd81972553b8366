"""Per-source webhook authentication: bearer token, or the vendor's HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from vigil.platform.settings import WebhookAuth

__all__ = ["sign", "signer", "verify"]


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signer(auth: WebhookAuth) -> hmac.HMAC | None:
    """For an HMAC source, a hash to feed the whole body as it streams in (so that one
    over the size limit is still judged by its real signature); else None."""
    if auth.mode != "hmac" or auth.secret is None:
        return None
    return hmac.new(auth.secret.get_secret_value().encode(), digestmod=hashlib.sha256)


def _bearer(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return headers.get("x-vigil-token") or query.get("token")


def _signatures(headers: Mapping[str, str]) -> list[str]:
    """Candidate signatures: PagerDuty v3 sends `v1=<hex>[,v1=<hex>]` (several while a
    secret rotates); others `sha256=<hex>` in `X-Vigil-Signature` or `X-Hub-Signature-256`."""
    found: list[str] = []
    for part in headers.get("x-pagerduty-signature", "").split(","):
        version, _, digest = part.strip().partition("=")
        if version == "v1" and digest:
            found.append(digest)
    for name in ("x-vigil-signature", "x-hub-signature-256"):
        algo, _, digest = headers.get(name, "").partition("=")
        if algo == "sha256" and digest:
            found.append(digest)
    return found


def verify(
    auth: WebhookAuth,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: bytes = b"",
    *,
    digest: str | None = None,
) -> bool:
    """True when the request carries the credential `auth` asks for (constant-time). An
    HMAC source's signature is checked against `digest` (the body's, from `signer`) when
    given, else against `body`. Header values are compared as bytes: one with non-ASCII
    characters is simply wrong."""
    if auth.mode == "none":
        return True
    if auth.mode == "bearer":
        assert auth.token is not None
        given = _bearer(headers, query)
        return given is not None and hmac.compare_digest(
            given.encode(), auth.token.get_secret_value().encode()
        )
    assert auth.secret is not None
    expected = (digest or sign(auth.secret.get_secret_value(), body)).encode()
    return any(
        hmac.compare_digest(expected, given.lower().encode()) for given in _signatures(headers)
    )
