"""Benchmarks for repo-rag (SWE-bench Lite localisation, ...).

Depends on ``repo_rag`` and ``indexers``, never the reverse; sources and indexes live in the user
cache (``<cache>/bench``), results under ``eval/out/`` (git-ignored).
"""
