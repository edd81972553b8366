"""Error categories of representative log lines."""

from __future__ import annotations

import pytest

from vigil.analysis.log_categories import ErrorCategory, categorise, is_error_line


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
        # Access logs: the status after the request.
        ('1.2.3.4 - - [x] "GET /api/orders HTTP/1.1" 502 157 "-" "curl"', ErrorCategory.DEPENDENCY),
        ('1.2.3.4 - - [x] "GET /api/orders HTTP/1.1" 504 167 "-" "curl"', ErrorCategory.TIMEOUT),
        ('1.2.3.4 - - [x] "POST /login HTTP/1.1" 401 0 "-" "curl"', ErrorCategory.AUTH),
        ('1.2.3.4 - - [x] "GET /api/v1/certificates HTTP/1.1" 200 512', ErrorCategory.NONE),
        # Postgres, Java, Python, Go, Kubernetes.
        ('FATAL:  no pg_hba.conf entry for host "10.0.0.5", user "app"', ErrorCategory.AUTH),
        ("FATAL:  sorry, too many clients already", ErrorCategory.CONNECTION),
        ("AccessDeniedException: Access is denied", ErrorCategory.AUTH),
        ("io.jsonwebtoken.ExpiredJwtException: JWT expired at 2024-05-01", ErrorCategory.AUTH),
        ("rpc error: code = PermissionDenied desc = caller lacks role", ErrorCategory.AUTH),
        ("rpc error: code = Unauthenticated desc = invalid token", ErrorCategory.AUTH),
        ("Error 111 connecting to redis:6379. Connection refused.", ErrorCategory.CONNECTION),
        ("Connection to db:5432 refused. Check the host name", ErrorCategory.CONNECTION),
        ("Failed to initialize pool: Communications link failure", ErrorCategory.CONNECTION),
        (
            "http: TLS handshake error from 10.0.0.9:4123: tls: bad certificate",
            ErrorCategory.CERTIFICATE,
        ),
        ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", ErrorCategory.CERTIFICATE),
        ('could not translate host name "db" to address', ErrorCategory.DNS),
        # Settings and routine lines that only look like failures.
        ("GET https://10.96.0.1/api/v1/pods?timeout=32s 200 OK in 12 ms", ErrorCategory.NONE),
        ('level=info msg="config loaded" read_timeout=30s', ErrorCategory.NONE),
        ("HikariConfig : connectionTimeout.........30000", ErrorCategory.NONE),
        ('cert-manager "msg"="issuing certificate" "resource_name"="web-tls"', ErrorCategory.NONE),
        ('level=info msg="Certificate valid" expires_in=720h', ErrorCategory.NONE),
        ('level=info msg="connection closed by client" remote=10.0.0.3', ErrorCategory.NONE),
        ('{"level":"info","status":200,"bytes":401,"code":"ok"}', ErrorCategory.NONE),
        ("Caused by: java.net.SocketTimeoutException: null", ErrorCategory.TIMEOUT),
        ("asyncio.exceptions.TimeoutError", ErrorCategory.TIMEOUT),
        ("upstream timeouts while reading response header", ErrorCategory.TIMEOUT),
        ('INFO starting http client {"timeout": 30, "retries": 3}', ErrorCategory.NONE),
        ("INFO config loaded: timeout: 5s, pool: 10", ErrorCategory.NONE),
    ],
)
def test_representative_lines(line: str, category: ErrorCategory) -> None:
    assert categorise(line) is category


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("2026-01-01 12:00:00 ERROR o.a.Pool - pool exhausted", True),
        ('level=error msg="flush failed"', True),
        ('{"level":"error","msg":"flush failed"}', True),
        ("2026/01/01 12:00:00 [error] 12#0: *1 connect() failed", True),
        ("E0501 12:00:00.000001 1 reflector.go:138] watch failed", True),
        ("java.lang.IllegalStateException: pool closed", True),
        ("Traceback (most recent call last):", True),
        ("panic: runtime error: index out of range", True),
        ("INFO no errors found in 12 files", False),
        ("GET /api/errors 200", False),
        ("metrics error_count=0 ok", False),
        ("INFO request done hasError=false in 12ms", False),
        ('INFO {"msg":"ok","lastError":null}', False),
        ("INFO retry policy onError=retry maxAttempts=3", False),
        ("redis.exceptions.ConnectionError: Error 111", True),
    ],
)
def test_error_lines_by_level_or_shape(line: str, error: bool) -> None:
    assert is_error_line(line) is error


def test_only_the_start_of_a_long_line_is_looked_at() -> None:
    """The phrases are near the start; looking at 4 KiB at most bounds the patterns' work
    on a megabyte of upstream chatter (they backtrack on repeated words)."""
    assert categorise("x" * 4000 + " connection refused") is ErrorCategory.CONNECTION
    assert categorise("downstream " * 100_000 + "connection refused") is ErrorCategory.NONE
    assert not is_error_line("downstream " * 100_000 + "ERROR")


def test_categories_are_plain_strings() -> None:
    assert ErrorCategory.OUT_OF_MEMORY.value == "out_of_memory"
    assert str(ErrorCategory.DNS) == "dns"
    assert {c.value for c in ErrorCategory} >= {"dns", "auth", "disk", "certificate", "none"}
