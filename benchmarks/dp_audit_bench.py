"""DP audit benchmark: ε lower bounds and run time of `dp_audit` with default settings on 5k real patients.

Run: ``.venv/bin/python benchmarks/dp_audit_bench.py`` (several minutes on 2 cores). Scenarios (``--scenarios``):
``eps1`` / ``eps4`` (correct DP at ε = 1 / 4: the bound must stay below the claim), ``nodp`` (no DP: the bound
shows the audit's power), ``bug`` (planted bug: DP-SGD noise multiplier forced to 0 in both phases while the
accountant still reports ε = 1: the bound must exceed 1; with ``--engine measure`` the noise of the 1-way and
pair releases is divided by ``--bug-divisor`` instead, 0 = removed). Prints one line per scenario, saves
``benchmarks/results/dp_audit-DATE.json`` and rewrites the marked section of ``benchmarks/results_dp_audit.md``.

Data: the Diabetes 130-US hospitals patient table (Strack et al. 2014, UCI ML Repository id 296, CC BY 4.0),
read in place from ``../shared/data`` (never copied): ``--rows`` patients drawn at random (seed 0), the 100 most
common 3-digit ICD-9 codes, race, gender, age band, readmission, and the patient number (an identifier).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import pandas as pd
from _results import HERE, SHARED_DATA, environment, save_json

MD = HERE / "results_dp_audit.md"
DATA = SHARED_DATA / "diabetes130" / "diabetic_data_dev.csv.gz"
SCENARIOS = {"eps1": 1.0, "eps4": 4.0, "nodp": None, "bug": 1.0}


def patient_table(rows: int, codes: int = 100) -> pd.DataFrame:
    from ehrsynth.datasets import diabetes130_patient_table

    df = diabetes130_patient_table(DATA)
    dx = [c for c in df.columns if c.startswith("dx_")]
    top = list(df[dx].sum().sort_values(ascending=False, kind="stable").index[:codes])
    idx = np.sort(np.random.default_rng(0).choice(len(df), size=min(rows, len(df)), replace=False))
    keep = ["patient_nbr", "race", "gender", "age", "readmitted", *top]
    return df.iloc[idx][keep].reset_index(drop=True)


NUMERIC = [
    "time_in_hospital",
    "num_lab_procedures",
    "num_procedures",
    "num_medications",
    "number_outpatient",
    "number_emergency",
    "number_inpatient",
    "number_diagnoses",
]
CATEGORICAL = ["race", "gender", "age", "admission_type_id", "A1Cresult", "insulin", "readmitted"]


def numeric_table(rows: int) -> pd.DataFrame:
    """A mixed clinical table led by numbers: each patient's first encounter, 8 numeric columns (days in
    hospital, lab procedures, procedures, medications, visits, diagnoses) and 7 categorical ones; no codes."""
    raw = pd.read_csv(DATA, dtype=str, na_values=["?"], keep_default_na=False)
    first = raw.drop_duplicates("patient_nbr").reset_index(drop=True)
    idx = np.sort(np.random.default_rng(0).choice(len(first), size=min(rows, len(first)), replace=False))
    out = first.iloc[idx][CATEGORICAL + NUMERIC].reset_index(drop=True)
    for name in NUMERIC:
        out[name] = pd.to_numeric(out[name]).astype("int64")
    out["A1Cresult"] = out["A1Cresult"].replace({"None": "not measured"})
    return out


TABLES = {"codes": "patient_table", "numeric": "numeric_table"}
DESCRIPTION = {
    "codes": "patient table with the 100 most common 3-digit ICD-9 codes + race, gender, age, readmission and "
    "the patient number (identifier)",
    "numeric": "first encounter per patient: 8 numeric columns (time in hospital, lab procedures, procedures, "
    "medications, outpatient/emergency/inpatient visits, diagnoses) + race, gender, age band, admission type, "
    "A1C result, insulin, readmission; no code columns",
}


@contextlib.contextmanager
def planted_pair_bug(divisor: float, *, one_way: bool = False) -> Iterator[None]:
    """Measure engine: the pair release adds its Gaussian noise divided by ``divisor`` (0: no noise), while the
    accountant still charges the calibrated noise multiplier (ε as claimed). The fit sees the noise sd that
    was really added: only the accountant is wrong. ``one_way``: the 1-way release (every column's marginal,
    shared by both engines) gets the same bug."""
    import dataclasses

    import ehrsynth.dp.discovery as discovery
    import ehrsynth.training.measure_engine as engine

    real_pairs, real_discover = engine.release_pairs, discovery.discover_schema

    def weak_pairs(*args: Any, noise_multiplier: float | None, **kwargs: Any) -> Any:
        if noise_multiplier is None:
            return real_pairs(*args, noise_multiplier=None, **kwargs)
        out = real_pairs(*args, noise_multiplier=noise_multiplier / divisor if divisor else None, **kwargs)
        from ehrsynth.dp.sparse_marginals import pair_mechanisms

        name = kwargs.get("name", "measure:pairs")
        clip = kwargs.get("clip")  # the clipped pair release is charged at its own sensitivities
        sens = None if clip is None else clip.sensitivities()
        charged = pair_mechanisms(args[1], kwargs["ones"], noise_multiplier, name, sens)
        return dataclasses.replace(out, mechanisms=charged)

    def weak_discover(*args: Any, noise_multiplier: float, **kwargs: Any) -> Any:
        scale = divisor if divisor else 1e6  # no noise at all is refused by the release: a millionth of it
        released, mechanisms = real_discover(*args, noise_multiplier=noise_multiplier / scale, **kwargs)
        charged = [dataclasses.replace(m, noise_multiplier=m.noise_multiplier * scale) for m in mechanisms]
        return released, charged

    engine.release_pairs = weak_pairs
    if one_way:
        discovery.discover_schema = weak_discover
    try:
        yield
    finally:
        engine.release_pairs, discovery.discover_schema = real_pairs, real_discover


@contextlib.contextmanager
def planted_bug() -> Iterator[None]:
    """DP-SGD without noise in both phases; the accountant still charges the calibrated noise (ε as claimed)."""
    import ehrsynth.training.adversarial as adversarial
    import ehrsynth.training.autoencoder as autoencoder
    from ehrsynth.dp import opacus_wiring

    real = opacus_wiring.make_private

    def no_noise(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "noise_multiplier": 0.0})

    saved = autoencoder.make_private, adversarial.make_private
    autoencoder.make_private = adversarial.make_private = no_noise
    try:
        yield
    finally:
        autoencoder.make_private, adversarial.make_private = saved


def run_scenario(name: str, df: pd.DataFrame, args: argparse.Namespace) -> dict[str, Any]:
    from ehrsynth.dp_verify.runner import dp_audit

    kwargs: dict[str, Any] = {"device": "cpu"}
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    if args.ae_epochs is not None:
        kwargs["ae_epochs"] = args.ae_epochs
    if args.batch_size is not None:
        kwargs["batch_size"] = args.batch_size
    kwargs["engine"] = args.engine
    ctx: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if name == "bug":
        ctx = planted_pair_bug(args.bug_divisor, one_way=True) if args.engine == "measure" else planted_bug()
    wall, cpu = time.perf_counter(), time.process_time()
    with ctx:
        report = dp_audit(
            df,
            epsilon=SCENARIOS[name],
            canaries=args.canaries,
            runs=args.runs,
            random_state=args.seed,
            source=f"diabetes130 ({args.table} table, engine {args.engine})",
            **kwargs,
        )
    data = report.to_dict()
    out = {
        "scenario": name,
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "epsilon_spent": [r["epsilon_spent"] for r in data["runs_detail"]],
        "fit_s": [r["fit_seconds"] for r in data["runs_detail"]],
        **{k: data[k] for k in ("epsilon_claimed", "delta", "epsilon_lower_bound", "attack", "attack_auc")},
        "refuted": data["refuted"],
        "best_rule": data["best_rule"],
        "aucs": {k: v["auc"] for k, v in data["attacks"].items()},
        "threshold_bound": data.get("threshold_bound"),
        "model_params": data["model_params"],
    }
    print(
        f"{name:5s} eps_claimed={out['epsilon_claimed']} eps_LB={out['epsilon_lower_bound']:.3f} "
        f"refuted={out['refuted']} attack={out['attack']} auc={out['attack_auc']:.3f} "
        f"wall={out['wall_s']}s cpu={out['cpu_s']}s",
        flush=True,
    )
    return out


def command(args: argparse.Namespace) -> str:
    """The command line that reproduces a run with these arguments."""
    defaults = {
        "rows": 5000,
        "canaries": 500,
        "runs": 1,
        "seed": 0,
        "scenarios": "eps1,eps4,nodp,bug",
        "table": "codes",
        "engine": "dpsgd",
        "bug_divisor": 20.0,
    }
    parts = ["benchmarks/dp_audit_bench.py"]
    for key in (
        "rows",
        "canaries",
        "runs",
        "seed",
        "epochs",
        "ae_epochs",
        "batch_size",
        "threads",
        "scenarios",
        "table",
        "engine",
        "bug_divisor",
    ):
        value = getattr(args, key, None)
        if value is not None and value != defaults.get(key):
            parts.append(f"--{key.replace('_', '-')} {value}")
    return " ".join(parts)


def markdown(results: list[dict[str, Any]], env: dict[str, Any], args: argparse.Namespace, rows: int) -> str:
    cmd = command(args)
    engine = getattr(args, "engine", "dpsgd")
    lines = [
        f"### `dp_audit` on {rows:,} real patients, {getattr(args, 'table', 'codes')} table"
        f"{'' if engine == 'dpsgd' else f', {engine} engine'} ({args.canaries} "
        f"canaries x {args.runs} run(s), seed {args.seed})",
        "",
        f"Measured {env['date']} with `.venv/bin/python {cmd}`: {env['cpus']} CPU cores, torch "
        f"{env['torch']} with {env['torch_threads']} thread(s), load average {env['load_before']} before and "
        f"{env['load_after']} after (above the core count, other jobs shared the machine and wall times are "
        "inflated; CPU seconds are this process's). Data: Diabetes 130-US hospitals (Strack et al. 2014; UCI ML "
        f"Repository id 296; CC BY 4.0), {DESCRIPTION[getattr(args, 'table', 'codes')]}.",
        "",
        "| scenario | ε claimed | accountant ε spent | ε lower bound (95%) | refuted | best rule | attack AUC "
        f"| AUCs ({' / '.join(results[0]['aucs'])}) | wall s | CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    if args.runs > 1:
        lines[-2] = lines[-2] + " threshold bound (Jagielski et al. 2020) |"
        lines[-1] = lines[-1] + "---|"
    for r in results:
        rule = r["best_rule"]
        aucs = " / ".join(f"{v:.3f}" for v in r["aucs"].values())
        spent = ", ".join("—" if s is None else f"{s:.3f}" for s in r["epsilon_spent"])
        claimed = "none (no DP)" if r["epsilon_claimed"] is None else f"{r['epsilon_claimed']:g}"
        lines.append(
            f"| {r['scenario']} | {claimed} | {spent} | **{r['epsilon_lower_bound']:.3f}** | "
            f"{'yes' if r['refuted'] else 'no'} | {rule['attack']}, {rule['correct']}/{rule['guesses']} correct | "
            f"{r['attack_auc']:.3f} | {aucs} | {r['wall_s']} | {r['cpu_s']} |"
            + (f" {r['threshold_bound']['epsilon_lower_bound']:.3f} |" if args.runs > 1 else "")
        )
    return "\n".join(lines)


def result_tag(args: argparse.Namespace) -> str:
    table = "" if getattr(args, "table", "codes") == "codes" else f"-{args.table}"
    engine = getattr(args, "engine", "dpsgd")
    table += "" if engine == "dpsgd" else f"-{engine}"
    return f"dp_audit{table}-{args.rows}x{args.canaries}x{args.runs}" + (
        f"-t{args.threads}" if args.threads else ""
    )


def write_section(tag: str, text: str) -> None:
    """Replace (or append) the section of ``MD`` marked with ``tag``; other sections stay as they are."""
    begin, end = f"<!-- BEGIN {tag} -->", f"<!-- END {tag} -->"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    old = MD.read_text() if MD.exists() else "# DP audit (`ehrsynth audit-dp`)\n"
    if begin in old:
        new = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, old, flags=re.S)
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    MD.write_text(new)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--canaries", type=int, default=500)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="GAN epochs (default: the audit's)")
    p.add_argument("--ae-epochs", type=int, default=None, help="autoencoder epochs (default: the audit's)")
    p.add_argument(
        "--batch-size", type=int, default=None, help="(expected) batch size (default: the audit's)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--scenarios", default="eps1,eps4,nodp,bug")
    p.add_argument(
        "--table", choices=sorted(TABLES), default="codes", help="codes: 100 ICD-9 codes; numeric: no codes"
    )
    p.add_argument(
        "--engine", choices=("dpsgd", "measure"), default="dpsgd", help="the MedGAN engine audited"
    )
    p.add_argument(
        "--bug-divisor",
        type=float,
        default=20.0,
        help="measure engine's planted bug: 1-way and pair noise divided by this (0: none); accountant unchanged",
    )
    p.add_argument("--no-write", action="store_true", help="print only; do not touch results files")
    p.add_argument("--render", metavar="JSON", help="only rewrite the markdown section of a saved result")
    args = p.parse_args()
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        run_args = argparse.Namespace(**saved["args"])
        tag = result_tag(run_args)
        rows = run_args.rows
        write_section(
            f"{tag}-{run_args.scenarios}", markdown(saved["results"], saved["environment"], run_args, rows)
        )
        return
    if not DATA.is_file():
        sys.exit(f"{DATA} not found: this benchmark needs ../shared/data")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    env = {**environment(), "load_before": round(os.getloadavg()[0], 1)}
    df = patient_table(args.rows) if args.table == "codes" else numeric_table(args.rows)
    print(f"table: {df.shape[0]} rows x {df.shape[1]} columns", flush=True)
    results = [run_scenario(name, df, args) for name in args.scenarios.split(",")]
    env["load_after"] = round(os.getloadavg()[0], 1)
    if args.no_write:
        return
    tag = result_tag(args)
    path = save_json(tag, {"environment": env, "args": vars(args), "results": results})
    write_section(f"{tag}-{args.scenarios}", markdown(results, env, args, len(df)))
    print(f"saved {path} and {MD}")


if __name__ == "__main__":
    main()
