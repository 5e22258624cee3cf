"""Where shipped resources and the user's cache live."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``grammars``, ``models`` or ``templates``: the checkout's folder, or the copy inside a wheel."""
    checkout = _PKG.parent / name
    if checkout.is_dir():
        return checkout
    return _PKG / "_data" / name


def synthgen_home() -> Path:
    """$SYNTHGEN_HOME, else the user cache dir. Converted models and caches live here."""
    env = os.environ.get("SYNTHGEN_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("synthgen"))
