"""A drain3 ``Drain`` whose similarity ignores masked tokens, and a safe JSON snapshot of it.

Drain compares a message with a cluster's template token by token. Tokens that the
masking rules already turned into ``<*>`` (alone or glued to punctuation, ``<*>:``) say
nothing about which log statement printed the line, so positions where both sides are
masked are left out of the similarity altogether: ``button report: <*>`` then matches
its own template fully instead of at 2/3, and ``from <*>: <*>: Bye Bye`` is not pulled
towards ``from <*>: <*>: disconnected by user`` by the two masks it shares.

drain3 persists its state with jsonpickle, which can build arbitrary objects when
loading; :func:`drain_state` / :func:`restore_drain` write plain JSON data instead
(clusters and the prefix tree), so a snapshot from storage cannot execute code.

Drain's prefix tree also assumes a message's first tokens are constants. When they are
not plain words (``com.apple.Safari.Update:``, ``<*>``, ``0x1f``) and the tree finds no
cluster, every cluster of the same length is searched before a new one is made, so a
value in the first position does not open one cluster per value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from drain3.drain import Drain, LogCluster, Node
from pydantic import BaseModel, ConfigDict

from vigil.analysis.log_masking import MASK

__all__ = ["ClusterState", "DrainState", "MaskAwareDrain", "drain_state", "restore_drain"]

_WORD = re.compile(r"[A-Za-z_]+")


class MaskAwareDrain(Drain):  # type: ignore[misc]
    """Drain whose similarity skips masked positions and whose search tolerates a value head."""

    _lengths: dict[int, list[int]] | None = None

    def get_seq_distance(
        self, seq1: Sequence[str], seq2: Sequence[str], include_params: bool
    ) -> tuple[float, int]:
        """``(similarity, wildcard count)`` of template ``seq1`` and message ``seq2``."""
        similar = compared = params = 0
        for template_token, token in zip(seq1, seq2, strict=True):
            if template_token == self.param_str:
                params += 1
                if MASK in token:
                    continue
                compared += 1
                similar += int(include_params)
            elif MASK in template_token and template_token == token:
                continue
            else:
                compared += 1
                similar += int(template_token == token)
        return (similar / compared if compared else 1.0), params

    def lengths(self) -> dict[int, list[int]]:
        """Cluster ids by token count (built lazily; clusters never change length)."""
        index = self._lengths
        if index is None:
            index = {}
            for cluster in self.id_to_cluster.values():
                index.setdefault(len(cluster.log_template_tokens), []).append(cluster.cluster_id)
            self._lengths = index
        return index

    def add_seq_to_prefix_tree(self, root_node: Node, cluster: LogCluster) -> None:
        """Drain's insertion, also indexing the new cluster by its length."""
        super().add_seq_to_prefix_tree(root_node, cluster)
        ids = self.lengths().setdefault(len(cluster.log_template_tokens), [])
        if cluster.cluster_id not in ids[-1:]:
            ids.append(cluster.cluster_id)
        if self.max_clusters is not None and len(ids) > 2 * self.max_clusters:
            ids[:] = [i for i in ids if i in self.id_to_cluster]

    def tree_search(
        self, root_node: Node, tokens: list[str], sim_th: float, include_params: bool
    ) -> LogCluster | None:
        """Drain's tree search; a full same-length search if the head holds a value."""
        found: LogCluster | None = super().tree_search(root_node, tokens, sim_th, include_params)
        if found is not None or not tokens:
            return found
        head = tokens[: max(self.max_node_depth - 1, 1)]
        if all(_WORD.fullmatch(token) for token in head):
            return None
        candidates = self.lengths().get(len(tokens), [])
        best: LogCluster | None = self.fast_match(candidates, tokens, sim_th, include_params)
        return best


class ClusterState(BaseModel):
    """One cluster: its id, template tokens and size."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cluster_id: int
    tokens: tuple[str, ...]
    size: int


class DrainState(BaseModel):
    """Everything a :class:`MaskAwareDrain` learnt, as plain data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clusters: tuple[ClusterState, ...]
    counter: int
    tree: dict[str, Any]


def _node_data(node: Node) -> dict[str, Any]:
    return {
        "ids": list(node.cluster_ids),
        "children": {key: _node_data(child) for key, child in node.key_to_child_node.items()},
    }


def _node(data: dict[str, Any]) -> Node:
    node = Node()
    node.cluster_ids = [int(i) for i in data["ids"]]
    node.key_to_child_node = {key: _node(child) for key, child in data["children"].items()}
    return node


def _lru_order(cache: Any) -> list[int]:
    """Cluster ids, least recently used first. A bounded drain keeps its clusters in a
    cachetools ``LRUCache``, whose iteration is insertion order and whose use order is
    private: it is read when present (cachetools 4 and 5), so that a restored drain
    evicts the same clusters as the saved one would have."""
    order = getattr(cache, "_LRUCache__order", None)
    if order is not None and set(order) == set(cache):
        return list(order)
    return list(cache)


def drain_state(drain: Drain) -> DrainState:
    """A snapshot of ``drain``'s clusters (least recently used first) and prefix tree."""
    by_id = drain.id_to_cluster
    clusters = tuple(
        ClusterState(cluster_id=c.cluster_id, tokens=tuple(c.log_template_tokens), size=c.size)
        for c in (by_id[i] for i in _lru_order(by_id))
    )
    return DrainState(
        clusters=clusters, counter=drain.clusters_counter, tree=_node_data(drain.root_node)
    )


def restore_drain(drain: Drain, state: DrainState) -> None:
    """Load ``state`` into a freshly built ``drain`` (same settings as when it was saved)."""
    for saved in state.clusters:
        cluster = LogCluster(list(saved.tokens), saved.cluster_id)
        cluster.size = saved.size
        drain.id_to_cluster[saved.cluster_id] = cluster
    drain.clusters_counter = state.counter
    drain.root_node = _node(state.tree)
    if isinstance(drain, MaskAwareDrain):
        drain._lengths = None
