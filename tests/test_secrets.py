"""Secrets inside ordinary files: redacted with the line count kept, ordinary code left alone.

Canary values are assembled at run time ("AKIA" + "..."), so this file itself holds no string a
secret scanner (or this module) would flag.
"""

from __future__ import annotations

import time

import pytest
from repo_rag.indexers.secrets import REDACTED, SECRET_KINDS, redact_secrets, scan_secrets

B64 = "MIIEowIBAAKCAQEA7canaryKEYqP3xWv9sLm2TzQ8nR4bY6cJ1hF5gD0eK7aU"
KEY_LINES = [B64[i:] + B64[:i] for i in range(0, 50, 7)]  # 8 lines of 'key material'
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(KEY_LINES) + "\n-----END RSA PRIVATE KEY-----"
AWS_ID = "AKIA" + "QX7Z2MBKLP4WJ3TE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYCANARY0042"
GITHUB = "ghp_" + "x9Kq2LmN4pR7sT1vW3yZ5aB8cD0eF6gH2jK4"


def lines_kept(before: str, after: str) -> None:
    """Same number of lines; a line is unchanged, holds the marker, or is what followed a multi-line secret."""
    assert after.count("\n") == before.count("\n")
    for old, new in zip(before.split("\n"), after.split("\n"), strict=True):
        assert new == old or REDACTED in new or old.endswith(new), (old, new)


def settings_py() -> str:
    escaped = PEM.replace("\n", "\\n")
    concatenated = "".join(f'    "{line}\\n"\n' for line in PEM.split("\n"))
    return (
        '"""Production settings."""\n'
        "import os\n\n"
        "DEBUG = False\n"
        f'AWS_ACCESS_KEY_ID = "{AWS_ID}"\n'
        f"AWS_SECRET_ACCESS_KEY = '{AWS_SECRET}'\n"
        f'GITHUB_TOKEN = "{GITHUB}"\n'
        f'SIGNING_KEY = """{PEM}\n"""\n'
        f'ESCAPED_KEY = "{escaped}\\n"\n'
        f"CONCATENATED_KEY = (\n{concatenated})\n"
        "ALLOWED_HOSTS = ['localhost']\n\n\n"
        "def allowed_hosts():\n"
        "    return ALLOWED_HOSTS\n"
    )


def test_canaries_in_settings_are_redacted_and_lines_kept() -> None:
    text = settings_py()
    out, count = redact_secrets(text)
    for canary in (AWS_ID, AWS_SECRET, GITHUB, "7canaryKEY", "PRIVATE KEY", B64[:20]):
        assert canary not in out, canary
    lines_kept(text, out)
    assert scan_secrets(text) == {"private_key": 3, "aws_access_key_id": 1, "aws_secret_access_key": 1,
                                  "github_token": 1}
    assert count == 6
    # What is not secret survives, on its own line number.
    assert out.split("\n")[text.split("\n").index("def allowed_hosts():")] == "def allowed_hosts():"
    assert 'AWS_ACCESS_KEY_ID = "[REDACTED]"' in out  # the name stays readable
    assert "ALLOWED_HOSTS = ['localhost']" in out


@pytest.mark.parametrize("label", ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY",
                                   "ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY", "PGP PRIVATE KEY BLOCK"])
def test_private_key_blocks_of_every_kind(label: str) -> None:
    block = f"-----BEGIN {label}-----\n" + "\n".join(KEY_LINES) + f"\n-----END {label}-----"
    text = f"before = 1\n{block}\nafter = 2\n"
    out, count = redact_secrets(text)
    assert count == 1
    assert out == "before = 1\n" + REDACTED + "\n" * (len(KEY_LINES) + 1) + "\nafter = 2\n"


def test_key_blocks_with_armour_headers_and_in_other_languages() -> None:
    encrypted = ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\n"
                 + "\n".join(KEY_LINES) + "\n-----END RSA PRIVATE KEY-----\n")
    pgp = ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2.0.22 (GNU/Linux)\n"
           "Comment: Ops <ops@example.com>\n\n" + "\n".join(KEY_LINES)
           + "\n=nIQp\n-----END PGP PRIVATE KEY BLOCK-----\n")
    java = ('String key = "-----BEGIN PRIVATE KEY-----\\n" +\n'
            + "".join(f'    "{line}\\n" +\n' for line in KEY_LINES) + '    "-----END PRIVATE KEY-----";\n')
    go = "const key = `-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(KEY_LINES) + "\n-----END EC PRIVATE KEY-----`\n"
    yaml = "tls:\n  key: |\n    -----BEGIN PRIVATE KEY-----\n" + "".join(f"    {line}\n" for line in KEY_LINES) + (
        "    -----END PRIVATE KEY-----\n  port: 443\n")
    json_one_line = ('{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n'
                     + "\\n".join(KEY_LINES) + '\\n-----END PRIVATE KEY-----\\n", "client_email": "ci@x.iam"}\n')
    for text in (encrypted, pgp, java, go, yaml, json_one_line):
        out, count = redact_secrets(text)
        assert count == 1, text
        assert not any(line in out for line in KEY_LINES), out
        assert "GnuPG" not in out and "3F17F5316E2BAC89" not in out
        lines_kept(text, out)
    assert redact_secrets(yaml)[0].endswith("  port: 443\n")
    assert redact_secrets(json_one_line)[0].endswith('\\n", "client_email": "ci@x.iam"}\n')


def test_truncated_key_block_stops_at_the_first_line_of_code() -> None:
    text = "KEY = '''-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(KEY_LINES[:3]) + "\n'''\n\ndef load(path):\n"
    out, count = redact_secrets(text)
    assert count == 1
    assert not any(line in out for line in KEY_LINES)
    assert out.endswith("def load(path):\n")
    lines_kept(text, out)


def test_key_headers_without_key_material_are_left_alone() -> None:
    code = (
        'PEM_HEADER = "-----BEGIN RSA PRIVATE KEY-----"\n'
        'PEM_FOOTER = "-----END RSA PRIVATE KEY-----"\n'
        "def is_private_key(data: str) -> bool:\n"
        '    return data.startswith("-----BEGIN PRIVATE KEY-----")\n'
        "docs = '''\n-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----\n'''\n"
    )
    assert redact_secrets(code) == (code, 0)


def token_canaries() -> list[tuple[str, str, str]]:
    """(kind, line of code holding the secret, the secret value) for every token kind."""
    alnum36 = "x9Kq2LmN4pR7sT1vW3yZ5aB8cD0eF6gH2jK4"
    jwt = ("eyJ" + "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" + ".eyJ" + "zdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkNhbmFyeSJ9"
           + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
    return [
        ("aws_access_key_id", f"aws_key_id = '{AWS_ID}'", AWS_ID),
        ("aws_access_key_id", "creds = {'id': 'ASIA" + "Y3QX7Z2MBKLP4WJ3'}", "ASIA" + "Y3QX7Z2MBKLP4WJ3"),
        ("aws_secret_access_key", f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),  # ini / credentials file
        ("aws_secret_access_key", f'"SecretAccessKey": "{AWS_SECRET}",', AWS_SECRET),
        ("github_token", f"token = '{GITHUB}'", GITHUB),
        ("github_token", "g = Github('gho_" + alnum36 + "')", "gho_" + alnum36),
        ("github_token", "PAT=github_pat_" + "11ABCDEFG0" + "_" + alnum36 + alnum36[:23], "github_pat_11ABCDEFG0"),
        ("gitlab_token", "GITLAB = 'glpat-" + "Xy7zAbC9dEfGh1jKlMnP'", "glpat-Xy7zAbC9dEfGh1jKlMnP"),
        ("slack_token", "SLACK = 'xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'",
         "xoxb-123456789012-1234567890123"),
        ("slack_webhook", "url = 'https://hooks.slack.com/services/" + "T0123ABCD/B0123ABCD/AbCdEfGhIjKlMnOpQrStUvWx'",
         "AbCdEfGhIjKlMnOpQrStUvWx"),
        ("stripe_key", "stripe.api_key = 'sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc'", "4eC39HqLyjWDarjtT1zdp7dc"),
        ("stripe_key", "RK = 'rk_live_" + "4eC39HqLyjWDarjtT1zdp7dc'", "4eC39HqLyjWDarjtT1zdp7dc"),
        ("google_api_key", "maps('AIza" + "SyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW')",
         "SyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"),
        ("openai_api_key", "client = OpenAI(api_key='sk-proj-" + alnum36 + "_" + alnum36 + "')", alnum36),
        ("openai_api_key", "openai.api_key = 'sk-" + alnum36 + "T3Blbk" + "FJ" + "abcd')", alnum36),
        ("anthropic_api_key", "k = 'sk-ant-" + "api03-" + alnum36 + alnum36 + "'", alnum36),
        ("huggingface_token", "login(token='hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh')",
         "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"),
        ("npm_token", "//registry.npmjs.org/:_authToken=npm_" + alnum36, alnum36),
        ("pypi_token", "password = pypi-AgEIcHlwaS5vcmc" + "CJDk5ZjBlZGY2LTQ4" + alnum36,
         "CJDk5ZjBlZGY2LTQ4"),
        ("sendgrid_key", "SG_KEY = 'SG." + "ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr'",
         "TwL2iGABf9DHoTf"),
        ("jwt", f"headers = {{'Authorization': 'Bearer {jwt}'}}", jwt),
        ("azure_storage_key", "conn = 'DefaultEndpointsProtocol=https;AccountName=acme;AccountKey="
         + "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;'",
         "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"),
        ("url_password", "DATABASE_URL = 'postgres://app:" + "s3cr3t-Pa55@db.internal:5432/app'", "s3cr3t-Pa55"),
        ("assigned_secret", "SECRET_KEY = 'django-insecure-" + "9j2k#x8v!q3w4e5r6t7y'", "9j2k#x8v!q3w4e5r6t7y"),
        ("assigned_secret", 'db_password = "CANARY-TFVARS-' + '9c4e1b2a3d4c"', "9c4e1b2a3d4c"),
        ("assigned_secret", "const apiKey = '" + "a1b2c3d4e5f6a7b8c9d0';", "a1b2c3d4e5f6a7b8c9d0"),
        ("assigned_secret", "API_KEY = '" + "0123456789abcdefghij" * 2 + "'", "0123456789abcdefghij" * 2),  # 40 chars
        ("assigned_secret", "STRIPE_SECRET_KEY=" + '"whsec_' + 'Ab12Cd34Ef56Gh78"', "Ab12Cd34Ef56Gh78"),
        ("assigned_secret", 'client_secret: "' + 'Gx7-Jq2_Lm9pQr4s"', "Gx7-Jq2_Lm9pQr4s"),
        ("assigned_secret", "ACCESS_TOKEN := \"" + 'ya29A0ARrdaM9xYz1234abcd"', "ya29A0ARrdaM9xYz1234abcd"),
        ("assigned_secret", "'password' => '" + "Tr0ub4dor&3Tr0ub4dor',", "Tr0ub4dor&3Tr0ub4dor"),
    ]


@pytest.mark.parametrize(("kind", "line", "secret"), token_canaries(), ids=lambda v: str(v)[:24])
def test_each_kind_is_found_and_redacted(kind: str, line: str, secret: str) -> None:
    text = f"# config\n{line}\nx = 1\n"
    out, count = redact_secrets(text)
    assert secret not in out
    assert scan_secrets(text) == {kind: 1}
    assert count == 1
    assert out.startswith("# config\n") and out.endswith("\nx = 1\n")
    assert kind in SECRET_KINDS


ORDINARY_CODE = [
    # scikit-learn, sk- words, password validation and token plumbing as they appear in real code
    "from sklearn.linear_model import LogisticRegression  # pip install scikit-learn, not sk-learn\n",
    "task = 'sk-1'\nDISK_ID = 'disk-0123456789abcdef0123456789abcdef'\n",
    'AUTH_PASSWORD_VALIDATORS = [\n'
    '    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},\n]\n',
    "def validate_password(password, user=None, password_validators=None):\n"
    "    if len(password) < PASSWORD_MIN_LENGTH:\n        raise ValidationError('too short')\n",
    "password = forms.CharField(widget=forms.PasswordInput, min_length=12)\n",
    "password_reset_token = default_token_generator.make_token(user)\n",
    'token = request.headers.get("Authorization", "").removeprefix("Bearer ")\n',
    'api_key = os.environ["OPENAI_API_KEY"]\nsecret = settings.SECRET_KEY\n',
    'SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")\nSECRET_KEY_FALLBACKS = []\n',
    'CSRF_COOKIE_NAME = "csrftoken"\nTOKEN_URL = "https://oauth2.googleapis.com/token"\n',
    'PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]\n',
    "password = 'password'\ntoken = 'your-api-token-here'\napi_key = '<YOUR_API_KEY>'\n",
    "secret = '{{ secret_key }}'\npassword = f'{prefix}{PASSWORD_SUFFIX}'\n",
    'if password == "":\n    return None\n',
    "digest = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'\n",
    "request_id = '123e4567-e89b-12d3-a456-426614174000'\n",
    "ENCODED = 'SGVsbG8sIFdvcmxkISBUaGlzIGlzIGp1c3QgYmFzZTY0IHRlc3QgZGF0YQ=='\n",
    "url = 'postgres://{user}:{password}@{host}/{db}'\nDSN = 'mysql://%(user)s:%(password)s@%(host)s'\n",
    'create_engine("postgresql+psycopg2://scott:tiger@localhost/test")  # docs: user:pass@host\n',
    'tokenizer.pad_token = "<|reserved_special_token_0|>"\nSECRET = "{{ vault_secret_42_value }}"\n',
    "see https://user@example.com/path and http://localhost:8000/admin/\n",
    "const token = localStorage.getItem('token');\nconst apiKey = process.env.API_KEY;\n",
    "func (c *Client) Token() (string, error) { return c.tokenSource.Token() }\n",
    "let key_ghp_prefix = \"ghp_\"; // GitHub classic token prefix\n",
    "AKIA_PREFIX = 'AKIA'\nmaybe_jwt = token.startswith('eyJ')\n",
    "class PasswordResetTokenGenerator:\n    key_salt = 'django.contrib.auth.tokens.PasswordResetTokenGenerator'\n",
    "private_key = serialization.load_pem_private_key(data, password=None)\n",
]


@pytest.mark.parametrize("code", ORDINARY_CODE, ids=lambda c: c[:30])
def test_ordinary_code_is_not_redacted(code: str) -> None:
    assert redact_secrets(code) == (code, 0)


def test_redaction_is_stable() -> None:
    out, _ = redact_secrets(settings_py())
    assert redact_secrets(out) == (out, 0)


@pytest.mark.parametrize("hostile", [
    "-----BEGIN RSA PRIVATE KEY----- " * 30_000,
    "Comment: -----BEGIN RSA PRIVATE KEY-----\n" * 25_000,
    ("-----BEGIN PRIVATE KEY-----\n" + "QUJD\n" * 399) * 250,
    "eyJ" * 300_000, "-eyJ" * 250_000, "sk-" * 300_000, "ghp_" * 250_000, "A" * 1_000_000,
    "://a:" * 200_000, "key = '" * 150_000, 'token="' + "a1" * 500_000, "x" * 1_000_000 + "\n" * 10,
    ("password: '" + "a1" * 100 + "'\n") * 5_000, ("://" + "a" * 60 + ":" + "b" * 120) * 5_000,
], ids=lambda h: repr(h[:16]))
def test_hostile_inputs_take_linear_time(hostile: str) -> None:
    start = time.perf_counter()
    out, _ = redact_secrets(hostile)
    assert time.perf_counter() - start < 2.0  # ~1 MB each; 0.2 s at most on 2 slow cores
    assert out.count("\n") == hostile.count("\n")
