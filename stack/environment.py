"""The project environment: one virtual environment in the checkout (``.venv``), made by uv.

`make migrate`, `make test`, `.ci/run`, the stack and ``bench/`` all run the environment's
interpreter; nothing is ever installed into the machine's own Python. This module runs on that
own Python before the environment exists, so it uses the standard library only:

1. uv, pinned, comes from PyPI as its wheel (``pip download``, nothing installed) and its binary
   is kept in the per-user cache, so every checkout of the project shares one copy;
2. ``uv sync --locked`` builds ``.venv`` from ``uv.lock`` with the machine's interpreter
   (``UV_PYTHON_DOWNLOADS=never``: uv never fetches a Python of its own), the package editable,
   with the ``dev`` extra (every store's driver and the test tools).

``python3 -m stack env`` runs both; the Makefile calls it when pyproject.toml or uv.lock is newer
than the environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from stack.base import REPO_ROOT, user_cache_dir
from stack.phases import phase, say

UV_VERSION = "0.13.9"
VENV = Path(os.environ.get("POLYALEMBIC_VENV", REPO_ROOT / ".venv"))
EXTRAS = ("dev",)


def uv_path(cache_dir: Path | None = None) -> Path:
    """Where the pinned uv binary lives in the per-user cache."""
    return (cache_dir or user_cache_dir()) / "uv" / UV_VERSION / "uv"


def ensure_uv(cache_dir: Path | None = None) -> Path:
    """The pinned uv, fetched once as its PyPI wheel with the machine's pip and unpacked."""
    target = uv_path(cache_dir)
    if target.exists():
        return target
    with phase(f"fetch uv {UV_VERSION} (PyPI)", "download"), tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
             "--only-binary=:all:", "--dest", tmp, f"uv=={UV_VERSION}"],
            capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("uv-*.whl"))
        if result.returncode != 0 or not wheels:
            detail = (result.stderr.strip() or "no wheel for this platform").splitlines()[-1]
            raise SystemExit(f"stack env: could not fetch uv {UV_VERSION} with {sys.executable} -m pip: {detail}")
        member = f"uv-{UV_VERSION}.data/scripts/uv"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(member) as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst)
        partial.chmod(0o755)
        partial.rename(target)  # whole or absent: a broken download is never taken for uv
    return target


def sync(venv: Path = VENV) -> None:
    """Make ``venv`` hold exactly what uv.lock says (installing and removing as needed)."""
    uv = ensure_uv()
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_PROJECT_ENVIRONMENT": str(venv)}
    env.pop("VIRTUAL_ENV", None)  # an activated other environment is not this project's
    # bytecode compiled once at install: a machine with PYTHONDONTWRITEBYTECODE set would otherwise
    # compile every module from source in every process (~0.7 s per CLI start, the tests start hundreds)
    args = [str(uv), "sync", "--locked", "--compile-bytecode", "--python", sys.executable, "--project", str(REPO_ROOT)]
    args += [f"--extra={extra}" for extra in EXTRAS]
    # mostly a download on a fresh machine: uv's summary tells "Prepared" (fetched) from "Installed"
    with phase(f"project environment {venv} (uv sync)", "download"):
        result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    lines = (result.stdout + result.stderr).splitlines()
    if result.returncode != 0:
        for line in lines:
            say(line)
        raise SystemExit(f"stack env: 'uv sync --locked' failed (exit {result.returncode}): see uv's lines above")
    for line in lines:
        if not line.startswith(" "):  # uv's summary lines; the indented ones list each package
            say(f"uv: {line}")


if __name__ == "__main__":  # pragma: no cover - `python3 -m stack env` is the entry
    sync()
