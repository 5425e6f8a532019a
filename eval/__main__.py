"""`python -m eval BENCHMARK [options]` (same commands as `repo-rag eval`)."""

import sys

from .cli import main

sys.exit(main())
