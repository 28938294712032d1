"""The wheel builds, installs into a clean venv and brings the command, the pytest plugin and the
type information (py.typed, op.pyi) with it. (tests/test_autogenerate.py runs `alembic check` on a
sample project from such a venv, against the real stack.)

The venv sees the project environment's site-packages after its own (a ``.pth`` line), so the
dependencies are not downloaded again; the wheel is installed with --no-deps and the test checks
that the venv's copy is the one in use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def installed_wheel(folder: Path) -> Path:
    """Build the wheel from a copy of the sources and install it (--no-deps) into a new venv that
    falls back on this environment's packages for its dependencies; the venv's python."""
    source = folder / "src"  # a copy, so the build leaves no build/ or egg-info in the checkout
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    shutil.copytree(REPO / "polyalembic", source / "polyalembic", ignore=shutil.ignore_patterns("__pycache__"))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--disable-pip-version-check",
         "-w", folder / "dist", source, cwd=folder)
    (wheel,) = (folder / "dist").glob("polyalembic-*.whl")

    venv = folder / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=folder)
    python = venv / "bin" / "python"
    own = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=folder).strip())
    # after the venv's own folder, and read as a plain path: this environment's editable
    # polyalembic (a finder that its own .pth files install) stays out of the venv
    (own / "project_environment.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index",
         "--disable-pip-version-check", wheel, cwd=folder)
    return python


@pytest.mark.slow
def test_wheel_installs_the_command_and_the_pytest_plugin(tmp_path: Path) -> None:
    python = installed_wheel(tmp_path)
    venv = python.parent.parent
    assert "Usage: polyalembic" in _run(venv / "bin" / "polyalembic", "--help", cwd=tmp_path)
    probe = (
        "import importlib.metadata as m, pathlib, polyalembic\n"
        "(ep,) = [e for e in m.entry_points(group='pytest11') if e.name == 'polyalembic']\n"
        "package = pathlib.Path(polyalembic.__file__).parent\n"
        "print(ep.value, package, (package / 'py.typed').exists(), (package / 'op.pyi').exists())\n"
    )
    entry_point, package, typed, stub = _run(python, "-c", probe, cwd=tmp_path).split()
    assert entry_point == "polyalembic.testing.switch"
    assert Path(package).is_relative_to(venv), f"the venv imported {package}, not its own copy"
    assert (typed, stub) == ("True", "True")
