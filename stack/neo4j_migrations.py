"""The neo4j-migrations CLI (2.19.2), the other tool polyalembic measures itself against
(bench/neo4j_scale.py) and adopts histories of (tests/n4m_tool.py): its jars come from Maven
Central into the per-user cache once, as the stack's Neo4j jars do, and run on Java 17+."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from stack.base import CACHE_DIR, REPO_ROOT, require_tool
from stack.neo4j import find_java

VERSION = "2.19.2"
POM = REPO_ROOT / "stack" / "maven" / "neo4j-migrations-pom.xml"
MAIN_CLASS = "ac.simons.neo4j.migrations.cli.MigrationsCli"
#: the release's bytecode level (neo4j-migrations 2.x is built for Java 17)
JAVA = 17


def classpath(cache_dir: Path = CACHE_DIR) -> str:
    """The CLI's classpath: its two jars (``dependency:get``, no transitive resolution: their parent
    POM is not on Maven Central) and their dependencies (``POM``), fetched once into the cache."""
    lib = cache_dir / "neo4j-migrations" / VERSION
    repo = cache_dir / "m2"
    jars = [repo / "eu" / "michael-simons" / "neo4j" / a / VERSION / f"{a}-{VERSION}.jar"
            for a in ("neo4j-migrations-cli", "neo4j-migrations")]
    if not lib.is_dir() or not all(j.exists() for j in jars):
        require_tool("mvn", "Maven, e.g. 'apt-get install maven'")
        mvn = ["mvn", "-q", "-B", "-Dstyle.color=never", f"-Dmaven.repo.local={repo}"]
        cache_dir.mkdir(parents=True, exist_ok=True)
        with open(cache_dir / "m2.lock", "w") as lock:  # one Maven at a time in the shared repository
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not lib.is_dir() or not all(j.exists() for j in jars):  # another process may have done it
                for artifact in ("neo4j-migrations-cli", "neo4j-migrations"):
                    subprocess.run([*mvn, "dependency:get", "-Dtransitive=false",
                                    f"-Dartifact=eu.michael-simons.neo4j:{artifact}:{VERSION}"], check=True)
                staging = lib.with_name(f"{lib.name}.partial")
                shutil.rmtree(staging, ignore_errors=True)
                subprocess.run([*mvn, "-f", str(POM), "dependency:copy-dependencies",
                                f"-DoutputDirectory={staging}"], check=True)
                shutil.rmtree(lib, ignore_errors=True)
                staging.rename(lib)
    return os.pathsep.join([*map(str, jars), str(lib / "*")])


def command(uri: str, user: str, database: str, *arguments: str) -> list[str]:
    """``java -cp ... MigrationsCli --address URI ... <arguments>``; the password is read from
    ``$NEO4J_PASSWORD`` (``--password:env``), never put on the command line."""
    return [find_java(JAVA), "-cp", classpath(), MAIN_CLASS, "--address", uri, "--username", user,
            "--password:env=NEO4J_PASSWORD", "--database", database, *arguments]
