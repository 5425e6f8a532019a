"""Discovery, parsing, chunking and raw graph facts per language (no repo_rag imports)."""
