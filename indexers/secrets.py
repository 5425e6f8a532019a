"""High-confidence secret patterns inside ordinary text, and their redaction.

File names catch whole secret files (see ``indexers.discover.is_secret_path``); this module
catches secrets pasted into source: private-key blocks, cloud access keys and tokens with a
well-known prefix, and a few ``name = "value"`` shapes whose name says what the value is.
Redaction keeps every line break, so line numbers (and citations) are the same in the redacted
text as in the file on disk.

Only patterns that ordinary code does not produce are used: a fixed vendor prefix, a fixed
length or a fixed structure. There is no entropy guessing, so hashes, UUIDs, base64 test data
and long identifiers are left alone. Every pattern runs in time linear in the text: no
quantified group contains another unbounded quantifier, value lengths are bounded, and every
regex starts with a literal so candidates are found at string-search speed.

:func:`redact_secrets` is the API the indexer and the file gate use; :func:`scan_secrets`
says which kinds were found (names in :data:`SECRET_KINDS`), for reports.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

REDACTED = "[REDACTED]"

PRIVATE_KEY = "private_key"

# A PEM / OpenSSH / PGP armour header of a private key: 'RSA PRIVATE KEY', 'OPENSSH PRIVATE KEY',
# 'ENCRYPTED PRIVATE KEY', 'PGP PRIVATE KEY BLOCK', plain 'PRIVATE KEY', and the SSH2 (RFC 4716)
# '---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----' form.
_KEY_HEADER = re.compile(r"-{4,5} ?BEGIN ((?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?) ?-{4,5}")
_END_TAIL = re.compile(r" ?-{1,5}")
# A line of a key body as it appears in a file or in source code: optional indentation, comment
# mark, concatenation operator or string prefix, one base64 run, an optional escaped line break,
# closing quote and punctuation. Possessive quantifiers: no backtracking whatever the line.
_KEY_BODY_LINE = re.compile(
    r"[ \t]*+[#*+,;(@]?+[ \t]*+(?:[bru]?[\"'`])?+[A-Za-z0-9+/=]*+(?:\\{1,2}[rn])*+[\"'`]?+"
    r"[ \t]*+[+,;)\\.]?+[ \t]*+\r?"
)
# Armour headers inside an encrypted PEM or a PGP block ('Proc-Type: 4,ENCRYPTED', 'Version: ...').
_KEY_ARMOUR_LINE = re.compile(
    r"[ \t]*+(?:[bru]?[\"'`])?+(?:Proc-Type|DEK-Info|Version|Comment|Hash|Charset|MessageID): [^\n]*"
)
# Key material: a base64 run no identifier, constant or prose between two armour lines has.
_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/]{20}")
_MAX_KEY_LINES = 400  # a 4096-bit RSA key is ~50 lines, a large PGP secret key block a few hundred


# Token rules. Every regex starts with a literal, so the regex engine finds candidates at string
# search speed; a word boundary before the literal is a lookbehind placed *after* it
# (``gh(?<![A-Za-z0-9_]gh)``), which keeps that speed and rejects a candidate inside a longer word
# at once instead of scanning it. Each named group is a kind: the group that took part in a match
# is what gets redacted (so an assigned name stays readable: ``API_KEY = "[REDACTED]"``).
_W = r"[A-Za-z0-9_]"  # a word character: a token glued to one is part of something longer
_ASSIGN = r"(?!" + _W + r")[\"']?[ \t]{0,4}(?::=|=>|[:=])[ \t]{0,4}"
# A quoted literal of 16..256 characters with a digit and a letter, and no space, dot, backslash,
# angle or curly bracket or bar: what a password, key or token looks like, and what settings
# names, dotted paths, prose, templates ('{{ key }}') and tokenizer tokens ('<|pad_0|>') do not.
_QUOTED_VALUE = (
    r"[bru]?(?P<q>[\"'])(?P<assigned_secret>(?=[^\"'\s.]{0,255}\d)(?=[^\"'\s.]{0,255}[A-Za-z])"
    r"[^\"'\s.\\<>{}|]{16,256})(?P=q)"
)
_NAMED_KEY_VALUE = (
    r"(?:" + _ASSIGN + _QUOTED_VALUE +
    # 'aws_secret_access_key = wJalr...' unquoted (ini, env files) or quoted: 40 base64 characters
    r"|" + _ASSIGN + r"(?:[bru]?[\"'])?(?P<aws_secret_access_key>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
    # Azure connection strings: 'AccountKey=<base64>', 'SharedAccessKey=<base64>'
    r"|=(?P<azure_storage_key>[A-Za-z0-9+/]{40,100}={0,2}))"
)
# Names ending in '...key' whose quoted value is a secret, after lower-casing and dropping '_' / '-'.
_SECRET_KEY_NAMES = ("apikey", "accesskey", "privatekey", "secretkey", "signingkey", "encryptionkey", "masterkey",
                     "authkey")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


_Check = Callable[[str, str, re.Match[str]], str | None]


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    groups: tuple[str, ...]  # named groups, one per alternative: the one that matched is redacted
    check: _Check | None = None  # (group, text, match) -> the kind to report, None when no secret


def _name_before(text: str, end: int) -> str:
    """The identifier that ends at ``end``, lower-cased, without '_' and '-' ('AWS_Secret-Key' -> 'awssecretkey')."""
    start = end
    while start > 0 and end - start < 80 and text[start - 1] in _NAME_CHARS:
        start -= 1
    return text[start:end].lower().replace("_", "").replace("-", "")


def _check_key_name(group: str, text: str, m: re.Match[str]) -> str | None:
    """The kind of a '...key = value' match, by the name the value is assigned to."""
    name = _name_before(text, m.start() + 2)  # the match starts at the 'ey' of the name's 'key'
    if group == "azure_storage_key":
        return group if name.endswith(("accountkey", "sharedaccesskey")) else None
    if name.endswith("secretaccesskey"):
        return "aws_secret_access_key"
    return "assigned_secret" if group == "assigned_secret" and name.endswith(_SECRET_KEY_NAMES) else None


# Passwords of the documentation's example URLs ('postgres://scott:tiger@localhost/test').
_PLACEHOLDER_PASSWORDS = frozenset({"pass", "password", "passwd", "pwd", "secret", "tiger", "changeme", "token",
                                    "pw", "xxx", "xxxx", "xxxxx", "xxxxxx", "xxxxxxxx", "mypassword", "yourpassword"})


def _check_url_password(group: str, text: str, m: re.Match[str]) -> str | None:
    return None if m.group(group).lower() in _PLACEHOLDER_PASSWORDS else group


def _rule(pattern: str, check: _Check | None = None) -> _Rule:
    regex = re.compile(pattern)
    return _Rule(regex, tuple(g for g in regex.groupindex if g != "q"), check)


_RULES: tuple[_Rule, ...] = (
    # AWS access key id (long-term AKIA, temporary ASIA, ...); Google API keys.
    _rule(r"(?P<aws_access_key_id>A(?<!" + _W + r"A)(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z0-9]{16})(?!" + _W + ")"),
    _rule(r"(?P<google_api_key>AIza(?<!" + _W + r"AIza)[0-9A-Za-z_\-]{35})(?![0-9A-Za-z_\-])"),
    # GitHub (classic ghp_/gho_/ghu_/ghs_/ghr_ and fine-grained github_pat_) and GitLab tokens.
    _rule(r"(?P<github_token>gh(?<!" + _W + r"gh)[pousr]_[A-Za-z0-9]{36,255})(?!" + _W + ")"),
    _rule(r"(?P<github_token>github_pat_(?<!" + _W + r"github_pat_)[A-Za-z0-9_]{22,255})(?!" + _W + ")"),
    _rule(r"(?P<gitlab_token>gl(?<!" + _W + r"gl)(?:pat|ptt|dt|rt)-[A-Za-z0-9_\-]{20,1024})"),
    # Slack tokens and incoming-webhook URLs.
    _rule(r"(?P<slack_token>xox(?<!" + _W + r"xox)[abposr]-[A-Za-z0-9]{6,64}-[A-Za-z0-9\-]{6,1024})"),
    _rule(r"(?P<slack_webhook>hooks\.slack\.com/(?:services|workflows)/T[A-Za-z0-9_]{6,20}/[A-Za-z0-9_]{6,20}/"
          r"[A-Za-z0-9_]{16,64})"),
    # Stripe live secret and restricted keys (test-mode keys fill the docs and are no credential).
    _rule(r"(?P<stripe_key>k_live_(?<=[sr]k_live_)(?<!" + _W + r"[sr]k_live_)[A-Za-z0-9]{16,255})(?!" + _W + ")"),
    # OpenAI: project / service-account / admin keys and long legacy 'sk-' + 32.. alphanumerics
    # ('sk-learn', 'sk-1' are far shorter); Anthropic 'sk-ant-api03-...'.
    _rule(r"sk-(?<!" + _W + r"sk-)(?:(?P<anthropic_api_key>ant-[a-z]{3,8}\d{2}-[A-Za-z0-9_\-]{32,1024})"
          r"|(?P<openai_api_key>(?:proj|svcacct|admin|None)-[A-Za-z0-9_\-]{20,1024}"
          r"|[A-Za-z0-9]{32,1024}(?![A-Za-z0-9_\-])))"),
    _rule(r"(?P<huggingface_token>hf_(?<!" + _W + r"hf_)[A-Za-z0-9]{34,40})(?!" + _W + ")"),
    _rule(r"(?P<npm_token>npm_(?<!" + _W + r"npm_)[A-Za-z0-9]{36})(?!" + _W + ")"),
    _rule(r"(?P<pypi_token>pypi-AgE(?<!" + _W + r"pypi-AgE)(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)"  # pypi.org, test.
          r"[A-Za-z0-9_\-]{40,4096})"),
    _rule(r"(?P<sendgrid_key>SG\.(?<!" + _W + r"SG\.)[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})(?![A-Za-z0-9_\-])"),
    # JSON Web Tokens: header.payload.signature, both JSON parts base64url of '{"'. The boundary
    # lookbehind also excludes '-', so a run of 'eyJ' inside one long token is rejected at once.
    _rule(r"(?P<jwt>eyJ(?<![A-Za-z0-9_\-]eyJ)[A-Za-z0-9_\-]{8,4096}\.eyJ[A-Za-z0-9_\-]{8,8192}"
          r"\.[A-Za-z0-9_\-]{0,4096})"),
    # user:password@ in a URL (database URLs, git remotes, proxies); placeholders like {password},
    # $PASSWORD, %(password)s, <password> or the docs' 'user:pass@' are not values.
    _rule(r"://[A-Za-z0-9._~%!\-]{1,64}:(?P<url_password>[^\s/@:'\"`{}$<>()\[\]*]{3,128})@(?=[A-Za-z0-9\[])",
          _check_url_password),
    # 'name = value' where the name says what the value is; the match starts inside the name.
    _rule(r"ey(?<=[Kk]ey)" + _NAMED_KEY_VALUE, _check_key_name),
    _rule(r"EY(?<=KEY)" + _NAMED_KEY_VALUE, _check_key_name),
    _rule(r"assw(?<=[Pp]assw)(?:ord|d)" + _ASSIGN + _QUOTED_VALUE),
    _rule(r"ASSW(?<=PASSW)(?:ORD|D)" + _ASSIGN + _QUOTED_VALUE),
    _rule(r"ecret(?<=[Ss]ecret)" + _ASSIGN + _QUOTED_VALUE),
    _rule(r"ECRET(?<=SECRET)" + _ASSIGN + _QUOTED_VALUE),
    _rule(r"oken(?<=[Tt]oken)" + _ASSIGN + _QUOTED_VALUE),
    _rule(r"OKEN(?<=TOKEN)" + _ASSIGN + _QUOTED_VALUE),
)

SECRET_KINDS: tuple[str, ...] = (
    PRIVATE_KEY, "aws_access_key_id", "aws_secret_access_key", "google_api_key", "github_token", "gitlab_token",
    "slack_token", "slack_webhook", "stripe_key", "openai_api_key", "anthropic_api_key", "huggingface_token",
    "npm_token", "pypi_token", "sendgrid_key", "jwt", "azure_storage_key", "url_password", "assigned_secret",
)
"""Names of the secret kinds :func:`scan_secrets` reports."""


def _redacted(span: str) -> str:
    """``[REDACTED]`` followed by as many line breaks as ``span`` held."""
    return REDACTED + "\n" * span.count("\n")


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end == -1 else end


def _after_end_marker(text: str, pos: int, line_end: int) -> int:
    """End of an 'END <label>' marker including its closing dashes."""
    tail = _END_TAIL.match(text, pos, line_end)
    return pos if tail is None else tail.end()


def _key_block_end(text: str, header: re.Match[str]) -> int:
    """Where the private-key block starting at ``header`` ends (exclusive).

    The block runs to its ``END <label>`` marker. Without one (a truncated or mangled key), it
    runs over the lines that look like key material and stops before the first that does not,
    so a stray header in code costs its own line, not the rest of the file. The rest of the
    header's line is always part of the block: that is where a key written with ``\n`` escapes
    inside one string literal lives.
    """
    end_marker = f"END {header.group(1)}"
    line_end = _line_end(text, header.end())
    found = text.find(end_marker, header.end(), line_end)
    if found != -1:
        return _after_end_marker(text, found + len(end_marker), line_end)
    end = line_end
    for _ in range(_MAX_KEY_LINES):
        if end >= len(text):
            break
        start = end + 1
        line_end = _line_end(text, start)
        found = text.find(end_marker, start, line_end)
        if found != -1:
            return _after_end_marker(text, found + len(end_marker), line_end)
        if not (_KEY_BODY_LINE.fullmatch(text, start, line_end) or _KEY_ARMOUR_LINE.fullmatch(text, start, line_end)):
            break
        end = line_end
    return end


def _redact_private_keys(text: str, counts: Counter[str]) -> str:
    if "PRIVATE KEY" not in text:
        return text
    out: list[str] = []
    pos = 0
    search_from = 0
    while (header := _KEY_HEADER.search(text, search_from)) is not None:
        end = _key_block_end(text, header)
        if _KEY_MATERIAL.search(text, header.end(), end) is None:
            # A header without a key (code looking for one, docs): left alone. Headers inside its
            # span are skipped too, so every character is looked at a bounded number of times.
            search_from = end
            continue
        out += (text[pos:header.start()], _redacted(text[header.start():end]))
        counts[PRIVATE_KEY] += 1
        pos = search_from = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _apply(rule: _Rule, text: str, counts: Counter[str]) -> str:
    out: list[str] = []
    pos = 0
    for m in rule.regex.finditer(text):
        group = next(g for g in rule.groups if m.start(g) != -1)
        kind = group if rule.check is None else rule.check(group, text, m)
        if kind is None:
            continue
        start, end = m.span(group)
        out += (text[pos:start], _redacted(text[start:end]))
        pos = end
        counts[kind] += 1
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _redact(text: str) -> tuple[str, Counter[str]]:
    counts: Counter[str] = Counter()
    text = _redact_private_keys(text, counts)
    for rule in _RULES:
        text = _apply(rule, text, counts)
    return text, counts


def redact_secrets(text: str) -> tuple[str, int]:
    """``text`` with every high-confidence secret replaced by ``[REDACTED]``, and how many there were.

    Line breaks inside a redacted span are kept, so the result has the same number of lines
    (``text.count('\n')`` is unchanged) and every line outside a secret is unchanged.
    """
    text, counts = _redact(text)
    return text, sum(counts.values())


def scan_secrets(text: str) -> dict[str, int]:
    """Kind -> number of secrets :func:`redact_secrets` redacts in ``text`` (kinds from :data:`SECRET_KINDS`)."""
    return dict(_redact(text)[1])
