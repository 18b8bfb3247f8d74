"""read_table / check_dates: damaged or quirky files are one clear InvalidDataError (issue 13 items 7 and 9)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehrsynth.errors import InvalidDataError
from ehrsynth.io.tables import check_dates, read_table


def _frame(n: int = 50) -> pd.DataFrame:
    return pd.DataFrame({"age": np.arange(n), "sex": ["F", "M"] * (n // 2)})


def _raises(path: Path, words: str) -> None:
    with pytest.raises(InvalidDataError, match=words):
        read_table(path)


def test_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    data = gzip.compress(_frame(2000).to_csv(index=False).encode())
    path.write_bytes(data[: len(data) // 2])
    _raises(path, "cannot be decompressed")


def test_csv_gz_that_is_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv.gz"
    path.write_text(_frame().to_csv(index=False))
    _raises(path, "suffix does not match")


def test_truncated_and_fake_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    good = tmp_path / "good.parquet"
    _frame().to_parquet(good)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:200])
    _raises(cut, "not a readable parquet")
    fake = tmp_path / "fake.parquet"
    fake.write_text("age,sex\n1,F\n")
    _raises(fake, "not a readable parquet")


def test_ragged_csv(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    _raises(path, "Expected 2 fields in line 3")


def test_duplicate_header_named_from_the_raw_header(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("age,sex,age\n1,F,2\n")
    _raises(path, r"duplicate column names \['age'\]")
    ok = tmp_path / "ok.csv"  # a real column called age.1 is not a duplicate
    ok.write_text("age,age.1\n1,2\n")
    assert list(read_table(ok).columns) == ["age", "age.1"]


def test_empty_header_cell(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    _frame().to_csv(path)  # with the index: the first header cell is empty
    _raises(path, "empty header cell in column position")


def test_semicolon_separated_file(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    _frame().to_csv(path, sep=";", index=False)
    _raises(path, "semicolon-separated")
    tab = tmp_path / "t.csv"
    _frame().to_csv(tab, sep="\t", index=False)
    _raises(tab, "tab-separated")


def test_duplicate_parquet_columns_are_refused(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["age", "age"])
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    with pytest.raises(InvalidDataError):  # pyarrow refuses them first; either way one clear error
        read_table(path)


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (["26.12.2006", "01.02.2003"] * 10, "day-first dates such as '26.12.2006'"),
        (["13/01/2020", "01/02/2003"] * 10, "day-first dates such as '13/01/2020'"),
        (["2020-01-02"] * 18 + ["garbage", "n/a"], "2 value\\(s\\) that are not dates"),
        (["2020-02-31"] * 20, "impossible dates"),
    ],
)
def test_misread_dates_are_refused(values: list[str], words: str) -> None:
    with pytest.raises(InvalidDataError, match=words) as info:
        check_dates(pd.DataFrame({"seen": values}))
    assert info.value.column == "seen"


def test_good_dates_and_text_pass() -> None:
    frame = pd.DataFrame(
        {
            "iso": ["2020-01-02", None] * 10,
            "us": ["12/31/2020", "01/02/2003"] * 10,
            "sex": ["F", "M"] * 10,
            "version": ["1.2.3", "10.1.22"] * 10,
        }
    )
    check_dates(frame)


def test_date_named_column_without_dates_is_refused_when_names_count() -> None:
    import re

    frame = pd.DataFrame({"visit_date": ["early", "late"] * 10})
    check_dates(frame)  # without DP names mean nothing
    with pytest.raises(InvalidDataError, match="named like a date"):
        check_dates(frame, date_names=re.compile("date"))
