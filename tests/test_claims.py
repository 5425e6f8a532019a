"""Claim checking: which mentions the prose makes, which exist, and how the stream filter cuts."""

from __future__ import annotations

import pytest

from repo_rag.claims import ClaimChecker, ProseFilter, mentions
from repo_rag.grounded import graph_intent

SHOWN = "def resolve_redirects(self, resp):\n    self.rebuild_auth(prepared)\n    get_netrc_auth(url)\n"
INDEX = {"Session", "send", "rebuild_auth", "SessionRedirectMixin", "resolve_redirects"}
FILES = {"src/requests/sessions.py", "src/requests/models.py"}


def _checker() -> ClaimChecker:
    def exists(path: str) -> bool:
        path = path.strip("/")
        return any(f == path or f.endswith("/" + path) or f.startswith(path + "/") for f in FILES)

    return ClaimChecker(SHOWN + "\nhow are redirects followed?", lambda names: names & INDEX, exists)


@pytest.mark.parametrize(
    ("text", "names", "dotted", "paths"),
    [
        ("The `session_follows_redirects` function of the `request` class, in Python 2.10.",
         ["session_follows_redirects", "request"], [], []),
        ("Rules are in the :djadmin:`createusers` command.", ["createusers"], [], []),
        ("See `src/requests/sessions.py:159-253 (SessionRedirectMixin.resolve_redirects)` which calls "
         "self.rebuild_auth() e.g. on a redirect.", [], ["self.rebuild_auth"], ["src/requests/sessions.py"]),
        ("Session.send() dispatches; it uses os.path.join and get_netrc_auth.", ["get_netrc_auth"],
         ["Session.send", "os.path.join"], []),
        ("Built on Node.js, like lib/foo/bar.rb and sessions.py; see `/etc/shadow`.", [], [],
         ["lib/foo/bar.rb", "sessions.py", "/etc/shadow"]),
        ("A plain sentence about requests and the Python language, version 3.11.", [], [], []),
    ],
)
def test_mentions(text: str, names: list[str], dotted: list[str], paths: list[str]) -> None:
    m = mentions(text)
    assert (m.names, m.dotted, sorted(m.paths)) == (names, dotted, sorted(paths))


def test_what_counts_as_invented() -> None:
    c = _checker()
    assert c.invented("The loop is `resolve_redirects`, which calls `rebuild_auth`.") == []
    assert c.invented("`Session.send` then `SessionRedirectMixin.resolve_redirects`.") == []
    assert c.invented("It uses `len` and `isinstance` and returns None.") == []  # builtins
    assert c.invented("`get_netrc_auth` reads the netrc file.") == []  # shown to the model, not a definition
    assert c.invented("The `follow_redirects_now` helper decides.") == ["follow_redirects_now"]
    assert c.invented("`Session.teleport` moves it.") == ["Session.teleport"]
    assert c.invented("It lives in src/requests/sessions.py and `src/requests/`.") == []
    assert c.invented("It lives in src/requests/teleport.py.") == ["src/requests/teleport.py"]
    assert c.invented("Cited at src/requests/ghost.py:1-3.") == ["src/requests/ghost.py"]


def _stream(filter_: ProseFilter, pieces: list[str]) -> str:
    return "".join(filter_.feed(p) for p in pieces) + filter_.flush()


def test_filter_releases_only_checked_sentences() -> None:
    f = ProseFilter(_checker())
    assert f.feed("The redirect loop is in ") == ""  # nothing is shown before its sentence is complete
    out = f.feed("`resolve_redirects`. It calls `teleport_now` to ")
    assert out == "The redirect loop is in `resolve_redirects`. "
    out += _stream(f, ["decide. Then ", "`rebuild_auth` runs."])
    assert out == "The redirect loop is in `resolve_redirects`. Then `rebuild_auth` runs."
    assert f.kept == out
    assert f.report.to_dict() == {
        "invented_names": ["teleport_now"], "removed_sentences": 1, "repeated_sentences": 0,
        "removed": ["It calls `teleport_now` to decide."],
    }


def test_filter_never_splits_inside_backticks_and_checks_code_blocks_whole() -> None:
    f = ProseFilter(_checker())
    out = _stream(f, ["Call `obj.resolve_redirects(resp). done` now.\n", "```python\nx = ",
                      "make_thing()\ny = 1\n```\n", "After the block.\n"])
    assert out == "After the block.\n"
    assert f.report.removed_sentences == 2  # the sentence (obj is unknown) and the block (make_thing is)
    assert "```python\nx = make_thing()\ny = 1\n```" in f.report.removed


def test_filter_cuts_repeats_and_reports_a_loop() -> None:
    f = ProseFilter(_checker())
    out = _stream(f, ["Redirects are followed in a loop. " * 3, "Short. Short. Short."])
    assert out.count("Redirects are followed in a loop.") == 1
    assert out.count("Short.") == 3  # too short to call a repetition
    assert f.report.repeated_sentences == 2 and f.looping


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("what calls make_password?", ("callers", "make_password")),
        ("Who uses `UserManager._create_user`?", ("callers", "UserManager._create_user")),
        ("callers of hashers.make_password", ("callers", "hashers.make_password")),
        ("where is check_password called", ("callers", "check_password")),
        ("what does authenticate() call?", ("callees", "authenticate")),
        ("what breaks if I change make_password", ("impact", "make_password")),
        ("What would break if PasswordValidator changes?", ("impact", "PasswordValidator")),
        ("impact of changing django/contrib/auth/hashers.py", ("impact", "django/contrib/auth/hashers.py")),
        ("where is password validation", None),
        ("how does a request reach the database?", None),
    ],
)
def test_graph_intent(question: str, intent: tuple[str, str] | None) -> None:
    assert graph_intent(question) == intent
