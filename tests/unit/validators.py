"""The deployment kit's validators, pinned, and where they live: one place for .ci/run and the tests.

actionlint (a Go program) checks the GitHub Actions workflow; compose-go's ``compose-spec.json``
(the Compose Specification schema that ``docker compose`` itself validates with) comes as a Go
module, checksum-verified by the Go toolchain against sum.golang.org. Both land in the per-user
cache, so a second CI run costs nothing. ``python3 -m tests.unit.validators`` installs what is
missing; the Python checkers (jsonschema, dockerfile-parse) are in the ``dev`` extra.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from stack.base import user_cache_dir
from stack.phases import phase

ACTIONLINT = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
# the newest whose go.mod this machine's Go 1.26.8 accepts (v2.17.0 asks for 1.26.11)
COMPOSE_GO = "github.com/compose-spec/compose-go/v2@v2.16.2"

BIN = user_cache_dir() / "bin"
SCHEMA = user_cache_dir() / "compose-spec" / COMPOSE_GO.rsplit("@", 1)[1] / "compose-spec.json"
INSTALL = "python3 -m tests.unit.validators (needs Go >= 1.25: https://go.dev/dl)"


def actionlint() -> Path | None:
    """The pinned actionlint, if installed."""
    path = BIN / "actionlint"
    if not path.exists():
        return None
    version = subprocess.run([path, "-version"], capture_output=True, text=True).stdout.split("\n", 1)[0]
    return path if version == ACTIONLINT.rsplit("@", 1)[1] else None


def compose_schema() -> Path | None:
    return SCHEMA if SCHEMA.exists() else None


def _go(*args: str, **env: str) -> str:
    if shutil.which("go") is None:
        sys.exit("validators: go is not installed: Go >= 1.25 from https://go.dev/dl (bookworm's is too old)")
    result = subprocess.run(["go", *args], env={**os.environ, **env}, capture_output=True, text=True)
    if result.returncode:  # `go mod download -json` reports in its JSON, the others on stderr
        detail = result.stderr.strip() or json.loads(result.stdout or "{}").get("Error", "failed")
        sys.exit(f"validators: go {' '.join(args)}: {detail.splitlines()[-1]}")
    return result.stdout


def install() -> None:
    """Install what is missing (a no-op when both are in the cache)."""
    if actionlint() is None:
        BIN.mkdir(parents=True, exist_ok=True)
        with phase(f"build {ACTIONLINT.rsplit('/', 1)[1]} (go install: the module proxy, then the compiler)"):
            _go("install", ACTIONLINT, GOBIN=str(BIN))
    if compose_schema() is None:
        with phase(f"fetch the compose schema ({COMPOSE_GO.rsplit('/', 2)[1]}, the Go module proxy)", "download"):
            module = json.loads(_go("mod", "download", "-json", COMPOSE_GO))
        SCHEMA.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(module["Dir"]) / "schema" / "compose-spec.json", SCHEMA)


if __name__ == "__main__":
    install()
    print(f"validators: {actionlint()} {compose_schema()}")
