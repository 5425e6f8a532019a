"""repo-rag: repository-level code search and grounded Q&A, offline by default.

Public API::

    from repo_rag import Repository
    repo = Repository.open("path/to/repo")
    repo.index()
    repo.search("where is password validation").hits
    repo.ask("what calls make_password?")
"""

from .config import Config, load_config
from .errors import RepoRagError
from .hits import SearchHit, SearchResult
from .repository import IndexModelMismatchError, PathOutsideRepoError, Repository
from .store import IndexMissingError

__all__ = [
    "Config",
    "IndexMissingError",
    "IndexModelMismatchError",
    "PathOutsideRepoError",
    "RepoRagError",
    "Repository",
    "SearchHit",
    "SearchResult",
    "load_config",
]
__version__ = "0.1.0"
