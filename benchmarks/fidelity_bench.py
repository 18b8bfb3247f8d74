"""Workload benchmark (issues 11 and 12): the metrics the DP synthesis field reports, for ehrsynth and its peers.

    python benchmarks/fidelity_bench.py --epsilons 1 3 --seeds 0              # diabetes, 10k × (8 + 200)
    python benchmarks/fidelity_bench.py --methods pgm_aim --epsilons 1 --merge  # rerun one, keep the rest
    python benchmarks/fidelity_bench.py --methods ehrsynth_measure --epsilons --no-dp --merge  # noise-free fit

Table: Diabetes 130-US hospitals dev file, one row per patient (``diabetes130_patient_table``): race, gender,
age band, worst readmission, plus from the patient's first encounter time_in_hospital, num_lab_procedures,
num_medications (numbers) and A1Cresult (categorical, mostly missing) — 8 columns — and the ``--codes`` most
prevalent ICD-9 3-digit codes (binary); ``--rows`` patients drawn with the seed, split 80/20 into train/test.
Every method gets the same declared public schema (baselines/tabular.py) and runs in its own process
(baselines/worker.py) under ``--timeout`` seconds, niced, one at a time, OMP/MKL threads 1. Methods:
dp_marginals (the DP floor), pgm_mst and pgm_aim (mbi directly, baselines/pgm_mechanisms.py, .venv-pgm),
smartnoise_dpctgan (.venv-smartnoise), ehrsynth_default (``ehrsynth.synthesize`` with the declared schema),
ehrsynth_noschema (the same without a schema: DP domain discovery), both with the default engine, and
ehrsynth_measure / ehrsynth_dpsgd / ehrsynth_hybrid (that ``engine=``, declared schema; "unavailable" until the
estimator has it). A new engine is one more entry in :data:`METHODS`.

Metrics, each synthetic table (as many rows as train) against the **training** table: mean/max TVD over all
2-way marginals and over 1,000 seeded 3-way marginals, mean/max absolute query (cell) error, mean 1-way TVD
(``ehrsynth.evaluation.workload``; numbers in 10 quantile bins of the real column, missing its own cell);
the per-column fidelity summary (worst TVD/KS, missing-rate error, outside-range share); from
``ehrsynth.evaluation.evaluate`` on the test split: mean dimension-wise prediction AUROC over the top-50 codes
(logistic regression trained on synthetic, tested on real held-out), per-code prevalence r, TSTR AUROC on
``readmitted``; fit seconds and peak memory (VmHWM) of the worker. References beside them: the real holdout
(test vs train: a real table's own sampling noise, at the test size), each train column shuffled (exact 1-way
marginals, no dependence) and independent marginals resampled with replacement (the same plus the sampling
noise a synthesizer's sample has) — both non-DP floors.

Data: Strack B. et al. (2014) BioMed Research International 781670; UCI ML Repository id 296, CC BY 4.0. Read
in place from ../shared/data (or --data-dir); nothing derived from it is written to the repository.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "baselines"))

from _results import SHARED_DATA, environment, save_json, update_section  # noqa: E402
from subproc import run_limited  # noqa: E402
from tabular import infer_schema  # noqa: E402

EPSILONS: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0)
TARGET = "readmitted"
EXTRA_NUMERIC = ("time_in_hospital", "num_lab_procedures", "num_medications")
EXTRA_CATEGORICAL = ("A1Cresult",)
VENVS = {"core": Path(sys.executable), "smartnoise": HERE / ".venv-smartnoise", "pgm": HERE / ".venv-pgm"}
#: (worker method, environment) in run order; a new ehrsynth engine is one more entry
METHODS: list[tuple[str, str]] = [
    ("dp_marginals", "core"),
    ("ehrsynth_default", "core"),
    ("ehrsynth_noschema", "core"),
    ("ehrsynth_measure", "core"),
    ("ehrsynth_dpsgd", "core"),
    ("ehrsynth_hybrid", "core"),
    ("pgm_mst", "pgm"),
    ("pgm_aim", "pgm"),
    ("smartnoise_dpctgan", "smartnoise"),
]
THREADS_1 = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def load_table(data_dir: Path, n_codes: int, rows: int, seed: int) -> pd.DataFrame:
    """Patients × (8 demographic/encounter columns + the ``n_codes`` most prevalent codes), ``rows`` drawn."""
    from ehrsynth.datasets import diabetes130_patient_table

    path = data_dir / "diabetes130" / "diabetic_data_dev.csv.gz"
    table = diabetes130_patient_table(path)
    raw = pd.read_csv(
        path, dtype=str, usecols=["encounter_id", "patient_nbr", *EXTRA_NUMERIC, *EXTRA_CATEGORICAL]
    )
    raw = raw.assign(enc=pd.to_numeric(raw["encounter_id"])).sort_values("enc", kind="stable")
    first = raw.drop_duplicates("patient_nbr").set_index("patient_nbr")
    ids = table["patient_nbr"].astype(str)
    for col in EXTRA_NUMERIC:
        table[col] = pd.to_numeric(first[col].reindex(ids).to_numpy())
    for col in EXTRA_CATEGORICAL:
        vals = first[col].reindex(ids)
        table[col] = vals.where(vals.notna() & (vals.str.strip() != "") & (vals != "?")).to_numpy()
    codes = [c for c in table.columns if c.startswith("dx_")]
    top = table[codes].mean().sort_values(ascending=False, kind="stable").index[:n_codes].tolist()
    demo = ["race", "gender", "age", TARGET, *EXTRA_NUMERIC, *EXTRA_CATEGORICAL]
    df = table[[*demo, *top]]
    if rows < len(df):
        df = df.iloc[np.sort(np.random.default_rng(seed).choice(len(df), rows, replace=False))]
    return df.reset_index(drop=True)


def split(df: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(df))
    cut = int(0.8 * len(df))
    return df.iloc[order[:cut]].reset_index(drop=True), df.iloc[order[cut:]].reset_index(drop=True)


def eval_schema(schema: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The declared schema as the evaluation reads it (kinds only)."""
    kind = {"binary": "binary", "categorical": "categorical"}
    cols = [
        {"name": n, "kind": kind.get(s["kind"], "count" if s.get("integer") else "continuous")}
        for n, s in schema.items()
    ]
    return {"columns": cols}


def score(
    train: pd.DataFrame, test: pd.DataFrame, synth: pd.DataFrame, ctx: dict[str, Any]
) -> dict[str, Any]:
    """Workload error, per-column fidelity summary and the medGAN/TSTR utility of one synthetic table."""
    from ehrsynth.evaluation import evaluate
    from ehrsynth.evaluation.workload import column_fidelity, fidelity_summary, workload_error

    start = time.perf_counter()
    kinds = ctx["kinds"]
    out: dict[str, Any] = workload_error(
        train, synth, schema=kinds, n_triples=ctx["n_triples"], random_state=ctx["seed"]
    ).to_dict()
    out["fidelity"] = fidelity_summary(column_fidelity(train, synth, schema=kinds))
    out["codes_per_row_tvd"] = codes_per_row_tvd(train, synth, kinds)
    if ctx["utility"]:
        rep = evaluate(
            train,
            test,
            synth,
            target=TARGET,
            schema=kinds,
            top_k=50,
            random_state=ctx["seed"],
            baselines=False,
        ).to_dict()
        pred, tstr = rep["dimension_wise_prediction"], rep.get("tstr") or {}
        out.update(
            auroc_synthetic=pred["auroc_synthetic"],
            auroc_real=pred["auroc_real"],
            prevalence_r=rep["dimension_wise_probability"]["pearson_r"],
            tstr_auroc_synthetic=tstr.get("auroc_synthetic"),
            tstr_auroc_real=tstr.get("auroc_real"),
        )
    out["score_seconds"] = time.perf_counter() - start
    return out


def codes_per_row_tvd(train: pd.DataFrame, synth: pd.DataFrame, kinds: dict[str, Any]) -> float:
    """TVD between the real and synthetic distributions of codes per patient (binary columns equal to 1): a
    per-row shape no marginal shows (diabetes: 59 % of patients hold exactly 3 of the 200 codes)."""
    codes = [c["name"] for c in kinds["columns"] if c["kind"] == "binary" and c["name"] in synth.columns]
    if not codes:
        return float("nan")

    def dist(df: pd.DataFrame) -> pd.Series:
        values = df[codes].apply(pd.to_numeric, errors="coerce").fillna(0).to_numpy()
        return pd.Series((values > 0).sum(axis=1)).value_counts(normalize=True)

    a, b = dist(train), dist(synth)
    return float(0.5 * a.sub(b, fill_value=0.0).abs().sum())


def references(train: pd.DataFrame, test: pd.DataFrame, ctx: dict[str, Any]) -> list[dict[str, Any]]:
    from ehrsynth.evaluation import column_shuffled, independent_marginals

    seed = ctx["seed"]
    tables = {
        "real_holdout": test,
        "shuffled_train": column_shuffled(train, random_state=seed),
        "independent_resampled": independent_marginals(train, len(train), random_state=seed),
    }
    out = [
        {"method": name, "epsilon": None, "seed": seed, "status": "ok", "rows": len(t)}
        | score(train, test, t, ctx)
        for name, t in tables.items()
    ]
    # the holdout *is* the test split: training on it and testing on it means nothing, so its utility
    # columns carry the real-trained ceiling (trained on train, tested on test) instead
    holdout = out[0]
    for key in ("auroc", "tstr_auroc"):
        if f"{key}_real" in holdout:
            holdout[f"{key}_synthetic"] = holdout[f"{key}_real"]
    holdout.pop("prevalence_r", None)
    return out


def env_python(env: str) -> tuple[Path | None, str]:
    if env == "core":
        return VENVS["core"], ""
    python = VENVS[env] / "bin" / "python"
    if not python.exists():
        return None, f"benchmarks/.venv-{env} not built (run bash benchmarks/peer_envs.sh {env})"
    return python, ""


def run_method(
    method: str, env: str, eps: float | None, workdir: Path, ctx: dict[str, Any]
) -> dict[str, Any]:
    label = f"{method}@{'nodp' if eps is None else format(eps, 'g')}@s{ctx['seed']}"
    entry: dict[str, Any] = {"method": method, "epsilon": eps, "seed": ctx["seed"], "environment": env}
    entry["load_average_start"] = os.getloadavg()[0]
    entry["timeout_s"] = ctx["timeout"]
    python, why = env_python(env)
    if python is None:
        return entry | {"status": "unavailable", "reason": why}
    cmd = ["nice", "-n", "10", str(python), str(HERE / "baselines" / "worker.py"), "--method", method]
    cmd += ["--workdir", str(workdir), "--out", label]
    cmd += [] if eps is None else ["--epsilon", str(eps)]  # no --epsilon: the worker fits without DP
    proc = run_limited(cmd, ctx["timeout"], workdir / f"{label}.log", env=os.environ | THREADS_1)
    entry.update(wall_seconds=proc.wall_seconds, cpu_seconds=proc.cpu_seconds)
    if proc.returncode is None:
        last = [ln for ln in proc.log_tail.splitlines() if ln.startswith("[pgm")][-1:]
        where = f" (last progress: {last[0]})" if last else ""
        return entry | {"status": "timeout", "reason": f"timeout after {ctx['timeout']:g} s{where}"}
    meta_path = workdir / f"{label}.json"
    if not meta_path.exists():
        return entry | {"status": "failed", "reason": f"exit {proc.returncode}: {proc.log_tail[-300:]}"}
    meta = json.loads(meta_path.read_text())
    entry.update({k: v for k, v in meta.items() if k not in ("method", "epsilon")})
    if meta["status"] != "ok":
        return entry
    synth = pd.read_csv(workdir / f"{label}.csv")
    try:
        entry.update(score(ctx["train"], ctx["test"], synth, ctx))
    except Exception as exc:  # a table that cannot be scored is a result too
        entry.update(status="failed", reason=f"scoring: {type(exc).__name__}: {exc}")
    return entry


def latest(tag: str) -> Path | None:
    """The newest saved result file of ``tag`` (``results/<tag>-<date>.json``), or None."""
    found = sorted((HERE / "results").glob(f"{tag}-????-??-??.json"))
    return found[-1] if found else None


def merged(path: Path | None, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs saved at ``path`` with those of the same (method, ε, seed) replaced by ``runs``."""
    if path is None or not path.exists():
        return runs
    key = lambda r: (r["method"], r["epsilon"], r.get("seed"))  # noqa: E731
    fresh = {key(r): r for r in runs}
    out = [fresh.pop(key(r), r) for r in json.loads(path.read_text()).get("runs", [])]
    return out + list(fresh.values())


def publish(result: dict[str, Any], args: argparse.Namespace, command: str) -> Path:
    from fidelity_report import render

    tag = f"fidelity-{result['rows']}x{result['n_codes']}"
    today = HERE / "results" / f"{tag}-{dt.date.today().isoformat()}.json"
    full = {"environment": environment(), "commands": [command]} | result
    if args.merge:  # into the newest saved file of this table (a run may cross midnight)
        before_path = today if today.exists() else latest(tag)
        full["runs"] = merged(before_path, result["runs"])
        if before_path is not None:  # every invocation that contributed runs, in order
            old = json.loads(before_path.read_text())
            before = old.get("commands", [old["command"]] if "command" in old else [])
            full["commands"] = before + ([command] if command not in before else [])
    path = save_json(tag, full)
    rows = "" if result["rows"] == 10_000 else f"-{result['rows'] // 1000}k"  # 10k keeps its section name
    update_section(f"fidelity-workload-{result['n_codes']}{rows}", render(full, path))
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000, help="patients drawn (80%% train, 20%% test)")
    ap.add_argument("--codes", type=int, default=200, help="most prevalent ICD-9 codes kept")
    ap.add_argument("--epsilons", type=float, nargs="*", default=list(EPSILONS))
    ap.add_argument(
        "--no-dp",
        action="store_true",
        help="also fit the ehrsynth methods without DP (exact statistics: the model's reach without noise)",
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--methods", nargs="*", default=None, help="worker names (default: all in METHODS)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per method run")
    ap.add_argument("--n-triples", type=int, default=1000)
    ap.add_argument("--no-utility", action="store_true", help="skip evaluate() (AUROC, prevalence r, TSTR)")
    ap.add_argument("--no-references", action="store_true", help="skip the holdout / floor rows")
    ap.add_argument(
        "--merge", action="store_true", help="keep the newest saved runs of the methods and seeds not rerun"
    )
    ap.add_argument("--aim-rounds", type=int, default=8, help="AIM planned rounds T (paper: 16·d)")
    ap.add_argument("--aim-max-model-size", type=float, default=10.0, help="AIM model cap, MB (paper: 80)")
    ap.add_argument(
        "--mst-iters", type=int, default=1000, help="MST mirror-descent iterations (paper 10,000)"
    )
    default_data = Path(os.environ.get("EHRSYNTH_SHARED_DATA", SHARED_DATA))
    ap.add_argument("--data-dir", type=Path, default=default_data, help="folder holding diabetes130/")
    return ap.parse_args(argv)


def seed_config(schema: dict[str, Any], seed: int, n_train: int, args: argparse.Namespace) -> dict[str, Any]:
    """schema.json for the workers of one seed (declared schema, δ, rows to sample, peer options)."""
    from ehrsynth.dp.accounting import default_delta

    aim = {
        "rounds": args.aim_rounds,
        "max_model_size": args.aim_max_model_size,
        "iters": 300,
        "time_budget_s": max(args.timeout - 240.0, 60.0),  # leaves the last estimate + sampling in the box
    }
    return {
        "columns": schema,
        "seed": seed,
        "delta": default_delta(n_train),
        "n_synthetic": n_train,
        "ctgan_epochs": 20,
        "pgm": {"mst": {"iters": args.mst_iters}, "aim": aim},
    }


def run_seed(
    df: pd.DataFrame,
    schema: dict[str, Any],
    seed: int,
    args: argparse.Namespace,
    result: dict[str, Any],
    command: str,
) -> None:
    train, test = split(df, seed)
    cfg = seed_config(schema, seed, len(train), args)
    result["config"] = {k: v for k, v in cfg.items() if k != "columns"} | {"timeout_s": args.timeout}
    result["train_rows"], result["test_rows"] = len(train), len(test)
    ctx: dict[str, Any] = {
        "kinds": eval_schema(schema),
        "seed": seed,
        "n_triples": args.n_triples,
        "utility": not args.no_utility,
        "timeout": args.timeout,
    }
    with tempfile.TemporaryDirectory(prefix="ehrsynth-fidelity-") as tmp:
        workdir = Path(tmp)
        train.to_csv(workdir / "train.csv", index=False)
        test.to_csv(workdir / "test.csv", index=False)
        (workdir / "schema.json").write_text(json.dumps(cfg, default=str))
        # score on the same CSV round trip the workers read
        ctx["train"], ctx["test"] = (pd.read_csv(workdir / f"{s}.csv") for s in ("train", "test"))
        if not args.no_references:
            for ref in references(ctx["train"], ctx["test"], ctx):
                result["runs"].append(ref)
                print(json.dumps(ref, default=str), flush=True)
        timed_out: dict[str, float] = {}
        for eps in ([None] if args.no_dp else []) + list(args.epsilons):
            for method, env in METHODS:
                if args.methods and method not in args.methods:
                    continue
                if eps is None and not method.startswith("ehrsynth"):  # the peers here are DP only
                    continue
                if method in timed_out:  # MST/AIM/DP-CTGAN run times do not fall with ε
                    reason = f"not run: timed out at ε={timed_out[method]:g} with the same time box"
                    entry = {
                        "method": method,
                        "epsilon": eps,
                        "seed": seed,
                        "status": "skipped",
                        "reason": reason,
                    }
                else:
                    entry = run_method(method, env, eps, workdir, ctx)
                if entry["status"] == "timeout" and eps is not None and not method.startswith("ehrsynth"):
                    timed_out[method] = eps
                result["runs"].append(entry)
                shown = {k: v for k, v in entry.items() if k != "traceback"}
                print(json.dumps(shown, default=str), flush=True)
                publish(result, args, command)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/fidelity_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    warnings.simplefilter("ignore")
    df = load_table(args.data_dir, args.codes, args.rows, 0)
    schema = infer_schema(df)  # declared public schema, the same for every method
    result: dict[str, Any] = {
        "dataset": "diabetes130-dev",
        "rows": len(df),
        "n_codes": args.codes,
        "columns": df.shape[1],
        "target": TARGET,
        "runs": [],
    }
    for seed in args.seeds:
        run_seed(df, schema, seed, args, result, command)
    publish(result, args, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
