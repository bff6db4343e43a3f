"""DAT and OPT writers, byte for byte."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from archiver.exports.loadfiles import (
    DAT_FIELDS,
    DatWriter,
    OptWriter,
    dat_value,
    load_path,
    open_text,
    read_dat,
)


def test_dat_bytes_are_exact(tmp_path: Path) -> None:
    path = tmp_path / "x.dat"
    with open_text(path) as fh:
        writer = DatWriter(fh, ("BEGBATES", "AUTHOR", "NATIVEPATH"))
        writer.row({"BEGBATES": "KPD-0000001", "AUTHOR": "a\r\nb\nc\u0014d\u00fee",
                    "NATIVEPATH": load_path("NATIVES", "0001", "KPD-0000001.json")})
    data = path.read_bytes()
    expected = ("\ufeff\u00feBEGBATES\u00fe\u0014\u00feAUTHOR\u00fe\u0014\u00feNATIVEPATH\u00fe"
                "\r\n\u00feKPD-0000001\u00fe\u0014\u00fea\u00aeb\u00aec d e\u00fe\u0014"
                "\u00feNATIVES\\0001\\KPD-0000001.json\u00fe\r\n")
    assert data == expected.encode("utf-8")
    rows = list(read_dat(path))
    assert rows == [{"BEGBATES": "KPD-0000001", "AUTHOR": "a\nb\nc d e",
                     "NATIVEPATH": "NATIVES\\0001\\KPD-0000001.json"}]


@given(st.lists(st.text(), min_size=len(DAT_FIELDS), max_size=len(DAT_FIELDS)))
def test_any_text_round_trips_as_cleaned(values: list[str]) -> None:
    buf = io.StringIO(newline="")
    writer = DatWriter(buf)
    writer.row(dict(zip(DAT_FIELDS, values, strict=True)))
    lines = buf.getvalue().lstrip("\ufeff").split("\r\n")
    assert len(lines) == 3 and lines[2] == ""
    cells = lines[1].split("\u0014")
    assert len(cells) == len(DAT_FIELDS)
    for cell, value in zip(cells, values, strict=True):
        assert cell == "\u00fe" + dat_value(value) + "\u00fe"
        assert "\n" not in cell and "\r" not in cell


def test_opt_line() -> None:
    buf = io.StringIO(newline="")
    OptWriter(buf, "VOL001").document("KPD-0000001", "IMAGES\\0001\\KPD-0000001.pdf", 3)
    assert buf.getvalue() == "KPD-0000001,VOL001,IMAGES\\0001\\KPD-0000001.pdf,Y,,,3\r\n"
