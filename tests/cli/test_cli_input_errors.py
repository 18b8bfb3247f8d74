"""Bad input is exit 2 before any training; a closed pipe stops quietly (issue 13 item 7, issue 14 item 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehrsynth.cli.main import EXIT_BROKEN_PIPE, main

REPO = Path(__file__).resolve().parents[2]
FAST = ["--epochs", "1", "--ae-epochs", "1", "--query-steps", "30", "--quiet", "--seed", "0"]


def _dates_table(path: Path, dates: list[str]) -> Path:
    n = len(dates)
    rng = np.random.default_rng(0)
    pd.DataFrame({"age": rng.integers(20, 90, n), "visit_date": dates}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("kind", ["day_first", "garbage"])
def test_bad_dates_under_dp_fail_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    days = pd.date_range("2000-01-01", periods=300, freq="D")
    values = (
        list(days.strftime("%d.%m.%Y"))
        if kind == "day_first"
        else [d if i % 10 else "garbage" for i, d in enumerate(days.strftime("%Y-%m-%d"))]
    )
    real = _dates_table(tmp_path / "in.csv", values)
    assert main(["synthesize", str(real), "-o", str(tmp_path / "o.csv"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "visit_date" in err and "internal error" not in err
    assert not (tmp_path / "o.csv").exists()


def test_truncated_gzip_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    assert main(["schema", str(path)]) == 2
    assert "cannot be decompressed" in capsys.readouterr().err


class _ClosedPipe:
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_closed_stdout_stops_quietly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tmp_path / "in.csv"
    pd.DataFrame({"age": [1, 2, 3], "sex": ["F", "M", "F"]}).to_csv(real, index=False)
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["schema", str(real)]) == EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


def test_schema_piped_into_head_prints_no_error(tmp_path: Path) -> None:
    real = tmp_path / "wide.csv"
    pd.DataFrame(np.zeros((3, 3000), dtype=int), columns=[f"c{i}" for i in range(3000)]).to_csv(
        real, index=False
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = f'"{sys.executable}" -m ehrsynth.cli.main schema "{real}" | head -c 10 >/dev/null; echo "${{PIPESTATUS[0]}}"'
    out = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env, timeout=120)
    assert out.stderr == ""
    assert out.stdout.strip() in ("0", str(EXIT_BROKEN_PIPE))
