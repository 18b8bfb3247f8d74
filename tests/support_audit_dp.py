"""Fixtures shared by the `ehrsynth audit-dp` CLI tests: the command registered, one torch thread, a table.

Import both names into a test module (pytest registers fixtures found in its globals)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ehrsynth.cli.main as cli_main


@pytest.fixture(autouse=True)
def with_audit_dp(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import torch

    if "audit_dp" not in cli_main.COMMAND_MODULES:
        monkeypatch.setattr(cli_main, "COMMAND_MODULES", (*cli_main.COMMAND_MODULES, "audit_dp"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is faster, much faster on a shared machine
    yield
    torch.set_num_threads(before)


@pytest.fixture(name="table_csv")
def table_csv_fixture(tmp_path: Path) -> Path:
    """300 patients: an id, sex, 40 codes of rising prevalence and a visit count."""
    rng = np.random.default_rng(0)
    n = 300
    df = pd.DataFrame(
        (rng.random((n, 40)) < np.linspace(0.01, 0.25, 40)).astype(np.uint8),
        columns=[f"dx_{i:03d}" for i in range(40)],
    )
    df.insert(0, "patient_id", np.arange(1000, 1000 + n))
    df.insert(1, "sex", rng.choice(["F", "M"], n))
    df["visits"] = rng.poisson(2, n)
    path = tmp_path / "patients.csv"
    df.to_csv(path, index=False)
    return path
