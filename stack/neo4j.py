"""Neo4j Community from Maven Central, in two release lines: 5.26 LTS (Java 17+) and the newest
calendar release (Java 21+). Each line is its own service with its own folder and jars; the
versions are pinned here and bumped on purpose (``stack/maven/neo4j-pom.xml`` takes the version as
a property)."""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from stack.base import (
    HOST,
    REPO_ROOT,
    PrerequisiteMissing,
    Service,
    ServiceState,
    StartFailed,
    free_port,
    pid_alive,
    port_open,
    require_tool,
    spawn,
    stop_pid,
    wait_until,
)
from stack.phases import phase

POM = REPO_ROOT / "stack" / "maven" / "neo4j-pom.xml"


@dataclass(frozen=True)
class ReleaseLine:
    """One Neo4j release line: the pinned version, its entry class and the Java it needs."""

    version: str
    entry_point: str
    java_major: int


LINES = {
    "lts": ReleaseLine("5.26.30", "org.neo4j.server.CommunityEntryPoint", 17),
    "newest": ReleaseLine("2026.08.1", "org.neo4j.server.Neo4jCommunity", 21),
}
ADMIN_TOOL = "org.neo4j.cli.AdminTool"
USER = "neo4j"
DATABASE = "neo4j"
JAVA_HINT = "a Java {major}+ runtime (openjdk-17-jre-headless from Debian for 5.26; Temurin 21+ for 2026.x)"
HEALTH_QUERY = ("CALL dbms.components() YIELD name, versions WHERE name = 'Neo4j Kernel' "
                "RETURN versions[0] AS version")

# What the neo4j launcher script would add from the stock neo4j.conf's server.jvm.additional.
# The --add-opens flags let the page cache and native file access work without fallbacks
# (otherwise debug.log fills with "Incorrect file descriptor" warnings).
JVM_FLAGS = [
    "-Xms256m",
    "-Xmx768m",
    "-XX:+IgnoreUnrecognizedVMOptions",  # one flag list for Java 17 and 25
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
]


def java_major(java: str) -> int:
    """The major version of ``java`` (8 for 1.8, 17 for 17.0.x); 0 when unparseable."""
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_java(minimum: int) -> str:
    """A ``java`` of at least ``minimum``: on PATH first, else the newest under /usr/lib/jvm."""
    candidates = [shutil.which("java") or ""]
    candidates += sorted(glob.glob("/usr/lib/jvm/*/bin/java"), reverse=True)
    found = [(java_major(c), c) for c in dict.fromkeys(candidates) if c and Path(c).exists()]
    usable = [(major, java) for major, java in found if major >= minimum]
    if not usable:
        raise PrerequisiteMissing(f"no Java {minimum}+ found (saw: {', '.join(str(m) for m, _ in found) or 'none'}): "
                                  f"install {JAVA_HINT.format(major=minimum)}")
    return usable[0][1]


class Neo4jService(Service):
    """A private Neo4j Community 5.26 LTS server (data in .stack/neo4j, jars in the user cache)."""

    name = "neo4j"
    line = LINES["lts"]
    #: neo4j.conf settings on top of the generated ones (a read-only server for the tests, say)
    overrides: ClassVar[dict[str, str]] = {}

    @property
    def lib_dir(self) -> Path:
        return self.cache_dir / "neo4j" / self.line.version / "lib"

    @property
    def conf_dir(self) -> Path:
        return self.dir / "conf"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    def check_prerequisites(self) -> None:
        find_java(self.line.java_major)
        require_tool("mvn", "Maven, e.g. 'apt-get install maven'")

    def _pom_hash(self) -> str:
        return hashlib.sha256(POM.read_bytes() + self.line.version.encode()).hexdigest()

    def _jars_installed(self) -> bool:
        marker = self.lib_dir / ".pom-sha256"
        return marker.exists() and marker.read_text().strip() == self._pom_hash()

    def install(self) -> None:
        """Copy the server's jars from Maven Central into the cache, unless the pom is unchanged."""
        if self._jars_installed():
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # services start in parallel, two of them on the same version (the LTS and the read-only
        # LTS): one Maven at a time in the shared local repository, and the second finds the jars
        with open(self.cache_dir / "m2.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self._jars_installed():
                with phase(f"fetch Neo4j {self.line.version} jars (Maven Central)", "download"):
                    self._copy_jars()

    def _copy_jars(self) -> None:
        staging = self.lib_dir.with_name("lib.partial")
        shutil.rmtree(staging, ignore_errors=True)
        result = subprocess.run(
            ["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(POM), f"-Dneo4j.version={self.line.version}",
             "dependency:copy-dependencies",
             f"-DoutputDirectory={staging}", f"-Dmaven.repo.local={self.cache_dir / 'm2'}"],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0 or not any(staging.glob("neo4j-*.jar")):
            output = (result.stdout + result.stderr).strip()[-1500:]
            raise RuntimeError(f"fetching Neo4j jars with Maven failed:\n{output}")
        (staging / ".pom-sha256").write_text(self._pom_hash())
        shutil.rmtree(self.lib_dir, ignore_errors=True)  # no stale jars of another version
        staging.rename(self.lib_dir)

    def password(self) -> str:
        """The neo4j user's password; a lost password file can't be recovered from the store."""
        if not (self.dir / "password").exists() and (self.data_dir / "databases" / "system").exists():
            raise StartFailed(
                f"{self.dir / 'password'} is missing but {self.data_dir} already has a store with another "
                f"password: delete {self.data_dir} to start afresh")
        return super().password()

    def _write_conf(self, bolt_port: int, http_port: int) -> None:
        d = self.dir
        settings = {
            "server.directories.data": d / "data",
            "server.directories.transaction.logs.root": d / "data" / "transactions",
            "server.directories.dumps.root": d / "data" / "dumps",
            "server.directories.logs": d / "logs",
            "server.directories.plugins": d / "plugins",
            "server.directories.import": d / "import",
            "server.directories.run": d / "run",
            "server.directories.licenses": d / "licenses",
            "server.directories.lib": self.lib_dir,
            "server.default_listen_address": HOST,
            "server.default_advertised_address": HOST,
            "server.bolt.enabled": "true",
            "server.bolt.listen_address": f"{HOST}:{bolt_port}",
            "server.bolt.tls_level": "DISABLED",
            "server.http.enabled": "true",
            "server.http.listen_address": f"{HOST}:{http_port}",
            "server.https.enabled": "false",
            "server.memory.pagecache.size": "128m",
            "dbms.memory.transaction.total.max": "256m",
            "dbms.security.auth_enabled": "true",
            "dbms.usage_report.enabled": "false",
            "db.tx_log.rotation.retention_policy": "2 files",
            "db.tx_log.rotation.size": "32M",
            "db.tx_log.preallocate": "false",  # else 256 MiB of log file per database up front
            "initial.dbms.default_database": DATABASE,
            **self.overrides,
        }
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        lines = ["# generated by stack/neo4j.py on every start; edit the module, not this file"]
        lines += [f"{key}={value}" for key, value in settings.items()]
        (self.conf_dir / "neo4j.conf").write_text("\n".join(lines) + "\n")

    def _set_initial_password(self, java: str, password: str) -> None:
        """``neo4j-admin dbms set-initial-password``, only before the store's first start."""
        if (self.data_dir / "databases" / "system").exists():
            return
        result = subprocess.run(
            [java, "-cp", f"{self.lib_dir}/*", ADMIN_TOOL, "dbms", "set-initial-password", password],
            env={**os.environ, "NEO4J_HOME": str(self.dir), "NEO4J_CONF": str(self.conf_dir)},
            capture_output=True, text=True, check=False, timeout=120,
        )
        if result.returncode != 0:
            raise StartFailed(f"neo4j-admin set-initial-password failed: {(result.stdout + result.stderr)[-800:]}")

    def _stop_leftover(self) -> None:
        """Stop a server of ours still holding the store (e.g. started but never healthy)."""
        state = self.load_state()
        if state is None or not pid_alive(state.pid):
            return
        try:
            cmdline = Path(f"/proc/{state.pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return
        if self.line.entry_point in cmdline and str(self.conf_dir) in cmdline:
            stop_pid(state.pid)

    def start(self) -> ServiceState:
        java = find_java(self.line.java_major)
        self._stop_leftover()
        password = self.password()
        bolt_port, http_port = free_port(), free_port()
        while http_port == bolt_port:
            http_port = free_port()
        self._write_conf(bolt_port, http_port)
        for sub in ("data", "logs", "plugins", "import", "run", "licenses"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        self._set_initial_password(java, password)
        pid = spawn(
            [java, *JVM_FLAGS, "-cp", f"{self.lib_dir}/*", self.line.entry_point,
             f"--home-dir={self.dir}", f"--config-dir={self.conf_dir}", "--console-mode"],
            self.log_path, cwd=self.dir,
        )
        state = ServiceState(
            name=self.name, pid=pid, port=bolt_port, version=self.line.version,
            settings={
                "NEO4J_URI": f"bolt://{HOST}:{bolt_port}",
                "NEO4J_USER": USER,
                "NEO4J_PASSWORD": password,
                "NEO4J_DATABASE": DATABASE,
            },
            extra={"http_port": http_port},
        )
        try:
            wait_until(lambda: port_open(bolt_port) and self.is_healthy(state), 120, "Neo4j",
                       self.log_path, pid)
        except StartFailed:
            stop_pid(pid)
            raise
        state.version = self._version(state) or state.version
        return state

    def _version(self, state: ServiceState, timeout: float = 5.0) -> str:
        """The running server's version, via a real Bolt query as the configured user."""
        from neo4j import GraphDatabase

        settings = state.settings
        with GraphDatabase.driver(
            settings["NEO4J_URI"], auth=(settings["NEO4J_USER"], settings["NEO4J_PASSWORD"]),
            connection_timeout=timeout, connection_acquisition_timeout=timeout,
            max_connection_pool_size=1,
        ) as driver, driver.session(database=settings["NEO4J_DATABASE"]) as session:
            record = session.run(HEALTH_QUERY).single()
            return str(record["version"]) if record else ""

    def is_healthy(self, state: ServiceState) -> bool:
        try:
            return bool(self._version(state, timeout=3.0))
        except Exception:  # noqa: BLE001 - health is a yes-or-no question
            return False


class Neo4jNewestService(Neo4jService):
    """The newest calendar release, beside the LTS: the engine and op tests run on both."""

    name = "neo4j-newest"
    line = LINES["newest"]


class Neo4jReadOnlyService(Neo4jService):
    """The LTS with its databases read-only by configuration, for the tests of a server that
    refuses writes: Community has no roles, so such a server is one that says so in its
    neo4j.conf. A store is created writable and the setting applies from the next start, so the
    first start makes the store, stops, and starts again; later starts (and `stack up` while it
    runs) reuse that store."""

    name = "neo4j-read-only"
    overrides: ClassVar[dict[str, str]] = {"server.databases.default_to_read_only": "true"}

    def start(self) -> ServiceState:
        if not (self.data_dir / "databases" / DATABASE).exists():
            self.overrides = {}  # this instance's first start only: the store is made writable
            try:
                self.stop(super().start())
            finally:
                del self.overrides
        return super().start()

