"""Helpers shared by tests (importable because pyproject sets pytest pythonpath = tests)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def make_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A small mixed EHR-like table with correlated codes and missing values (generated in-test)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    sex = rng.choice(["F", "M"], n)
    diabetic = rng.random(n) < 0.2 + 0.004 * (age - 18)
    df = pd.DataFrame(
        {
            "mrn": [f"MRN{i:06d}" for i in range(n)],
            "age": age,
            "sex": sex,
            "race": pd.Series(rng.choice(["A", "B", "C", None], n, p=[0.5, 0.3, 0.15, 0.05]), dtype=object),
            "dx_250": diabetic.astype(int),
            "dx_401": (rng.random(n) < np.where(diabetic, 0.6, 0.2)).astype(int),
            "dx_428": (rng.random(n) < 0.05).astype(int),
            "visits": rng.poisson(2 + 2 * diabetic),
            "hba1c": np.where(
                rng.random(n) < 0.3, np.nan, np.round(5.5 + 2 * diabetic + rng.normal(0, 0.5, n), 1)
            ),
        }
    )
    return df


#: Keys every DP-audit report (library and CLI JSON) must carry.
DP_AUDIT_REPORT_KEYS = frozenset(
    {
        "epsilon_claimed",
        "delta",
        "epsilon_lower_bound",
        "confidence",
        "canaries",
        "runs",
        "method",
        "attack_auc",
    }
)

# short schedules for every engine: dpsgd/hybrid epochs, the measure engine's query fit
FAST = {"epochs": 2, "ae_epochs": 2, "bn_burn_in_batches": 2, "query_steps": 30}


def code_columns(
    rng: np.random.Generator, n: int, n_codes: int, low: float, high: float, *, digits: int = 3
) -> pd.DataFrame:
    """``n`` rows x ``n_codes`` independent 0/1 codes ``dx_000``… (uint8), prevalence rising linearly from
    ``low`` to ``high``; draws one ``rng.random((n, n_codes))`` block, so callers keep their random streams."""
    codes = (rng.random((n, n_codes)) < np.linspace(low, high, n_codes)).astype(np.uint8)
    return pd.DataFrame(codes, columns=[f"dx_{i:0{digits}d}" for i in range(n_codes)])


def rewrite_config(model_dir: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` to a saved model's config.json and re-hash it in the manifest, as a hand-edited (or
    hostile) directory would be: what load then checks is the content, not the hash."""
    from ehrsynth.io.atomic import sha256_file

    path = model_dir / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))
    manifest_path = model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"]["config.json"] = sha256_file(path)
    manifest_path.write_text(json.dumps(manifest))
