"""The log pattern detector: new templates, rate shifts, categories, examples, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from vigil.analysis.log_categories import ErrorCategory
from vigil.analysis.log_patterns import DetectorSettings, DetectorState, LogPatternDetector
from vigil.analysis.log_rates import RateSettings
from vigil.analysis.log_templates import MinerSettings

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]


def _traffic(detector: LogPatternDetector, minutes: range, spike: bool = False) -> None:
    """Two services' usual lines; with ``spike`` the api logs many slow-query warnings."""
    rng = np.random.default_rng(minutes.start)
    for minute in minutes:
        start = T0 + timedelta(minutes=minute)
        for second in range(0, 60, 4):
            ts = start + timedelta(seconds=second)
            n = int(rng.integers(1, 10_000))
            detector.observe(ts, f"GET /api/orders/{n} 200 in {n % 90}ms", "api")
            user = USERS[n % len(USERS)]
            detector.observe(ts, f"session opened for user {user} by cron", "auth")
        detector.observe(start, f"slow query took {minute}ms on orders", "api")
        if spike:
            for second in range(0, 60, 5):
                detector.observe(
                    start + timedelta(seconds=second), "slow query took 9ms on orders", "api"
                )


def test_steady_traffic_gives_no_signal() -> None:
    detector = LogPatternDetector()
    _traffic(detector, range(0, 40))
    for minute in range(20, 40):
        assert detector.signals(T0 + timedelta(minutes=minute, seconds=59)) == []


def test_new_error_template_is_signalled_with_category_and_examples() -> None:
    detector = LogPatternDetector()
    _traffic(detector, range(0, 30))
    for second in range(3):
        ts = T0 + timedelta(minutes=29, seconds=10 + second)
        detector.observe(ts, f"dial tcp 10.0.0.{second}:5432: connect: connection refused", "api")
    (signal,) = detector.signals(T0 + timedelta(minutes=29, seconds=30))
    assert (signal.service, signal.kind) == ("api", "new_template")
    assert signal.template == "dial tcp <*>: connect: connection refused"
    assert signal.category is ErrorCategory.CONNECTION
    assert signal.window_count == 3
    assert signal.baseline_rate < 0.1
    assert signal.first_seen == T0 + timedelta(minutes=29, seconds=10)
    assert signal.examples[-1] == "dial tcp 10.0.0.2:5432: connect: connection refused"


def test_free_text_is_no_storm_of_new_templates() -> None:
    """Lines carrying free text (search terms) make new templates by the hundred; an odd
    line that is no error is not news, and errors are capped per service, errors first."""
    detector = LogPatternDetector()
    _traffic(detector, range(0, 30))
    words = "red blue green shoes boots jacket size small large kids women men winter summer"
    vocabulary = [*words.split(" "), "sale", "cheap", "leather", "cotton", "wool", "navy"]
    rng = np.random.default_rng(5)
    at = T0 + timedelta(minutes=29, seconds=10)
    for i in range(300):
        query = " ".join(rng.choice(vocabulary, size=int(rng.integers(1, 8))))
        detector.observe(at, f'INFO search q="{query}" results={i} took={i % 90}ms', "api")
    quiet = detector.signals(T0 + timedelta(minutes=29, seconds=30))
    # Only the shapes the miner generalised, each backed by many lines.
    assert len(quiet) <= 5
    assert all(s.window_count >= RateSettings().min_count for s in quiet)
    for _ in range(300):
        query = " ".join(rng.choice(vocabulary, size=int(rng.integers(1, 8))))
        detector.observe(at, f'ERROR search q="{query}" failed: no parse of {query}', "api")
    signals = detector.signals(T0 + timedelta(minutes=29, seconds=30))
    new = [s for s in signals if s.kind == "new_template"]
    assert len(new) == DetectorSettings().max_new
    assert all(s.erroneous for s in new)  # errors first


def test_one_new_error_line_is_news_one_new_info_line_is_not() -> None:
    detector = LogPatternDetector()
    _traffic(detector, range(0, 30))
    at = T0 + timedelta(minutes=29, seconds=10)
    detector.observe(at, "cache warmed with defaults", "api")
    detector.observe(at, "java.lang.IllegalStateException: pool closed", "api")
    (signal,) = detector.signals(T0 + timedelta(minutes=29, seconds=30))
    assert signal.template == "java.lang.IllegalStateException: pool closed"
    assert (signal.erroneous, signal.category) == (True, ErrorCategory.NONE)


def test_rate_increase_is_signalled_with_rates() -> None:
    detector = LogPatternDetector()
    _traffic(detector, range(0, 30))
    _traffic(detector, range(30, 35), spike=True)
    (signal,) = detector.signals(T0 + timedelta(minutes=34, seconds=59))
    assert (signal.service, signal.kind) == ("api", "rate_increase")
    assert signal.template == "slow query took <*> on orders"
    assert 0.8 < signal.baseline_rate < 1.2
    assert 10 < signal.window_rate < 15
    assert signal.ratio > 8
    assert len(signal.examples) == 3


def test_a_surge_of_5xx_in_an_access_log_is_signalled() -> None:
    """However many statuses a service answers with, a 5xx surge is its own template."""
    detector = LogPatternDetector()
    paths = ("/api/orders", "/api/cart", "/healthz")
    usual = (200, 201, 204, 304, 404, 200)
    for minute in range(70):
        for i in range(60):
            status = 502 if minute >= 65 and i % 2 else usual[i % len(usual)]
            line = (
                f'10.0.{i % 9}.{i % 250 + 1} - - [01/Jan/2026:00:00:00 +0000] "GET'
                f' {paths[i % 3]} HTTP/1.1" {status} {100 + 37 * i} "-" "curl/8.5"'
            )
            detector.observe(T0 + timedelta(minutes=minute, seconds=i), line, "web")
    signals = detector.signals(T0 + timedelta(minutes=70))
    (surge,) = [s for s in signals if s.template.endswith(" [5xx]")]
    assert surge.kind in ("new_template", "rate_increase")
    assert surge.category is ErrorCategory.DEPENDENCY  # from the lines: 502
    assert all(" 502 " in line for line in surge.examples)


def test_a_template_becoming_general_is_not_new() -> None:
    detector = LogPatternDetector(DetectorSettings(default=MinerSettings(max_constant_values=3)))
    for minute in range(30):  # three users only: the user word is still a constant
        ts = T0 + timedelta(minutes=minute)
        for user in USERS[:3]:
            detector.observe(ts, f"session opened for user {user} by cron", "auth")
    late = T0 + timedelta(minutes=30)
    for user in USERS[3:]:
        detector.observe(late, f"session opened for user {user} by cron", "auth")
    assert detector.signals(late + timedelta(seconds=30)) == []


def test_per_service_header_format() -> None:
    spark = MinerSettings(log_format="<Date> <Time> <Level> <Component>: <Content>")
    detector = LogPatternDetector(DetectorSettings(services={"spark": spark}))
    match = detector.observe(
        T0, "17/06/09 20:10:40 INFO spark.SecurityManager: Changing acls", "spark"
    )
    assert match.template == "Changing acls"
    other = detector.observe(T0, "17/06/09 20:10:40 INFO spark.SecurityManager: Changing acls", "x")
    assert other.template.startswith("<*>")


def test_snapshot_round_trip_gives_the_same_signals() -> None:
    detector = LogPatternDetector()
    _traffic(detector, range(0, 30))
    state = DetectorState.model_validate_json(detector.snapshot().model_dump_json())
    restored = LogPatternDetector.restore(state)
    for d in (detector, restored):
        _traffic(d, range(30, 35), spike=True)
    now = T0 + timedelta(minutes=34, seconds=59)
    assert restored.signals(now) == detector.signals(now)


def test_only_the_start_of_a_huge_line_is_kept() -> None:
    detector = LogPatternDetector()
    match = detector.observe(T0, "ERROR payload " + "x" * 2_000_000, "api")
    assert len(match.template) == DetectorSettings().max_line_chars
    assert len(detector.snapshot().model_dump_json()) < 50_000  # not megabytes of examples


def test_raised_new_templates_are_not_pushed_out_by_the_cap() -> None:
    detector = LogPatternDetector(DetectorSettings(max_new=2))
    _traffic(detector, range(0, 30))
    at = T0 + timedelta(minutes=29, seconds=10)
    for name, lines in (("alpha", 6), ("bravo", 7), ("charlie", 8)):
        for _ in range(lines):
            detector.observe(at, f"ERROR {name} pool drained", "api")
    now = T0 + timedelta(minutes=29, seconds=30)
    raised = detector.signals(now)
    first = {s.template for s in raised}
    assert first == {"ERROR charlie pool drained", "ERROR bravo pool drained"}
    for _ in range(20):
        detector.observe(at, "ERROR alpha pool drained", "api")
    keys = {s.template_key for s in raised}
    again = {s.template for s in detector.signals(now, raised=keys)}
    assert again == first  # alpha, now the busiest, waits for a free place
