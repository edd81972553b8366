"""Mapping of vendors' free-form labels and severities onto the canonical envelope."""

from __future__ import annotations

from collections.abc import Mapping

from vigil.events import Entity, Severity

__all__ = ["entity_from_labels", "severity_from_text"]

# Label names seen across Prometheus, Grafana, Datadog tags and Opsgenie details, in
# order of preference for each entity field.
_ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "cluster": ("cluster", "kube_cluster_name", "k8s_cluster"),
    "namespace": ("namespace", "kube_namespace", "k8s_namespace"),
    "service": ("service", "service_name", "app", "app_kubernetes_io_name", "application"),
    "pod": ("pod", "pod_name", "kube_pod_name"),
    "host": ("host", "hostname", "node", "nodename"),
    "container": ("container", "container_name", "kube_container_name"),
    "instance": ("instance",),
    "environment": ("env", "environment"),
    "region": ("region", "zone"),
}

_SEVERITY_WORDS: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "p1": Severity.CRITICAL,
    "high": Severity.ERROR,
    "error": Severity.ERROR,
    "err": Severity.ERROR,
    "major": Severity.ERROR,
    "p2": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "minor": Severity.WARNING,
    "medium": Severity.WARNING,
    "p3": Severity.WARNING,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "low": Severity.INFO,
    "none": Severity.INFO,
    "ok": Severity.INFO,
    "success": Severity.INFO,
    "p4": Severity.INFO,
    "p5": Severity.INFO,
}


def entity_from_labels(labels: Mapping[str, str], **known: str | None) -> Entity:
    """Build an Entity from labels; keyword arguments win over labels when not None."""
    fields: dict[str, str] = {}
    for field, keys in _ENTITY_KEYS.items():
        value = known.get(field)
        if value is None:
            for key in keys:
                value = labels.get(key)
                if value:
                    break
        if value:
            fields[field] = value
    return Entity(**fields)


def severity_from_text(text: str | None, default: Severity = Severity.WARNING) -> Severity:
    """Map a vendor's severity or priority word onto Severity (unknown -> `default`)."""
    if not text:
        return default
    return _SEVERITY_WORDS.get(text.strip().lower(), default)
