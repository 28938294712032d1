"""The TimescaleDB extension, built once from the vendored source release into PostgreSQL.

No registry this machine reaches ships a TimescaleDB server, so its source release sits in
``../shared/vendor/`` beside the checkout (or ``$POLYALEMBIC_TIMESCALEDB_TARBALL``). ``ensure``:

1. returns at once when PostgreSQL's lib and share folders already hold this version;
2. checks the tarball's sha256 against the ``.sha256`` file beside it;
3. installs Debian's build packages when missing (root only; this also moves ``postgresql-15``
   to the dev package's minor release, which is why it runs before any cluster starts);
4. builds in the per-user cache (``<cache>/timescaledb-<version>/``) and runs ``make install``
   (root only: it writes into PostgreSQL's own folders).

A user who is not root gets one line naming what root must run once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from stack.base import REPO_ROOT, PrerequisiteMissing
from stack.phases import phase

VERSION = "2.28.3"
TARBALL_NAME = f"timescaledb-{VERSION}.tar.gz"
BUILD_PACKAGES = ("postgresql-server-dev-{major}", "cmake", "gcc", "make")
BOOTSTRAP_FLAGS = ("-DREGRESS_CHECKS=OFF", "-DTAP_CHECKS=OFF", "-DWARNINGS_AS_ERRORS=OFF", "-DLINTER=OFF",
                   "-DCMAKE_BUILD_TYPE=Release", "-DGENERATE_DOWNGRADE_SCRIPT=OFF")
ROOT_HINT = "as root, run once: python3 -m stack install-timescaledb"


def tarball() -> Path:
    """The vendored source release: ``$POLYALEMBIC_TIMESCALEDB_TARBALL`` or ``../shared/vendor/``."""
    override = os.environ.get("POLYALEMBIC_TIMESCALEDB_TARBALL")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "vendor" / TARBALL_NAME


def pg_dirs(bindir: Path) -> tuple[Path, Path]:
    """PostgreSQL's ``pkglibdir`` and ``sharedir`` for the server in ``bindir`` (Debian layout when
    ``pg_config`` is absent: /usr/lib/postgresql/N/lib and /usr/share/postgresql/N)."""
    pg_config = bindir / "pg_config"
    if pg_config.exists():
        out = subprocess.run([str(pg_config), "--pkglibdir", "--sharedir"], capture_output=True, text=True,
                             check=False).stdout.split()
        if len(out) == 2:
            return Path(out[0]), Path(out[1])
    major = bindir.parent.name
    return bindir.parent / "lib", Path("/usr/share/postgresql") / major


def installed(bindir: Path) -> bool:
    """True when this TimescaleDB version's library and install script are in PostgreSQL's folders."""
    libdir, sharedir = pg_dirs(bindir)
    return ((libdir / f"timescaledb-{VERSION}.so").exists()
            and (sharedir / "extension" / f"timescaledb--{VERSION}.sql").exists())


def server_major(bindir: Path) -> str:
    """The PostgreSQL major version of the binaries in ``bindir`` (e.g. ``15``)."""
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.split()[-1].split(".")[0] if out.returncode == 0 else bindir.parent.name


def verify_checksum(path: Path) -> None:
    """PrerequisiteMissing unless ``path`` exists and matches the sha256 recorded beside it."""
    sums = path.with_name(path.name + ".sha256")
    if not path.exists() or not sums.exists():
        raise PrerequisiteMissing(f"TimescaleDB source {path} (and its .sha256) not found: "
                                  "check out the project beside its shared/ folder, or set "
                                  "POLYALEMBIC_TIMESCALEDB_TARBALL")
    expected = sums.read_text().split()[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise PrerequisiteMissing(f"{path}: sha256 {digest} does not match {sums.name} ({expected}): "
                                  "restore the vendored file")


def missing_build_packages(bindir: Path) -> list[str]:
    """Debian packages the build needs that are not installed."""
    major = server_major(bindir)
    wanted = [p.format(major=major) for p in BUILD_PACKAGES]
    missing = []
    for package in wanted:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True,
                             check=False)
        if "install ok installed" not in out.stdout:
            missing.append(package)
    return missing


def _run(args: list[str], cwd: Path, what: str, log: Path) -> None:
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{what} failed (log: {log}):\n{tail}")


def install_build_packages(packages: list[str]) -> None:
    """``apt-get install`` the build packages: the download first, then the install, each a phase."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (
        (f"apt-get update and download {' '.join(packages)}", "download",
         [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--download-only", *packages]]),
        (f"apt-get install {' '.join(packages)}", "work", [["apt-get", "install", "-y", "-qq", *packages]]),
    )
    for name, kind, commands in steps:
        with phase(name, kind):
            for args in commands:
                result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
                if result.returncode != 0:
                    raise PrerequisiteMissing(f"'{' '.join(args)}' failed: {result.stderr.strip()[-300:]}")


def build(source: Path, work: Path, bindir: Path, log: Path) -> None:
    """Unpack (once), configure (once) and build the release in ``work``, then install it."""
    src = work / f"timescaledb-{VERSION}"
    if not (src / "bootstrap").exists():
        shutil.rmtree(src, ignore_errors=True)
        with tarfile.open(source) as archive:
            archive.extractall(work, filter="data")
    build_dir = src / "build"
    if not (build_dir / "Makefile").exists():
        shutil.rmtree(build_dir, ignore_errors=True)
        pg_config = bindir / "pg_config"
        extra = [f"-DPG_CONFIG={pg_config}"] if pg_config.exists() else []
        _run(["./bootstrap", *BOOTSTRAP_FLAGS, *extra], src, "TimescaleDB bootstrap (cmake)", log)
    _run(["make", f"-j{os.cpu_count() or 2}"], build_dir, "TimescaleDB build", log)
    _run(["make", "install"], build_dir, "TimescaleDB make install", log)


def ensure(bindir: Path, cache_dir: Path) -> str:
    """Make TimescaleDB ``VERSION`` loadable by the server in ``bindir``; say what was done."""
    if installed(bindir):
        return "installed"
    missing = missing_build_packages(bindir)
    if os.geteuid() != 0:
        also = f" (it installs {' '.join(missing)} and the extension)" if missing else ""
        raise PrerequisiteMissing(f"TimescaleDB {VERSION} is not installed for PostgreSQL in {bindir}: "
                                  f"{ROOT_HINT}{also}")
    source = tarball()
    verify_checksum(source)
    work = cache_dir / f"timescaledb-{VERSION}"
    work.mkdir(parents=True, exist_ok=True)
    log = work / "build.log"
    if missing:
        install_build_packages(missing)
    with phase(f"build TimescaleDB {VERSION} (cmake, make -j{os.cpu_count() or 2}, make install)"):
        build(source, work, bindir, log)
    if not installed(bindir):
        raise RuntimeError(f"TimescaleDB {VERSION} was built but is not in PostgreSQL's folders (log: {log})")
    return "built and installed"
