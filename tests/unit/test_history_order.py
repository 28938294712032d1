"""The history's one order, read from the files' text, against Alembic's own revision map on a
generated Alembic history (hex ids, merges, depends_on, a branch label); and what refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyalembic.chain.loader import indexed_chain, script_chain
from polyalembic.chain.migration import DECLARED_IRREVERSIBLE, NO_DOWNGRADE, Migration
from polyalembic.chain.order import heads, in_order
from polyalembic.chain.positions import History
from polyalembic.errors import PolyalembicError
from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.alembic_history import alembic_ini, write_history


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, object]:
    root = tmp_path_factory.mktemp("history")
    history = write_history(root / "migrations" / "versions", 120, alembic_style_irreversible=True)
    return Project(alembic_ini(root), settings=Settings({})), history


def test_the_index_and_alembic_give_one_order_that_puts_parents_first(generated: tuple[Project, object]) -> None:
    project, history = generated
    indexed = project.indexed_chain()
    assert indexed is not None  # merges, depends_on and labels need no Alembic load
    loaded = script_chain(project.script(), project.folder_stores)
    assert [m.revision for m in indexed] == [m.revision for m in loaded]
    position = {m.revision: i for i, m in enumerate(indexed)}
    for m in indexed:
        assert all(position[parent] < position[m.revision] for parent in m.down)
    assert position[history.labelled] < position[history.depending]  # type: ignore[attr-defined]
    assert [m.revision for m in heads(indexed)] == list(project.script().get_heads())
    merges = [m.revision for m in indexed if m.is_merge]
    assert merges == history.merges  # type: ignore[attr-defined]
    kinds = {m.revision: m.reversal for m in indexed if m.revision in history.irreversible}  # type: ignore[attr-defined]
    assert set(kinds.values()) == {NO_DOWNGRADE}


def test_a_linear_history_keeps_its_chain_and_a_branch_goes_on_before_its_sibling(tmp_path: Path) -> None:
    def m(rev: str, *down: str) -> Migration:
        return Migration(rev, "postgres", tmp_path, f"{rev}.py", down=down)

    chain = [m("c", "b"), m("a"), m("x", "a"), m("b", "a"), m("y", "x"), m("j", "c", "y")]
    assert [n.revision for n in in_order(chain)] == ["a", "b", "c", "x", "y", "j"]


def test_what_no_history_can_be_is_one_line_naming_the_file(tmp_path: Path) -> None:
    def m(rev: str, *down: str, name: str | None = None, depends: tuple[str, ...] = ()) -> Migration:
        return Migration(rev, "postgres", tmp_path, name or f"{rev}.py", down=down, depends=depends)

    with pytest.raises(PolyalembicError, match=r"a\.py and .*/again\.py both define revision 'a' .*"
                                               r"`polyalembic rebase again\.py`"):
        in_order([m("a"), m("a", name="again.py")])
    with pytest.raises(PolyalembicError, match=r"b\.py: down_revision names 'gone', which no revision file defines"):
        in_order([m("a"), m("b", "gone")])
    with pytest.raises(PolyalembicError, match=r"part of a cycle"):
        in_order([m("a"), m("b", "a", "c"), m("c", "b")])
    with pytest.raises(PolyalembicError, match=r"depends_on names 'zz', which is no revision or branch label"):
        in_order([m("a"), m("b", "a", depends=("zz",))])


def test_down_stops_in_front_of_an_irreversible_revision_in_one_line(tmp_path: Path) -> None:
    chain = [Migration("a", "postgres", tmp_path, "a.py"),
             Migration("b", "postgres", tmp_path, "b.py", down=("a",), reversal=DECLARED_IRREVERSIBLE),
             Migration("c", "postgres", tmp_path, "c.py", down=("b",)),
             Migration("d", "postgres", tmp_path, "d.py", down=("c",))]
    history = History(chain)
    assert [m.revision for m in history.downgrade_plan(("d",), 2)] == ["d", "c"]
    with pytest.raises(PolyalembicError, match=r"cannot roll back postgres b\.py \(b\): it is irreversible \(it "
                                               r"declares irreversible = True\): `down 2` reverts the 2 applied"):
        history.downgrade_plan(("d",), 3)


def test_the_index_reads_a_hundred_digit_number_in_a_name_without_counting_to_it(tmp_path: Path) -> None:
    folder = tmp_path / "postgres"
    folder.mkdir()
    (folder / f"{'9' * 100}_x.py").write_text('revision = "9999"\ndown_revision = None\n'
                                              "def upgrade():\n    pass\ndef downgrade():\n    pass\n")
    chain = indexed_chain([folder])
    assert chain is not None and [m.revision for m in chain] == ["9999"]
