"""`python -m repo_rag.eval BENCHMARK [options]` (same commands as `repo-rag eval`)."""

import sys

from .cli import main

sys.exit(main())
