"""`python -m repo_rag.cli ...`."""

import sys

from . import main

sys.exit(main())
