"""A seeded, layered microservice graph (frontends -> APIs -> backends -> datastores).

Calls only go from one layer to a deeper one, so the graph is a DAG by construction.
Every service below the frontends has at least one caller, so a failure anywhere can
cascade upwards. Pods, their IP addresses and namespaces are drawn here as well, so an
alert generator can label several instances per service.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from vigil.pipeline.catalog import ServiceCatalog, ServiceInfo

__all__ = ["Layer", "ServiceGraph", "build_service_graph"]

Layer = Literal["frontend", "api", "backend", "datastore"]
_LAYERS: tuple[Layer, ...] = ("frontend", "api", "backend", "datastore")

_NAMES: dict[Layer, tuple[str, ...]] = {
    "frontend": (
        "web-frontend",
        "mobile-bff",
        "admin-portal",
        "partner-gateway",
        "storefront-ssr",
        "checkout-web",
    ),
    "api": (
        "checkout-api",
        "cart-api",
        "catalog-api",
        "search-api",
        "account-api",
        "orders-api",
        "payments-api",
        "reviews-api",
        "shipping-api",
        "promotions-api",
        "notifications-api",
        "recommendations-api",
        "loyalty-api",
        "returns-api",
    ),
    "backend": (
        "payments",
        "fraud-detection",
        "inventory",
        "pricing",
        "order-processor",
        "fulfilment",
        "email-sender",
        "sms-sender",
        "ledger",
        "tax-calculator",
        "identity",
        "recommendation-engine",
        "search-indexer",
        "image-resizer",
        "loyalty-engine",
        "currency-converter",
        "shipping-rates",
        "feature-flags",
        "audit-writer",
        "session-manager",
    ),
    "datastore": (
        "postgres-orders",
        "postgres-payments",
        "postgres-accounts",
        "mysql-catalog",
        "redis-sessions",
        "redis-cart",
        "elasticsearch-search",
        "kafka-events",
        "rabbitmq-jobs",
        "mongodb-reviews",
        "cassandra-timeline",
        "memcached-catalog",
        "postgres-ledger",
        "redis-ratelimit",
        "kafka-audit",
        "minio-images",
    ),
}
_TEAMS: dict[Layer, tuple[str, ...]] = {
    "frontend": ("web", "mobile"),
    "api": ("checkout", "discovery", "accounts", "orders"),
    "backend": ("checkout", "discovery", "accounts", "orders", "platform"),
    "datastore": ("data-platform", "sre"),
}
_SAFE_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_PORTS: dict[Layer, int] = {"frontend": 3000, "api": 8080, "backend": 8080, "datastore": 9187}


@dataclass
class ServiceGraph:
    """The catalogue plus what alerts need to label instances: layer, namespace, pods."""

    catalog: ServiceCatalog
    layers: dict[str, Layer]
    namespaces: dict[str, str]
    rng: random.Random = field(repr=False)
    pods: dict[str, list[str]] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)  # pod -> "ip:port"
    _replica_sets: dict[str, str] = field(default_factory=dict)

    def callers(self, service: str) -> list[str]:
        """Services whose dependencies include `service` (who is hurt when it fails)."""
        return sorted(s.name for s in self.catalog.services if service in s.dependencies)

    def new_pod(self, service: str) -> str:
        """A fresh pod of `service` (a rollout or a rescheduled replica), with its address."""
        pods = self.pods[service]
        if self.layers[service] == "datastore":  # a StatefulSet: stable ordinal names
            pod = f"{service}-{len(pods)}"
        else:
            if service not in self._replica_sets:
                self._replica_sets[service] = self._word(10)
            pod = f"{service}-{self._replica_sets[service]}-{self._word(5)}"
        pods.append(pod)
        address = f"10.{self.rng.randrange(32, 64)}.{self.rng.randrange(256)}"
        address += f".{self.rng.randrange(2, 255)}:{_PORTS[self.layers[service]]}"
        self.instances[pod] = address
        return pod

    def _word(self, length: int) -> str:
        # Kubernetes' generated name suffixes avoid vowels and look-alike characters.
        return "".join(self.rng.choice(_SAFE_CHARS) for _ in range(length))


def _layer_sizes(count: int) -> dict[Layer, int]:
    frontend = max(2, count // 10)
    datastore = max(4, count * 3 // 10)
    api = max(4, count // 4)
    return {
        "frontend": frontend,
        "api": api,
        "backend": count - frontend - datastore - api,
        "datastore": datastore,
    }


def _dependencies(rng: random.Random, deeper: list[list[str]]) -> list[str]:
    """1-3 callees, mostly one layer down, sometimes two (an API reading a cache)."""
    below = deeper[0]
    chosen = set(rng.sample(below, k=min(len(below), rng.randint(1, 3))))
    if len(deeper) > 1 and rng.random() < 0.4:
        chosen.add(rng.choice(deeper[1]))
    return sorted(chosen)


def _tier(rng: random.Random, layer: Layer, callers: int) -> Literal[1, 2, 3]:
    if layer == "frontend" or (layer == "datastore" and callers >= 3):
        return 1
    if layer == "api":
        return rng.choice((1, 2))
    return rng.choice((2, 3)) if layer == "backend" else 2


def _call_graph(rng: random.Random, names: dict[Layer, list[str]]) -> dict[str, list[str]]:
    """Callees per service; every service below the frontends gets at least one caller."""
    deps: dict[str, list[str]] = {}
    for index, layer in enumerate(_LAYERS):
        deeper = [names[d] for d in _LAYERS[index + 1 :]]
        for name in names[layer]:
            deps[name] = _dependencies(rng, deeper) if deeper else []
    for index, layer in enumerate(_LAYERS[1:], start=1):
        called = {d for deps_of in deps.values() for d in deps_of}
        for name in names[layer]:
            if name not in called:
                caller = rng.choice(names[_LAYERS[index - 1]])
                deps[caller] = sorted({*deps[caller], name})
    return deps


def build_service_graph(rng: random.Random, count: int) -> ServiceGraph:
    """`count` services (20-50) in four layers, with callees, tiers, teams and pods."""
    if not 20 <= count <= 50:
        raise ValueError("a corpus service graph has 20 to 50 services")
    sizes = _layer_sizes(count)
    names = {layer: sorted(rng.sample(_NAMES[layer], sizes[layer])) for layer in _LAYERS}
    deps = _call_graph(rng, names)
    caller_count = {n: sum(n in d for d in deps.values()) for n in deps}
    layers = {name: layer for layer in _LAYERS for name in names[layer]}
    teams = {name: rng.choice(_TEAMS[layers[name]]) for name in sorted(deps)}
    infos = [
        ServiceInfo(
            name=name,
            team=teams[name],
            tier=_tier(rng, layers[name], caller_count[name]),
            dependencies=deps[name],
            runbook_url=f"https://runbooks.example.com/{name}",
            repository=f"https://git.example.com/shop/{name}",
        )
        for name in sorted(deps)
    ]
    graph = ServiceGraph(ServiceCatalog(services=infos), layers, teams, rng)
    for name in sorted(deps):
        graph.pods[name] = []
        for _ in range(rng.randint(1, 3) if layers[name] == "datastore" else rng.randint(3, 8)):
            graph.new_pod(name)
    return graph
