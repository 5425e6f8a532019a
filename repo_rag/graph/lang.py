"""What name resolution needs to know about languages: families, receivers, scoping, builtins."""

from __future__ import annotations

import builtins

# Languages whose files can refer to each other's definitions.
_FAMILY = {
    "javascript": "js", "typescript": "js", "tsx": "js",
    "java": "jvm", "kotlin": "jvm", "scala": "jvm",
    "c": "c", "cpp": "c",
}

SELF_RECEIVERS = frozenset({"self", "this", "cls", "$this", "Self", "@"})
SUPER_RECEIVERS = frozenset({"super", "super()", "parent", "base"})
# Languages where a bare call inside a class may go to the implicit receiver.
IMPLICIT_THIS = frozenset({"java", "kotlin", "scala", "csharp", "cpp", "swift", "ruby"})
# Languages where a bare ``super(...)`` / ``base(...)`` calls the base class constructor.
SUPER_CONSTRUCTOR = frozenset({"java", "kotlin", "scala", "csharp", "javascript", "typescript", "tsx"})
# Languages where every file of a directory shares one namespace (package).
PACKAGE_SCOPE = frozenset({"go", "java", "kotlin", "scala", "csharp", "swift"})
CONSTRUCTOR_NAMES = ("__init__", "constructor", "new", "initialize", "init")
JS_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")

_BUILTINS: dict[str, frozenset[str]] = {
    "python": frozenset(dir(builtins)) | {"super", "__import__"},
    "js": frozenset(
        "console JSON Math Object Array Promise String Number Boolean Date Error TypeError RangeError RegExp "
        "Map Set WeakMap WeakSet Symbol BigInt parseInt parseFloat isNaN isFinite fetch require setTimeout "
        "clearTimeout setInterval clearInterval URL URLSearchParams encodeURIComponent decodeURIComponent "
        "structuredClone queueMicrotask document window globalThis process Buffer module exports super "
        "describe it test expect beforeEach afterEach beforeAll afterAll jest vi".split()
    ),
    "go": frozenset(
        "append cap clear close complex copy delete imag len make max min new panic print println real "
        "recover bool byte complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune string "
        "uint uint8 uint16 uint32 uint64 uintptr any".split()
    ),
    "jvm": frozenset(
        "String Object Integer Long Short Byte Double Float Boolean Character Math System Thread Class "
        "Exception RuntimeException IllegalArgumentException IllegalStateException NullPointerException "
        "StringBuilder Iterable Comparable Runnable Override Deprecated println print listOf mapOf setOf "
        "arrayOf mutableListOf mutableMapOf require check error super".split()
    ),
    "c": frozenset(
        "printf fprintf sprintf snprintf malloc calloc realloc free memcpy memset memcmp strlen strcmp "
        "strncmp strcpy strncpy exit abort assert sizeof".split()
    ),
}


def family(language: str) -> str:
    """Languages that share a namespace in practice (TypeScript calls JavaScript, Kotlin calls Java)."""
    return _FAMILY.get(language, language)


def is_builtin(language: str, name: str) -> bool:
    return name in _BUILTINS.get(family(language), ())


def default_import_name(language: str, module: str) -> str:
    """The local name an import without alias binds: Go's package name, Java's class name."""
    if language == "go":
        parts = [p for p in module.split("/") if p]
        if len(parts) > 1 and parts[-1].startswith("v") and parts[-1][1:].isdigit():
            parts = parts[:-1]  # example.com/x/v2 -> x
        return parts[-1] if parts else ""
    if family(language) == "jvm" or language == "csharp":
        return module.rsplit(".", 1)[-1] if module and not module.endswith("*") else ""
    return ""
