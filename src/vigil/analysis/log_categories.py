"""Error categories of log lines (out of memory, connection, timeout, DNS, auth, ...).

Each category is a family of case-insensitive regular expressions over the phrases that
runtimes, libraries and proxies print (JVM, Go, Python, glibc errno texts, Envoy,
nginx, Kubernetes). Families are tried in a fixed order, most specific first, so
``dial tcp: lookup db on 10.0.0.10:53: no such host`` is DNS rather than connection,
``x509: certificate has expired`` is certificate rather than auth, and ``connection timed
out`` is timeout rather than connection. HTTP status codes count only next to ``status``,
``code`` or ``HTTP``, so a port or a byte count of 401 is not an auth failure. A line
matching no family is ``none``.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = ["CATEGORY_PATTERNS", "ErrorCategory", "categorise", "is_error_line"]

_MAX_TEXT = 4096  # characters of a line looked at


class ErrorCategory(StrEnum):
    """What kind of failure a log line reports."""

    OUT_OF_MEMORY = "out_of_memory"
    DISK = "disk"
    CERTIFICATE = "certificate"
    DNS = "dns"
    AUTH = "auth"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    DEPENDENCY = "dependency"
    NONE = "none"


# An HTTP status, next to ``status``/``code``/``HTTP`` or after an access log's request
# (``"GET / HTTP/1.1" 502``), not any number (a port or a byte count of 401 is no status).
_STATUS = r"(?:(?:status|code|HTTP)\D{0,12}|HTTP/[\d.]+\"?\s+)"

CATEGORY_PATTERNS: dict[ErrorCategory, tuple[str, ...]] = {
    ErrorCategory.OUT_OF_MEMORY: (
        r"out of memory",
        r"OutOfMemory(Error|Exception)?",
        r"\bOOM(Killed| ?killer|-kill)?\b",
        r"cannot allocate memory",
        r"memory allocation failed",
        r"\bMemoryError\b",
        r"std::bad_alloc",
        r"GC overhead limit exceeded",
        r"heap space",
    ),
    ErrorCategory.DISK: (
        r"no space left on device",
        r"disk (is )?full",
        r"disk quota exceeded",
        r"\bENOSPC\b",
        r"read-only file ?system",
        r"\bI/O error\b",
        r"input/output error",
        r"filesystem (is )?full",
    ),
    ErrorCategory.CERTIFICATE: (
        # The word alone is no failure (``GET /api/certificates``, "issuing certificate").
        r"certificate.{0,40}\b(expired|revoked|invalid|unknown|mismatch|not (yet )?valid"
        r"|not trusted|verify failed|verification failed|error|has expired)",
        r"\b(bad|invalid|expired|untrusted|unknown|self[- ]signed) certificate",
        r"CERTIFICATE_VERIFY_FAILED",
        r"\bx509\b",
        r"\bPKIX\b",
        r"SSL routines",
        r"\bSSLHandshakeException\b",
        r"TLS handshake (error|failed|timeout)",
        r"unable to get local issuer",
    ),
    ErrorCategory.DNS: (
        r"no such host",
        r"name or service not known",
        r"temporary failure in name resolution",
        r"\bUnknownHostException\b",
        r"could not resolve( host)?",
        r"could not translate host name",
        r"\bNXDOMAIN\b",
        r"\bgetaddrinfo\b.*\bfail",
        r"\bEAI_AGAIN\b",
        r"\bENOTFOUND\b",
        r"DNS (resolution|lookup) (failed|error)",
    ),
    ErrorCategory.AUTH: (
        r"\bunauthori[sz]ed\b",
        r"\bunauthenticated\b",
        r"\bforbidden\b",
        rf"{_STATUS}\b40[13]\b",
        r"authentication (failure|failed|error)",
        r"invalid (credentials|password|token|api key)",
        r"(token|credentials|password|jwt) (has |is )?expired",
        r"ExpiredJwtException",
        r"access (is )?denied",
        r"\bAccessDeniedException\b",
        r"permission ?denied",
        r"failed password",
        r"\bnot authori[sz]ed\b",
        r"no pg_hba\.conf entry",
        r"unable to locate credentials",
        r"NoCredentialsError",
    ),
    ErrorCategory.TIMEOUT: (
        # A word, not a setting: ``?timeout=5s``, ``read_timeout=30s``, ``connectionTimeout``.
        r"\btimed? ?outs?\b(?!\"?\s*[=:]\s*\"?\d)",
        r"Timeout(Exception|Error)\b",
        r"deadline exceeded",
        r"DeadlineExceeded",
        r"\bETIMEDOUT\b",
        rf"{_STATUS}\b504\b",
        r"took too long",
    ),
    ErrorCategory.CONNECTION: (
        r"connection refused",
        r"connection to \S+.{0,60}\brefused",
        r"\bECONNREFUSED\b",
        r"connection reset",
        r"\bECONNRESET\b",
        r"broken pipe",
        r"(network|host) is unreachable",
        r"no route to host",
        r"connection (aborted|lost)",
        r"connection closed (unexpectedly|by (remote|peer|server|upstream|foreign))",
        r"\bConnectException\b",
        r"communications link failure",
        r"failed to (connect|establish a new connection)",
        r"could not connect",
        r"unable to connect",
        r"too many (clients|connections)",
        r"connection slots are reserved",
    ),
    ErrorCategory.DEPENDENCY: (
        r"service unavailable",
        rf"{_STATUS}\b50[023]\b",
        r"bad gateway",
        r"upstream (connect )?error",
        r"no (healthy|live) upstreams?",
        r"circuit ?breaker",
        r"\bupstream\b.*\b(fail|unavailable|error)",
        r"(dependency|downstream) .*(fail|unavailable|error)",
        r"code = Unavailable",
    ),
}

_COMPILED = tuple(
    (category, re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE))
    for category, patterns in CATEGORY_PATTERNS.items()
)


# Lines a logger marks as errors (its level), or that report a failure by their shape.
_ERROR_LINE = re.compile(
    r"\b(?:ERROR|ERR|FATAL|CRITICAL|CRIT|SEVERE|PANIC|EMERG)\b"
    r"|\blevel[=:]\s*\"?(?:error|fatal|critical|panic)\b"
    r"|\"(?:level|severity)\"\s*:\s*\"(?:error|fatal|critical|panic)\""
    r"|\[(?:error|crit|alert|emerg)\]"
    r"|^[EF]\d{4} "  # klog
    r"|\b[A-Z]\w*(?:Exception|Error)\b(?!\s*=)|Traceback \(most recent call last\)"
    r"|^panic: ",
)


def is_error_line(text: str) -> bool:
    """Whether the line is an error by its level or shape (``ERROR``, ``level=error``,
    ``[error]``, klog's ``E0501``, an exception or traceback), whatever its category."""
    return _ERROR_LINE.search(text[:_MAX_TEXT]) is not None


def categorise(text: str) -> ErrorCategory:
    """The first category (in :class:`ErrorCategory` order) whose patterns match ``text``."""
    text = text[:_MAX_TEXT]  # the phrases are near the start; bounds the regex work
    for category, regex in _COMPILED:
        if regex.search(text):
            return category
    return ErrorCategory.NONE
