"""The layered service graph behind the alert corpus."""

from __future__ import annotations

import random

import pytest

from vigil.testing.service_graph import build_service_graph

ORDER = {"frontend": 0, "api": 1, "backend": 2, "datastore": 3}


@pytest.mark.parametrize("count", [20, 33, 50])
def test_calls_only_go_deeper(count: int) -> None:
    graph = build_service_graph(random.Random(count), count)
    assert len(graph.catalog.services) == count
    for info in graph.catalog.services:
        for callee in info.dependencies:
            assert ORDER[graph.layers[callee]] > ORDER[graph.layers[info.name]]


def test_everyone_below_the_frontends_has_a_caller() -> None:
    graph = build_service_graph(random.Random(1), 36)
    for name, layer in graph.layers.items():
        if layer == "frontend":
            assert graph.callers(name) == []
        else:
            assert graph.callers(name)
            for caller in graph.callers(name):
                info = graph.catalog.get(caller)
                assert info is not None
                assert name in info.dependencies


def test_services_have_owners_tiers_and_pods() -> None:
    graph = build_service_graph(random.Random(2), 30)
    for info in graph.catalog.services:
        assert info.team
        assert info.tier in (1, 2, 3)
        assert graph.namespaces[info.name] == info.team
        pods = graph.pods[info.name]
        assert pods
        assert all(p.startswith(info.name) and p in graph.instances for p in pods)


def test_new_pod_names_follow_the_workload_kind() -> None:
    graph = build_service_graph(random.Random(3), 20)
    store = next(n for n, layer in graph.layers.items() if layer == "datastore")
    count = len(graph.pods[store])
    assert graph.new_pod(store) == f"{store}-{count}"
    api = next(n for n, layer in graph.layers.items() if layer == "api")
    pod = graph.new_pod(api)
    assert pod.startswith(api + "-")
    assert pod.rsplit("-", 2)[1] == graph.pods[api][0].rsplit("-", 2)[1]  # same ReplicaSet


def test_same_seed_same_graph() -> None:
    first = build_service_graph(random.Random(9), 40)
    second = build_service_graph(random.Random(9), 40)
    assert first.catalog == second.catalog
    assert first.pods == second.pods


@pytest.mark.parametrize("count", [19, 51])
def test_size_outside_range_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="20 to 50"):
        build_service_graph(random.Random(0), count)
