"""Timestamps and keys with missing values on the user path: time of day and missing keys under DP.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python benchmarks/timestamps_bench.py [--epsilons 1 3] [--seeds 0 1 2]

``ehrsynth.synthesize(df, epsilon=ε, random_state=seed)`` with defaults (no schema) on a generated ICU-stay
table (MIMIC-III TRANSFERS/ICUSTAYS-like): ``intime`` timestamps peaking in the afternoon, ``outtime`` a gamma
number of hours later, ``chartdate`` a date without a time, ``icustay_id`` a float64 key missing outside the
ICU (35 % in the ICU), ``careunit`` present exactly when the key is, ``age``. Per run: the hour-of-day TVD (24
hours) of ``intime``/``outtime`` against the real table (and the TVD a midnight-only output has: what DP gave
before the time-of-day release), the share of synthetic stamps at exactly midnight, rows whose ``outtime``
precedes ``intime``, the median stay in hours, the key's missing rate, and how often ``careunit`` is present
where the key is missing (real: never).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import environment, save_json, update_section


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    day = pd.Timestamp("2150-01-01") + pd.to_timedelta(rng.integers(0, 3650, n), unit="D")
    intime = day + pd.to_timedelta(np.clip(rng.normal(15.0, 3.0, n), 0.01, 23.99), unit="h")
    outtime = intime + pd.to_timedelta(rng.gamma(2.0, 30.0, n), unit="h")
    icu = rng.random(n) < 0.35
    return pd.DataFrame(
        {
            "intime": intime.strftime("%Y-%m-%d %H:%M:%S"),
            "outtime": outtime.strftime("%Y-%m-%d %H:%M:%S"),
            "chartdate": day.strftime("%Y-%m-%d"),
            "icustay_id": np.where(icu, 200_000.0 + np.arange(n), np.nan),
            "careunit": np.where(icu, rng.choice(["MICU", "SICU", "CCU"], n), None),
            "age": rng.integers(18, 95, n),
        }
    )


def hour_tvd(real: pd.Series, synth: pd.Series) -> float:
    """TVD between the hour-of-day histograms (24 cells) of two timestamp columns."""
    a = pd.to_datetime(real).dt.hour.value_counts(normalize=True)
    b = pd.to_datetime(synth).dt.hour.value_counts(normalize=True)
    return float(0.5 * a.sub(b, fill_value=0.0).abs().sum())


def midnight_share(s: pd.Series) -> float:
    t = pd.to_datetime(s.dropna())
    return float(((t - t.dt.normalize()) == pd.Timedelta(0)).mean())


def measure(real: pd.DataFrame, synth: pd.DataFrame) -> dict[str, float]:
    stay = (pd.to_datetime(synth["outtime"]) - pd.to_datetime(synth["intime"])).dt.total_seconds() / 3600
    real_stay = (pd.to_datetime(real["outtime"]) - pd.to_datetime(real["intime"])).dt.total_seconds() / 3600
    missing = synth["icustay_id"].isna()
    midnight = pd.to_datetime(real["intime"]).dt.normalize().dt.strftime("%Y-%m-%d %H:%M:%S")
    return {
        "hour_tvd_intime": hour_tvd(real["intime"], synth["intime"]),
        "hour_tvd_outtime": hour_tvd(real["outtime"], synth["outtime"]),
        "hour_tvd_midnight_only": hour_tvd(real["intime"], midnight),
        "midnight_intime": midnight_share(synth["intime"]),
        "midnight_chartdate": midnight_share(synth["chartdate"]),
        "out_before_in": float((stay < 0).mean()),
        "stay_median_h": float(stay.median()),
        "stay_median_h_real": float(real_stay.median()),
        "key_missing": float(missing.mean()),
        "key_missing_real": float(real["icustay_id"].isna().mean()),
        "careunit_without_key": float(synth["careunit"][missing].notna().mean()) if missing.any() else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    import ehrsynth

    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--rows", type=int, default=5000)
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for eps in args.epsilons:
        for seed in args.seeds:
            real = table(args.rows, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                synth = ehrsynth.synthesize(real, epsilon=eps, random_state=seed)
            row = {"epsilon": eps, "seed": seed} | measure(real, synth)
            print(row, flush=True)
            rows.append(row)
    out = {"environment": environment(), "rows_per_table": args.rows, "runs": rows}
    path = save_json("timestamps", out)
    keys = [k for k in rows[0] if k not in ("epsilon", "seed")]
    lines = [
        "### Timestamps and keys with missing values (user path, DP)\n",
        "`"
        + f"python benchmarks/timestamps_bench.py {' '.join(sys.argv[1:])}".rstrip()
        + "`"
        + f" ({out['environment']['date']}): `ehrsynth.synthesize(df, epsilon=ε, random_state=seed)`, defaults, "
        f"on a generated {args.rows:,}-row ICU-stay table (see the script's docstring); mean over seeds "
        f"{', '.join(map(str, args.seeds))}. `hour_tvd_midnight_only` is what a midnight-only output (DP before "
        "the time-of-day release) scores.\n",
        "| ε | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for eps in args.epsilons:
        mine = [r for r in rows if r["epsilon"] == eps]
        lines.append(
            f"| {eps:g} | " + " | ".join(f"{np.mean([r[k] for r in mine]):.3f}" for k in keys) + " |"
        )
    update_section("timestamps", "\n".join(lines) + f"\n\nRaw: `{path.relative_to(path.parents[1])}`.\n")


if __name__ == "__main__":
    main()
