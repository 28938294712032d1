"""Secrets never reach a screen, a log or the ledger: masking of URLs, ``password=`` and known values."""

from __future__ import annotations

import re
from collections.abc import Iterable

_PASSWORD_IN_URL = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@")
_PASSWORD_PARAM = re.compile(r"(?i)\b(password|passwd|pwd)=([^&\s]+)")


def mask_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Mask passwords inside any text: URL userinfo, password= params and known secret values."""
    text = _PASSWORD_IN_URL.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    text = _PASSWORD_PARAM.sub(lambda m: f"{m[1]}=***", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def mask_dsn(dsn: str | None) -> str | None:
    """``dsn`` with any password replaced by ``***`` (URL userinfo and ``password=`` params)."""
    return None if dsn is None else mask_text(dsn)
