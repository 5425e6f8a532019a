"""Learned ranking of retrieval candidates: features of a candidate, and the model that scores them.

The retriever's channels (lexical, dense, symbol and path anchors, graph) only *propose*
candidates; what each proposal is worth is learned from data (``eval/train_ranker.py``), not set by
hand. :mod:`.features` turns one query's candidate pool into a feature matrix, :mod:`.model`
loads the shipped model file and scores that matrix.
"""

from .features import FEATURE_GROUPS, FEATURES, CandidatePool, RepoStats, candidate_features
from .model import RANKER_FILE, LearnedRanker, RankerError, load_default_ranker

__all__ = [
    "FEATURES",
    "FEATURE_GROUPS",
    "RANKER_FILE",
    "CandidatePool",
    "LearnedRanker",
    "RankerError",
    "RepoStats",
    "candidate_features",
    "load_default_ranker",
]
