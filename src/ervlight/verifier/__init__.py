"""The Emotional Rationale Verifier: training module, batched scorer, rationale scorer, judge and export/import."""

from ervlight.verifier.backbone import default_backbone_path, load_classifier
from ervlight.verifier.judge import VerifierJudge
from ervlight.verifier.module import VerifierModule
from ervlight.verifier.rationales import RationaleScorer, ScoredRationale, SentenceLabels, select_labels
from ervlight.verifier.scorer import CacheInfo, SentenceVerifier, VerifierScorer

__all__ = [
    "CacheInfo",
    "RationaleScorer",
    "ScoredRationale",
    "SentenceLabels",
    "SentenceVerifier",
    "VerifierJudge",
    "VerifierModule",
    "VerifierScorer",
    "default_backbone_path",
    "load_classifier",
    "select_labels",
]
