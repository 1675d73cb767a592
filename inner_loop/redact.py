"""Secrets in URLs: login details (`https://user:secret@host/v1`) and credential-like query
parameters (`?api_key=...`, `token`, `signature`, ...) never reach a file or an output line.

`redact_url` rewrites one URL (the secret parts become `REDACTED`); `redact_text` rewrites every
URL in a text and every secret value seen so far (`remember_secrets`: the loaded configs register
theirs), so an error message that quotes a piece of a URL is clean too. What is written is the
redacted form: a run whose base_url held login details needs them given again to resume.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

MARK = "REDACTED"
_CREDENTIAL = re.compile(r"(key|token|secret|pass|pwd|auth|sig|cred|session|bearer)", re.I)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_SECRETS: set[str] = set()
_LOCK = threading.Lock()


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL: user, password and credential-like query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    out = []
    if parts.username:
        out.append(unquote(parts.username))
    if parts.password:
        out.append(unquote(parts.password))
    out += [value for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if _CREDENTIAL.search(name) and value]
    return [s for s in out if s and s != MARK]


def redact_url(url: str | None) -> str | None:
    """The URL with login details and credential-like query values replaced by REDACTED."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return MARK  # not parseable as a URL: show nothing of it
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MARK}@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        f"{quote(name, safe='')}={MARK if _CREDENTIAL.search(name) and value else quote(value, safe='')}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def remember_secrets(values: list[str]) -> None:
    """Secret values that `redact_text` removes wherever they appear (at least 4 characters)."""
    with _LOCK:
        _SECRETS.update(v for v in values if len(v) >= 4)


def redact_text(text: str) -> str:
    """Every URL in `text` redacted, and every remembered secret value."""
    out = _URL.sub(lambda m: redact_url(m.group(0)) or "", text)
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        for form in {secret, quote(secret, safe="")}:
            out = out.replace(form, MARK)
    return out
