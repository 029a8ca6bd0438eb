"""Find secrets in log lines: every known secret (exactly, and URL-encoded, JSON-escaped or
base64-encoded), plus the shapes a secret has even when nobody told us its value: JWTs, bearer and
basic credentials, PEM private keys, Salesforce session ids, refresh tokens (identity's format:
``secrets.token_urlsafe(32)``, 43 URL-safe base64 characters) and ``password``-like keys with a
value that is not a redaction marker.

No import of ``services``: the callers (the soak, the e2e session) know which secrets they used.

    .venv/bin/python -m tools.logscan --secret whmcs=portal-dev-secret run.log   # exit 1 on a hit
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

# Shorter values, one plain lowercase word ("password"), a short run of digits or a value of a few
# distinct characters ("000000") would match ordinary text (ids, timestamps); they are not
# searched for (the patterns still apply).
MIN_LENGTH = 6
MIN_DISTINCT = 5
_ORDINARY = re.compile(r"[a-z]{1,15}|[0-9]{1,15}")
# Known secrets are found through a trie regex over their first characters, then verified.
_PREFIX = 16

REDACTION_MARKERS = frozenset(
    {"", "[redacted]", "<redacted>", "redacted", "[filtered]", "[masked]", "null", "none", "true",
     "false", "secretstr('**********')", "**********"}
)  # fmt: skip

# A key is not part of a word, nor a path segment ("/v1/auth/password:reset" is a route).
_SENSITIVE_KEY = re.compile(
    r"""(?ix)(?<![A-Za-z0-9_/])["']?
    (?P<key>password2?|passwd|pwd
      |(?:client|api|consumer|webhook)[_-]?secret|secret
      |(?:access|refresh|id|sso|auth)[_-]?token|token
      |auth[_-]?key|oem[_-]?key|api[_-]?key|private[_-]?key|signing[_-]?key
      |authorization)
    ["']?\s*[:=]\s*
    (?P<value>"(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&}\]]+)"""
)
PATTERNS: dict[str, re.Pattern[str]] = {
    "jwt": re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}"),
    "bearer": re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{12,}"),
    "basic_auth": re.compile(r"(?i)\bbasic\s+[A-Za-z0-9+/]{12,}={0,2}"),
    "private_key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "salesforce_session": re.compile(r"\b00D[A-Za-z0-9]{12}![A-Za-z0-9._-]{20,}"),
    # Not a part of a dotted token (a page token's or a JWT's 43-character HMAC/SHA-256 part).
    "refresh_token": re.compile(r"(?<![A-Za-z0-9_.-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_=.-])"),
}
# Key ids (RFC 7638 thumbprints) have a refresh token's shape but are public: ``"kid": "..."``,
# ``"signing_kid": "..."``, ``"kids": ["...", ...]``.
_KID_FIELD = re.compile(r"""(?i)["']?\w*kids?["']?\s*[:=]\s*(?:\[[^\]]*\]|"[^"]*"|'[^']*')""")


@dataclass(frozen=True)
class Finding:
    process: str
    line_no: int  # 1-based, counted per process
    kind: str  # "known:<name>", "key:<key>" or a PATTERNS name
    excerpt: str  # the line around the hit, the hit itself masked

    def __str__(self) -> str:
        return f"{self.process}:{self.line_no}: {self.kind}: {self.excerpt}"


def variants(value: str) -> set[str]:
    """The forms a secret takes in a log line: as is, URL-encoded, JSON-escaped, base64."""
    found = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
    raw = value.encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        found.add(encode(raw).decode().rstrip("="))
    return {v for v in found if len(v) >= MIN_LENGTH}


def pem_secrets(name: str, pem: str) -> dict[str, str]:
    """A PEM private key as secrets: each base64 line of its body (a log would show a part)."""
    body = [line.strip() for line in pem.splitlines() if line.strip() and "-----" not in line]
    return {f"{name}[{i}]": line for i, line in enumerate(body) if len(line) >= _PREFIX}


class Secrets:
    """Known secret values (with their encoded forms) and a fast matcher over them."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._needles: dict[str, str] = {}  # needle -> name of the secret
        self._matcher: _Matcher | None = None
        for name, value in (values or {}).items():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        if len(value) < MIN_LENGTH or len(set(value)) < MIN_DISTINCT or _ORDINARY.fullmatch(value):
            return
        for needle in variants(value):
            self._needles.setdefault(needle, name)
        self._matcher = None

    def update(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            self.add(name, value)

    def __len__(self) -> int:
        return len(self._needles)

    def find(self, line: str) -> list[tuple[int, int, str]]:
        """``(start, end, name)`` of every known secret in ``line``."""
        if not self._needles:
            return []
        if self._matcher is None:
            self._matcher = _Matcher(self._needles)
        return self._matcher.find(line)


class _Matcher:
    def __init__(self, needles: Mapping[str, str]) -> None:
        self.needles = needles
        self.buckets: dict[str, list[str]] = {}
        for needle in needles:
            self.buckets.setdefault(needle[:_PREFIX], []).append(needle)
        self.lengths = sorted({len(p) for p in self.buckets})
        self.starts = re.compile("(?=" + _trie_regex(self.buckets) + ")")

    def find(self, line: str) -> list[tuple[int, int, str]]:
        hits: list[tuple[int, int, str]] = []
        for m in self.starts.finditer(line):
            i = m.start()
            for length in self.lengths:
                for needle in self.buckets.get(line[i : i + length], ()):
                    if line.startswith(needle, i):
                        hits.append((i, i + len(needle), self.needles[needle]))
        return hits


def _trie_regex(words: Iterable[str]) -> str:
    """One regex matching any of ``words`` (a trie, so it costs per character, not per word)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        out = ""
        while len(node) == 1 and "" not in node:  # a chain: no group needed
            ((ch, node),) = node.items()
            out += re.escape(ch)
        if not node or list(node) == [""]:
            return out
        alternatives = [re.escape(ch) + build(child) for ch, child in node.items() if ch]
        group = "(?:" + "|".join(alternatives) + ")"
        # A word ends here: anything longer is optional (the words it prefixes are enough).
        return out + (group + "?" if "" in node else group)

    return build(trie)


def _excerpt(line: str, start: int, end: int, width: int = 40) -> str:
    hit = line[start:end]
    masked = f"{hit[:3]}…<{len(hit)} chars>"
    return line[max(0, start - width) : start] + masked + line[end : end + width]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def scan_line(
    line: str, secrets: Secrets, allow: frozenset[str] = frozenset()
) -> list[tuple[str, int, int]]:
    """``(kind, start, end)`` of every hit in one line."""
    hits = [(f"known:{name}", s, e) for s, e, name in secrets.find(line)]
    kid_spans = [m.span() for m in _KID_FIELD.finditer(line)]
    for kind, pattern in PATTERNS.items():
        for m in pattern.finditer(line):
            text = m.group(0)
            if text in allow:
                continue
            if kind == "refresh_token" and (
                not _looks_random(text) or any(a <= m.start() < b for a, b in kid_spans)
            ):
                continue
            hits.append((kind, m.start(), m.end()))
    for m in _SENSITIVE_KEY.finditer(line):
        value = _unquote(m.group("value"))
        if value.strip().lower() in REDACTION_MARKERS or value in allow or set(value) <= {"*"}:
            continue
        hits.append((f"key:{m.group('key').lower()}", m.start("value"), m.end("value")))
    return hits


def _looks_random(text: str) -> bool:
    """A 43-character run is a token when it mixes cases and digits (a word or a hex digest
    does not)."""
    return (
        any(c.isupper() for c in text)
        and any(c.islower() for c in text)
        and any(c.isdigit() for c in text)
    )


def scan(
    lines: Iterable[tuple[str, str]],
    secrets: Secrets | Mapping[str, str],
    allow: Iterable[str] = (),
) -> list[Finding]:
    """Scan ``(process, line)`` pairs; ``allow``: values known to be public (a JWKS ``kid`` has
    the shape of a refresh token)."""
    known = secrets if isinstance(secrets, Secrets) else Secrets(secrets)
    allowed = frozenset(allow)
    counts: dict[str, int] = {}
    findings: list[Finding] = []
    for process, line in lines:
        counts[process] = line_no = counts.get(process, 0) + 1
        seen: set[tuple[int, int]] = set()
        for kind, start, end in sorted(scan_line(line, known, allowed), key=lambda h: h[1]):
            if (start, end) in seen:
                continue
            seen.add((start, end))
            findings.append(Finding(process, line_no, kind, _excerpt(line, start, end)))
    return findings


def report(findings: list[Finding], limit: int = 20) -> str:
    if not findings:
        return "no secrets found in the logs"
    shown = "\n".join(f"  {f}" for f in findings[:limit])
    more = f"\n  ... and {len(findings) - limit} more" if len(findings) > limit else ""
    return f"{len(findings)} secret(s) found in the logs:\n{shown}{more}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--secret", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--allow", action="append", default=[], metavar="VALUE")
    args = parser.parse_args(argv)
    secrets = Secrets(dict(s.split("=", 1) for s in args.secret))
    lines = (
        (str(path), line.rstrip("\n"))
        for path in args.files
        for line in path.read_text(errors="replace").splitlines()
    )
    findings = scan(lines, secrets, args.allow)
    print(report(findings, limit=100))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
