"""Secrets never reach a screen, a log or the ledger: masking of URLs, ``password=`` and known values."""

from __future__ import annotations

import re
from collections.abc import Iterable

_PASSWORD_IN_URL = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@")
#: a ``password=`` value: quoted (keyword DSNs), or up to ``&``/space/quote, leaving a sentence's
#: punctuation (``password=x: failed``) outside the mask
_PASSWORD_PARAM = re.compile(r"""(?i)\b(password|passwd|pwd)=('(?:[^'\\]|\\.)*'|[^&\s'"]+?)"""
                             r"""(?=[&\s'"]|[:,;.)]?(?:\s|$))""")


def mask_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Mask passwords inside any text: URL userinfo, password= params and known secret values."""
    for secret in secrets:  # known values first: whole, whatever characters they end with
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _PASSWORD_IN_URL.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _PASSWORD_PARAM.sub(lambda m: f"{m[1]}=***", text)


def mask_dsn(dsn: str | None) -> str | None:
    """``dsn`` with any password replaced by ``***`` (URL userinfo and ``password=`` params)."""
    return None if dsn is None else mask_text(dsn)
