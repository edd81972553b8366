"""Map evidence to families and classify a service's fault kind from the pattern.

Families group evidence by what it says about a fault *inside* the service:

* ``cpu`` / ``memory``: a CPU / memory usage metric rose;
* ``network``: the time between caller and callee rose (edge gap, trace parent-child gap);
* ``latency``: the service's own self time rose (traces);
* ``error``: error/warning log templates or span errors rose;
* ``code``: fewer calls per request to a dependency, or a log line stopped following
  the line that usually precedes it (a broken code path);
* ``log``: a log template became rarer (non-error templates that become *more* frequent,
  and calls that become more frequent, are load and count as ``symptom``);
* ``symptom``: anything else that moved (latency percentiles, throughput, syscalls, ...),
  which callers of a faulty service show as well.

The kind follows the family with the highest score: cpu -> ``cpu``, memory -> ``memory``,
network -> ``network_delay``. For code defects (error, code, log) the pattern decides:
new error lines of the service that name an exception (``exception``, ``traceback``,
``panic``) mean ``exception``; new error lines naming none while its usual lines or calls
go missing mean it carried on with a bad value and reported it itself (``return``); lines
going missing without any report of its own mean the path aborted (``exception``, which
the framework turns into a failed response).

Resource kinds need the resource to run out. When a percentage-of-limit metric tells
(``headroom_used``, see :mod:`metric_evidence`), a rise that took at least
``SATURATION`` of the headroom is exhaustion, and a service whose strongest local family
is a timing one (an exhausted CPU slows every call into it) gets the resource kind even
when the rise was modest in sigmas (a noisy baseline at 77 % that hits 100 %). A rise
that leaves headroom is not a resource fault: it is dropped from the kind decision, and
if nothing else is left the service is busy with a defect (``exception``: handling
exceptions allocates and burns CPU). Without a percentage metric the rules below apply
to the scores alone.

Another rule sits on top: a saturated CPU or memory slows every call into the service
too, so when the strongest family is a timing one (network, latency, cpu, memory) and resource
evidence is at least ``RESOURCE_SHARE`` of the network evidence, the kind is the
resource. CPU stress also allocates memory, so ``memory`` is claimed only when it is
more than ``MEMORY_DOMINANCE`` times the CPU evidence. Self time alone (``latency``)
without resource evidence reads as a delay.
"""

from __future__ import annotations

import re
from typing import Literal

from vigil.analysis.evidence import Evidence
from vigil.analysis.metric_evidence import HEADROOM_USED

__all__ = ["FAULT_KINDS", "SYMPTOM", "FaultKind", "classify", "family_of", "headroom"]

FaultKind = Literal["cpu", "memory", "network_delay", "exception", "return", "unknown"]
FAULT_KINDS: tuple[FaultKind, ...] = ("cpu", "memory", "network_delay", "exception", "return")
SYMPTOM = "symptom"
RESOURCE_SHARE = 0.5
# A resource counts as exhausted when a rise took more than half of its headroom.
SATURATION = 0.5
RESOURCES = ("cpu", "memory")
_TIMING = frozenset({"cpu", "memory", "network", "latency"})
# An error line counts as the service naming an exception from this strength on.
NOTICE_SIGMA = 3.0
MEMORY_DOMINANCE = 2.0

_DEFECT_FAMILIES = frozenset({"error", "code", "log"})
# Words with which runtimes report an exception (Java/Python/Go/JS), any case.
_EXCEPTION = re.compile(r"exception|traceback|panic|uncaught", re.IGNORECASE)
_FAMILY_KIND: dict[str, FaultKind] = {
    "cpu": "cpu",
    "memory": "memory",
    "network": "network_delay",
}


def _metric_family(item: Evidence) -> str:
    name = item.signal.lower()
    if item.direction == "up" and "cpu" in name:
        return "cpu"
    if item.direction == "up" and "mem" in name:
        return "memory"
    return SYMPTOM


def family_of(item: Evidence) -> str:
    """The family an evidence item belongs to."""
    if item.kind == "metric_anomaly":
        return _metric_family(item)
    if item.kind == "network_latency":
        return "network" if item.direction == "up" else SYMPTOM
    if item.kind == "trace_latency":
        return "latency"
    if item.kind in ("error_rate", "error_log"):
        return "error"
    if item.direction == "up":
        # A defect stops work (lines and calls go missing); more of the usual work is load.
        return SYMPTOM
    if item.kind == "log_pattern":
        return "code" if item.signal.startswith("missing after") else "log"
    return "code"


def _resource_kind(local: dict[str, float]) -> FaultKind | None:
    cpu, memory = local.get("cpu", 0.0), local.get("memory", 0.0)
    resource = max(cpu, memory)
    if resource <= 0 or resource < RESOURCE_SHARE * local.get("network", 0.0):
        return None
    return "memory" if memory > MEMORY_DOMINANCE * cpu else "cpu"


def headroom(items: list[Evidence]) -> dict[str, float]:
    """Per resource family: the largest share of headroom a rise consumed, in [0, 1]
    (families without a percentage-of-limit metric are absent)."""
    used: dict[str, float] = {}
    for item in items:
        share = item.details.get(HEADROOM_USED)
        family = family_of(item)
        if isinstance(share, float | int) and family in RESOURCES:
            used[family] = max(used.get(family, 0.0), min(max(float(share), 0.0), 1.0))
    return used


def classify(
    items: list[Evidence], scores: dict[str, float], used: dict[str, float] | None = None
) -> FaultKind:
    """The fault kind implied by a service's family scores (see module docstring);
    ``used`` is :func:`headroom` of ``items`` when the caller has it already."""
    local = {f: v for f, v in scores.items() if f != SYMPTOM and v > 0}
    used = headroom(items) if used is None else used
    state = {f: used[f] >= SATURATION if f in used else None for f in RESOURCES}
    busy = any(local.pop(f, 0.0) > 0 for f in RESOURCES if state[f] is False)
    full = [f for f in RESOURCES if state[f]]
    if full and (not local or max(local, key=lambda f: local[f]) in _TIMING):
        return _FAMILY_KIND[full[0]]
    if not local:
        # A process working harder without starving (and nothing else) is busy with a
        # defect: handling exceptions allocates and burns CPU.
        return "exception" if busy else "unknown"
    strongest = max(sorted(local), key=lambda f: local[f])
    resource = _resource_kind(local)
    if resource is not None and strongest in _TIMING:
        return resource
    if strongest == "latency":
        return "network_delay"
    if strongest in _DEFECT_FAMILIES:
        return _defect_kind(items, local)
    return _FAMILY_KIND.get(strongest, "unknown")


def _defect_kind(items: list[Evidence], local: dict[str, float]) -> FaultKind:
    """Exception when the service's own error lines name one, or when its code path
    stops without it reporting anything; a wrong return when it carries on and reports
    the bad result itself (new error lines that name no exception, lines going missing)."""
    named = any(
        family_of(e) == "error" and e.strength >= NOTICE_SIGMA and _EXCEPTION.search(e.signal)
        for e in items
    )
    if named:
        return "exception"
    reports = local.get("error", 0.0) > 0
    stops = local.get("code", 0.0) > 0 or local.get("log", 0.0) > 0
    return "return" if reports and stops else "exception"
