"""``[polyalembic] target_metadata``: which MetaData each SQL store is compared with, and the one
line a bad value gives (the same lines `alembic check` prints: tests/test_catalogue.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from polyalembic.errors import PolyalembicError
from polyalembic.runtime.target_metadata import configured, load, sql_stores

MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()

class Base:
    metadata = metadata

registry = {"a": 1}
"""


def test_the_sql_stores_come_from_the_store_contract() -> None:
    assert sql_stores() == ["postgres", "timescaledb"]


def test_a_store_s_own_setting_wins_over_the_shared_one() -> None:
    assert configured({"here": "/x", "env_file": "e"}) == {}
    assert configured({"target_metadata": " app.models:metadata "}) == {
        "postgres": ("target_metadata", "app.models:metadata"),
        "timescaledb": ("target_metadata", "app.models:metadata")}
    assert configured({"target_metadata": "a:m", "target_metadata.timescaledb": "b:m"}) == {
        "postgres": ("target_metadata", "a:m"), "timescaledb": ("target_metadata.timescaledb", "b:m")}
    assert configured({"target_metadata.timescaledb": "b:m"}) == {
        "timescaledb": ("target_metadata.timescaledb", "b:m")}


def test_a_setting_for_a_store_autogenerate_does_not_compare_is_refused() -> None:
    with pytest.raises(PolyalembicError, match=r"target_metadata.neo4j: neo4j is not a store autogenerate compares "
                                               r"\(SQL stores: postgres, timescaledb\)"):
        configured({"target_metadata.neo4j": "a:m"})


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "target_models_sample.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "target_models_sample"


def test_load_finds_the_metadata_also_behind_an_attribute_path(models: str) -> None:
    assert isinstance(load("target_metadata", f"{models}:metadata"), sa.MetaData)
    assert load("target_metadata", f"{models}:Base.metadata") is load("target_metadata", f"{models}:metadata")


@pytest.mark.parametrize(("value", "line"), [
    ("{m}", "[polyalembic] target_metadata = {m}: write module:attribute, e.g. app.models:metadata"),
    ("no_such_models_module:metadata", "[polyalembic] target_metadata = no_such_models_module:metadata: cannot "
     "import no_such_models_module (ModuleNotFoundError: No module named 'no_such_models_module'): fix the module "
     "or the setting"),
    ("{m}:metadta", "[polyalembic] target_metadata = {m}:metadta: {m} has no attribute metadta: name the MetaData"),
    ("{m}:Base", "[polyalembic] target_metadata = {m}:Base: Base is a type, not a SQLAlchemy MetaData: name the "
     "MetaData ({m}:Base.metadata)"),
    ("{m}:registry", "[polyalembic] target_metadata = {m}:registry: registry is a dict, not a SQLAlchemy MetaData"),
])
def test_a_bad_value_is_one_line_naming_the_setting_and_the_value(models: str, value: str, line: str) -> None:
    with pytest.raises(PolyalembicError) as raised:
        load("target_metadata", value.format(m=models))
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(line.format(m=models)), message
