"""The Prometheus alerting rules behind the generated alert corpus: names, texts, queries.

Which rule fires depends on what went wrong where: a fault kind picks the alerts on the
failing service itself, the layer of a hurt caller picks its symptoms, and a separate
set of everyday low-severity rules makes the background noise.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.testing.service_graph import Layer

__all__ = ["FAULT_KINDS", "NOISE_RULES", "RULES", "SYMPTOM_RULES", "AlertRule"]


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule; `{service}` in the texts and the query is filled per alert."""

    summary: str
    expr: str
    unit: str = ""

    def annotations(self, service: str, pod: str, value: float) -> dict[str, str]:
        summary = self.summary.format(service=service)
        return {
            "summary": summary,
            "description": f"{summary} on {pod} (current value {value:.3g}{self.unit}).",
            "runbook_url": f"https://runbooks.example.com/alerts/{service}",
        }

    def query(self, service: str) -> str:
        return self.expr.format(service=service)


_RATE = 'sum(rate(http_requests_total{{service="{service}"'
RULES: dict[str, AlertRule] = {
    # On the failing service itself.
    "DiskFillingUp": AlertRule(
        "{service}: disk will fill within 4 hours",
        'predict_linear(node_filesystem_avail_bytes{{service="{service}"}}[6h], 4*3600) < 0',
        " bytes",
    ),
    "PersistentVolumeFillingUp": AlertRule(
        "{service}: persistent volume above 90%",
        'kubelet_volume_stats_used_bytes{{service="{service}"}} / '
        'kubelet_volume_stats_capacity_bytes{{service="{service}"}} > 0.9',
    ),
    "TooManyConnections": AlertRule(
        "{service}: connections above 90% of max",
        'sum(db_connections{{service="{service}"}}) / max(db_max_connections) > 0.9',
    ),
    "SlowQueries": AlertRule(
        "{service}: p95 query time above 800ms",
        'histogram_quantile(0.95, rate(db_query_seconds_bucket{{service="{service}"}}[5m])) > 0.8',
        "s",
    ),
    "ReplicationLagHigh": AlertRule(
        "{service}: replica lag above 30s",
        'db_replication_lag_seconds{{service="{service}"}} > 30',
        "s",
    ),
    "PodCrashLooping": AlertRule(
        "{service}: pod is crash looping",
        'rate(kube_pod_container_status_restarts_total{{service="{service}"}}[15m]) > 0',
    ),
    "KubeDeploymentReplicasMismatch": AlertRule(
        "{service}: deployment has not matched the expected number of replicas",
        'kube_deployment_status_replicas_available{{deployment="{service}"}} < '
        'kube_deployment_spec_replicas{{deployment="{service}"}}',
    ),
    "ContainerMemoryNearLimit": AlertRule(
        "{service}: container memory above 95% of its limit",
        'container_memory_working_set_bytes{{service="{service}"}} / '
        'container_spec_memory_limit_bytes{{service="{service}"}} > 0.95',
    ),
    "ContainerOOMKilled": AlertRule(
        "{service}: container was OOM killed",
        'kube_pod_container_status_last_terminated_reason{{reason="OOMKilled",'
        'service="{service}"}} == 1',
    ),
    "CPUThrottlingHigh": AlertRule(
        "{service}: CPU throttled above 50%",
        'rate(container_cpu_cfs_throttled_periods_total{{service="{service}"}}[5m]) > 0.5',
    ),
    "ThreadPoolSaturated": AlertRule(
        "{service}: worker pool saturated",
        'executor_active_threads{{service="{service}"}} / executor_pool_max_threads >= 1',
    ),
    # Symptoms on callers.
    "HighLatencyP99": AlertRule(
        "{service}: p99 latency above 2s",
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket"
        '{{service="{service}"}}[5m]))) > 2',
        "s",
    ),
    "HighErrorRatio": AlertRule(
        "{service}: error ratio above 5%",
        _RATE + ',code=~"5.."}}[5m])) / ' + _RATE + "}}[5m])) > 0.05",
    ),
    "UpstreamTimeouts": AlertRule(
        "{service}: timeouts calling upstream services above 2%",
        'sum(rate(upstream_request_timeouts_total{{service="{service}"}}[5m])) > 1',
        "/s",
    ),
    "CircuitBreakerOpen": AlertRule(
        "{service}: circuit breaker open to a dependency",
        'max(circuit_breaker_state{{service="{service}",state="open"}}) == 1',
    ),
    "RetryRateHigh": AlertRule(
        "{service}: client retries above 10%",
        'sum(rate(client_retries_total{{service="{service}"}}[5m])) > 5',
        "/s",
    ),
    "Frontend5xx": AlertRule(
        "{service}: 5xx ratio above 2%",
        _RATE + ',code=~"5.."}}[5m])) / ' + _RATE + "}}[5m])) > 0.02",
    ),
    "SLOErrorBudgetBurn": AlertRule(
        "{service}: error budget burning 14x too fast",
        'slo:error_budget_burn_rate:1h{{service="{service}"}} > 14.4',
    ),
    "ApdexLow": AlertRule("{service}: Apdex below 0.8", 'apdex_score{{service="{service}"}} < 0.8'),
    # Everyday noise.
    "KubePodNotReady": AlertRule(
        "{service}: pod not ready for 5 minutes",
        'kube_pod_status_ready{{condition="false",service="{service}"}} == 1',
    ),
    "ContainerRestarted": AlertRule(
        "{service}: container restarted",
        'increase(kube_pod_container_status_restarts_total{{service="{service}"}}[10m]) > 0',
    ),
    "HighGCPauseTime": AlertRule(
        "{service}: GC pauses above 200ms",
        'rate(jvm_gc_pause_seconds_sum{{service="{service}"}}[5m]) > 0.2',
        "s",
    ),
    "CertificateExpiringSoon": AlertRule(
        "{service}: TLS certificate expires within 14 days",
        'probe_ssl_earliest_cert_expiry{{service="{service}"}} - time() < 14*86400',
        "s",
    ),
    "KubeJobFailed": AlertRule(
        "{service}: a cron job failed",
        'kube_job_status_failed{{service="{service}"}} > 0',
    ),
    "HighMemoryUsage": AlertRule(
        "{service}: memory usage above 80%",
        'container_memory_working_set_bytes{{service="{service}"}} / '
        'container_spec_memory_limit_bytes{{service="{service}"}} > 0.8',
    ),
    "LogErrorsSpike": AlertRule(
        "{service}: error log lines above baseline",
        'sum(rate(log_lines_total{{service="{service}",level="error"}}[5m])) > 2',
        "/s",
    ),
}

# Fault kind -> (alerts on the failing service, layers where the fault happens).
FAULT_KINDS: dict[str, tuple[tuple[str, ...], tuple[Layer, ...]]] = {
    "disk_full": (("DiskFillingUp", "PersistentVolumeFillingUp"), ("datastore",)),
    "connection_exhaustion": (("TooManyConnections", "SlowQueries"), ("datastore",)),
    "replication_lag": (("ReplicationLagHigh", "SlowQueries"), ("datastore",)),
    "crash_loop": (
        ("PodCrashLooping", "KubeDeploymentReplicasMismatch"),
        ("frontend", "api", "backend"),
    ),
    "memory_leak": (("ContainerMemoryNearLimit", "ContainerOOMKilled"), ("api", "backend")),
    "bad_deploy": (("HighErrorRatio", "HighLatencyP99"), ("frontend", "api", "backend")),
    "cpu_saturation": (("CPUThrottlingHigh", "HighLatencyP99"), ("api", "backend")),
    "thread_pool_exhaustion": (("ThreadPoolSaturated", "UpstreamTimeouts"), ("backend",)),
}

# What a caller of a failing service alerts on, by the caller's layer (datastores call no one).
SYMPTOM_RULES: dict[Layer, tuple[str, ...]] = {
    "frontend": ("Frontend5xx", "HighLatencyP99", "SLOErrorBudgetBurn", "ApdexLow"),
    "api": ("HighLatencyP99", "HighErrorRatio", "UpstreamTimeouts", "CircuitBreakerOpen"),
    "backend": ("HighLatencyP99", "HighErrorRatio", "UpstreamTimeouts", "RetryRateHigh"),
}

NOISE_RULES: tuple[str, ...] = (
    "KubePodNotReady",
    "ContainerRestarted",
    "HighGCPauseTime",
    "CertificateExpiringSoon",
    "KubeJobFailed",
    "HighMemoryUsage",
    "LogErrorsSpike",
    "CPUThrottlingHigh",
    "HighLatencyP99",
)
