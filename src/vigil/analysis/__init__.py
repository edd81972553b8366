"""Pure analysis algorithms: evidence extraction, root-cause ranking and scoring."""

from vigil.analysis.evidence import Evidence, EvidenceKind, RobustScale, evidence_id
from vigil.analysis.fault_kind import FAULT_KINDS, FaultKind, classify, family_of
from vigil.analysis.log_evidence import log_evidence, mine_templates
from vigil.analysis.log_sequence import sequence_evidence
from vigil.analysis.metric_evidence import metric_evidence
from vigil.analysis.ranking import RankedCause, RankingOptions, rank_services
from vigil.analysis.rca import RcaResult, analyze_bundle
from vigil.analysis.rca_scoring import accuracy_at_k, average_at_5, kind_accuracy, rank_of
from vigil.analysis.trace_evidence import call_edges, trace_evidence, with_self_time

__all__ = [
    "FAULT_KINDS",
    "Evidence",
    "EvidenceKind",
    "FaultKind",
    "RankedCause",
    "RankingOptions",
    "RcaResult",
    "RobustScale",
    "accuracy_at_k",
    "analyze_bundle",
    "average_at_5",
    "call_edges",
    "classify",
    "evidence_id",
    "family_of",
    "kind_accuracy",
    "log_evidence",
    "metric_evidence",
    "mine_templates",
    "rank_of",
    "rank_services",
    "sequence_evidence",
    "trace_evidence",
    "with_self_time",
]
