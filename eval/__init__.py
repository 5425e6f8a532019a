"""Benchmarks for repo-rag (SWE-bench Lite localisation, ...).

Installed as ``repo_rag.eval``; depends on the ``repo_rag`` core only, never the reverse; sources and
indexes live in the user cache (``<cache>/bench``), results under ``eval/out/`` (git-ignored).
"""
