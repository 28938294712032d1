"""The deployment kit (deploy/, .github/workflows/migrate.yml), checked without Docker.

No Docker runs here, so each file goes through a real validator: the Compose Specification's
JSON schema for the compose file, actionlint for the workflow, a Dockerfile parser plus the
rules a job image must keep. A missing validator fails the test with how to install it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit import validators

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "docker-compose.yml"
WORKFLOW = REPO / ".github" / "workflows" / "migrate.yml"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
ENV_EXAMPLE = REPO / "deploy" / ".env.example"
# what polyalembic reads (README, "Configuration"); the kit must set each for the job
VARIABLES = ("TIMESCALE_DSN", "NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "CHROMA_HOST", "CHROMA_PORT")


def _need(module: str):
    try:
        return __import__(module)
    except ImportError:
        pytest.fail(f"{module} is missing: pip install {module.replace('_', '-')} (in the dev extra)", pytrace=False)


def test_compose_file_matches_the_compose_specification() -> None:
    jsonschema = _need("jsonschema")
    schema = validators.compose_schema()
    if schema is None:
        pytest.fail(f"the compose-spec schema is missing: {validators.INSTALL}", pytrace=False)
    document = yaml.safe_load(COMPOSE.read_text())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(json.loads(schema.read_text())).iter_errors(document)]
    assert errors == []


def test_compose_services_are_healthchecked_and_the_job_waits_for_them() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    images = {name: s["image"] for name, s in services.items() if "image" in s}
    assert re.fullmatch(r"timescale/timescaledb:2\.\d+\.\d+-pg15", images["timescaledb"])
    assert images["neo4j"].startswith("neo4j:5.26")
    assert re.fullmatch(r"chromadb/chroma:\d+\.\d+\.\d+", images["chroma"])
    for name in images:
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    job = services["migrate"]
    assert set(VARIABLES) <= set(job["environment"])
    assert {dep: "service_healthy" for dep in images} == {d: c["condition"] for d, c in job["depends_on"].items()}


def test_no_secret_is_committed() -> None:
    """Passwords come from ``${VAR}``; the only literal ones are the example's placeholders."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    secret = re.compile("PASSWORD|AUTH|DSN|CREDENTIALS")
    values = [v for s in services.values() for k, v in s.get("environment", {}).items() if secret.search(k)]
    assert values and all("${" in v for v in values), values
    placeholders = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                        if line and not line.startswith("#"))
    assert all("local-dev" in v for k, v in placeholders.items() if "PASSWORD" in k)
    assert "/deploy/.env" in (REPO / ".gitignore").read_text().splitlines()
    workflow = WORKFLOW.read_text()
    deploy_env = yaml.safe_load(workflow)["jobs"]["deploy"]["env"]
    assert all(v.startswith("${{ secrets.") for k, v in deploy_env.items() if "PASSWORD" in k or "DSN" in k)


def test_workflow_passes_actionlint() -> None:
    actionlint = validators.actionlint()
    if actionlint is None:
        pytest.fail(f"actionlint {validators.ACTIONLINT} is missing: {validators.INSTALL}", pytrace=False)
    result = subprocess.run([actionlint, "-no-color", WORKFLOW], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_validates_migrates_and_checks_against_service_containers() -> None:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["migrate"]
    assert set(job["services"]) == {"timescaledb", "neo4j", "chroma"}
    assert all("--health-cmd" in s["options"] for s in job["services"].values())
    assert set(VARIABLES) <= set(job["env"])
    commands = [step["run"] for step in job["steps"] if "run" in step]
    ran = [c for c in commands if c.startswith("polyalembic ")]
    assert ran == ["polyalembic validate", "polyalembic up", "polyalembic status --check --drift"]


def test_dockerfile_is_a_pinned_non_root_polyalembic_job() -> None:
    dockerfile_parse = _need("dockerfile_parse")
    parser = dockerfile_parse.DockerfileParser(path=str(DOCKERFILE), cache_content=False)
    instructions = parser.structure
    assert all(i["instruction"] in {"FROM", "RUN", "COPY", "WORKDIR", "USER", "ENTRYPOINT", "CMD", "COMMENT"}
               for i in instructions)
    for image in parser.parent_images:
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", image), f"{image}: pin the full version"
    final = parser.content.split("\nFROM ")[-1]  # the last stage is the image that runs
    users = [i["value"] for i in instructions if i["instruction"] == "USER"]
    assert users and users[-1] not in {"root", "0"} and "USER" in final
    assert json.loads(parser.content.split("ENTRYPOINT", 1)[1].splitlines()[0]) == ["polyalembic"]
    copied = {i["value"].split()[0] for i in instructions if i["instruction"] == "COPY"}
    assert {"alembic.ini", "migrations"} <= copied
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") + 1:] and "!.stack" not in ignore


FLEET_JOB = REPO / "deploy" / "kubernetes" / "fleet-job.yaml"


def _fleet_documents() -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(FLEET_JOB.read_text())}


def test_the_fleet_job_passes_kubernetes_validate_strictly() -> None:
    kubernetes_validate = _need("kubernetes_validate")
    for document in _fleet_documents().values():  # raises, naming the field, on anything the schema refuses
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)
    broken = _fleet_documents()["Job"]
    broken["spec"]["paralelism"] = broken["spec"].pop("parallelism")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_the_fleet_job_runs_one_shard_per_index_of_a_fleet_file_polyalembic_reads(tmp_path: Path) -> None:
    from polyalembic.fleet.targets import read_fleet, shard
    from polyalembic.settings import connection_keys

    documents = _fleet_documents()
    spec = documents["Job"]["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    container = spec["template"]["spec"]["containers"][0]
    command = " ".join(container["command"])
    assert f"polyalembic fleet up /fleet/fleet.toml --shard $((JOB_COMPLETION_INDEX + 1))/{spec['completions']}" \
        in command
    secrets_from = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert secrets_from == {"APP_DB_PASSWORD": "polyalembic-fleet", "NEO4J_PASSWORD": "polyalembic-fleet"}
    path = tmp_path / "fleet.toml"
    path.write_text(documents["ConfigMap"]["data"]["fleet.toml"])
    fleet = read_fleet(path, connection_keys(), {"APP_DB_PASSWORD": "a", "NEO4J_PASSWORD": "n"})
    shards = [shard(fleet, k, spec["completions"]).targets for k in range(1, spec["completions"] + 1)]
    assert sorted(t.name for part in shards for t in part) == sorted(t.name for t in fleet.targets)
    assert fleet.targets[0].env["POSTGRES_DSN"] == "postgresql://app:a@postgres.db.svc:5432/app_acme"
