"""Error categories of representative log lines."""

from __future__ import annotations

import pytest

from vigil.analysis.log_categories import ErrorCategory, categorise


@pytest.mark.parametrize(
    ("line", "category"),
    [
        ("java.lang.OutOfMemoryError: Java heap space", ErrorCategory.OUT_OF_MEMORY),
        ("Memory cgroup out of memory: Killed process 4242 (java)", ErrorCategory.OUT_OF_MEMORY),
        ("container api was OOMKilled", ErrorCategory.OUT_OF_MEMORY),
        ("write /data/wal: no space left on device", ErrorCategory.DISK),
        ("EXT4-fs error: remounting filesystem read-only file system", ErrorCategory.DISK),
        ("x509: certificate has expired or is not yet valid", ErrorCategory.CERTIFICATE),
        (
            "PKIX path building failed: unable to find valid certification path",
            ErrorCategory.CERTIFICATE,
        ),
        ("dial tcp: lookup db.prod on 10.0.0.10:53: no such host", ErrorCategory.DNS),
        ("java.net.UnknownHostException: payments", ErrorCategory.DNS),
        ("Temporary failure in name resolution", ErrorCategory.DNS),
        ("authentication failure; logname= uid=0 rhost=1.2.3.4", ErrorCategory.AUTH),
        ("POST /api/orders returned status 401", ErrorCategory.AUTH),
        ("Failed password for invalid user admin from 1.2.3.4 port 22 ssh2", ErrorCategory.AUTH),
        ("context deadline exceeded while calling inventory", ErrorCategory.TIMEOUT),
        ("connect to 10.0.0.5:5432 timed out", ErrorCategory.TIMEOUT),
        ("dial tcp 10.0.0.5:5432: connect: connection refused", ErrorCategory.CONNECTION),
        ("read tcp: connection reset by peer", ErrorCategory.CONNECTION),
        ("upstream connect error or disconnect/reset before headers", ErrorCategory.DEPENDENCY),
        ("GET http://cart/api returned HTTP 503 Service Unavailable", ErrorCategory.DEPENDENCY),
        ("circuit breaker 'payments' is OPEN", ErrorCategory.DEPENDENCY),
        ("PacketResponder 1 for block blk_38865049064139660 terminating", ErrorCategory.NONE),
        ("sent 401 bytes to port 503", ErrorCategory.NONE),
    ],
)
def test_representative_lines(line: str, category: ErrorCategory) -> None:
    assert categorise(line) is category


def test_categories_are_plain_strings() -> None:
    assert ErrorCategory.OUT_OF_MEMORY.value == "out_of_memory"
    assert str(ErrorCategory.DNS) == "dns"
    assert {c.value for c in ErrorCategory} >= {"dns", "auth", "disk", "certificate", "none"}
