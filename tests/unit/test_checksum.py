"""The checksum ignores line endings and a UTF-8 BOM, and is unchanged for an LF file without one."""

from __future__ import annotations

import hashlib
from pathlib import Path

from polyalembic.chain.checksum import byte_checksum, revision_checksum


def test_line_endings_and_a_bom_do_not_change_the_checksum(tmp_path: Path) -> None:
    lf, crlf, cr = b"a = 1\nb = 2\n", b"a = 1\r\nb = 2\r\n", b"a = 1\rb = 2\r"
    up_lf, up_crlf = tmp_path / "lf.up.sql", tmp_path / "crlf.up.sql"
    up_lf.write_bytes(b"CREATE TABLE t (id int);\n")
    up_crlf.write_bytes(b"\xef\xbb\xbfCREATE TABLE t (id int);\r\n")
    forms = {revision_checksum(lf, up_lf), revision_checksum(crlf, up_crlf), revision_checksum(cr, up_crlf),
             revision_checksum(b"\xef\xbb\xbf" + crlf, up_lf)}
    assert len(forms) == 1


def test_an_lf_file_keeps_the_checksum_recorded_before(tmp_path: Path) -> None:
    up = tmp_path / "x.up.sql"
    up.write_bytes(b"SELECT 1;\n")
    assert revision_checksum(b"x\n", up) == byte_checksum(b"x\n", up) == \
        hashlib.sha256(b"x\n" + b"SELECT 1;\n").hexdigest()


def test_a_real_change_still_changes_it(tmp_path: Path) -> None:
    assert revision_checksum(b"x\n", None) != revision_checksum(b"x \n", None)
    assert revision_checksum(b"x\n\n", None) != revision_checksum(b"x\n", None)
