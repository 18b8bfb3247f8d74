"""Peer benchmark (issue 6): ehrsynth MedGAN vs DP and non-DP baselines at equal ε, one fixed train/test split.

    python benchmarks/run.py --quick                     # diabetes (200 codes, 10k patients) + demo
    python benchmarks/run.py --dataset diabetes          # full 49,971 × 847 diabetes table
    bash benchmarks/peer_envs.sh                         # first, to build the SDV / smartnoise venvs

Methods: ehrsynth MedGAN at ε ∈ {1, 3, 10} and non-DP; DP independent marginals (the floor,
baselines/dp_marginals.py, with its accounting); SDV GaussianCopula and CTGAN (non-DP, benchmarks/.venv-sdv);
smartnoise-synth MST, AIM and DP-CTGAN at the same ε (benchmarks/.venv-smartnoise). Every method runs in its own
process (baselines/worker.py) under a wall-clock limit; a timeout, an import failure or an exception is recorded
as the method's result. Data goes to the workers as CSV files in a temporary directory that is deleted after.

Utility: ``ehrsynth.evaluation.evaluate`` on (train, test, synthetic) — the synthetic table has as many rows as
train. Privacy: ``ehrsynth.privacy.audit`` with the *test split as the holdout* (never used in training or
selection; the audit subsamples members to the holdout size). Memory: ru_maxrss of the worker (os.wait4).

Data: Diabetes 130-US hospitals 1999–2008 (Strack B. et al. 2014, BioMed Research International 781670;
UCI ML Repository id 296, CC BY 4.0), read from ../shared/data and never written to the repository; ACTG 175
(Hammer SM et al. 1996, NEJM 335:1081, via lifelines) for ``demo``.
"""

from __future__ import annotations

import argparse
import json
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
from report import render_section  # noqa: E402
from subproc import run_limited  # noqa: E402
from tabular import infer_schema  # noqa: E402

EPSILONS: tuple[float, ...] = (1.0, 3.0, 10.0)
DEMOGRAPHICS = ["race", "gender", "age", "readmitted"]
TARGETS = {"diabetes": "readmitted", "demo": "cens"}
VENVS = {"core": Path(sys.executable), "sdv": HERE / ".venv-sdv", "smartnoise": HERE / ".venv-smartnoise"}


def methods() -> list[tuple[str, float | None, str]]:
    """(method, ε, environment) in run order; None = non-DP."""
    out: list[tuple[str, float | None, str]] = []
    for eps in (*EPSILONS, None):
        out.append(("ehrsynth", eps, "core"))
    for eps in (*EPSILONS, None):
        out.append(("dp_marginals", eps, "core"))
    out += [("sdv_gaussiancopula", None, "sdv"), ("sdv_ctgan", None, "sdv")]
    for name in ("smartnoise_mst", "smartnoise_aim", "smartnoise_dpctgan"):
        out += [(name, eps, "smartnoise") for eps in EPSILONS]
    return out


def load_dataset(name: str, quick: bool, rows: int | None, seed: int) -> pd.DataFrame:
    if name == "demo":
        from ehrsynth.datasets import load_demo

        df = load_demo().drop(columns=["pidnum"])
        df["cd496"] = df["cd496"].astype(float)
        return df
    from ehrsynth.datasets import diabetes130_patient_table

    df = diabetes130_patient_table(SHARED_DATA / "diabetes130" / "diabetic_data_dev.csv.gz")
    df = df.drop(columns=["patient_nbr"])
    if quick:
        codes = [c for c in df.columns if c.startswith("dx_")]
        top = df[codes].mean().sort_values(ascending=False, kind="stable").index[:200].tolist()
        df = df[[*DEMOGRAPHICS, *top]]
    if rows is not None and rows < len(df):
        df = df.iloc[np.sort(np.random.default_rng(seed).choice(len(df), rows, replace=False))]
    return df.reset_index(drop=True)


def split(df: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(df))
    cut = int(0.8 * len(df))
    return df.iloc[order[:cut]].reset_index(drop=True), df.iloc[order[cut:]].reset_index(drop=True)


def env_python(env: str) -> tuple[Path | None, str]:
    if env == "core":
        return VENVS["core"], ""
    python = VENVS[env] / "bin" / "python"
    status_file = HERE / "results" / "peer_envs.json"
    status = json.loads(status_file.read_text()).get(env, {}) if status_file.exists() else {}
    if status.get("status") == "failed":
        return None, f"environment build failed: {status.get('detail', '')}".strip()
    if not python.exists():
        return None, f"benchmarks/.venv-{env} not built (run bash benchmarks/peer_envs.sh)"
    return python, ""


def score(
    train: pd.DataFrame, test: pd.DataFrame, synth: pd.DataFrame, target: str, seed: int, n_bootstrap: int
) -> dict[str, Any]:
    from ehrsynth.evaluation import evaluate
    from ehrsynth.privacy import audit

    start = time.perf_counter()
    rep = evaluate(train, test, synth, target=target, random_state=seed, baselines=False).to_dict()
    eval_s = time.perf_counter() - start
    start = time.perf_counter()
    aud = audit(train, test, synth, random_state=seed, n_bootstrap=n_bootstrap).to_dict()
    audit_s = time.perf_counter() - start
    pred, tstr = rep["dimension_wise_prediction"], rep.get("tstr") or {}
    mem = aud["attacks"]["membership"]
    risks = [
        (name, attack, r["risk"])
        for name, per in aud["attacks"]["attribute_inference"].get("attributes", {}).items()
        for attack, r in per.items()
        if isinstance(r, dict) and r.get("risk") is not None
    ]
    worst = max(risks, key=lambda t: t[2]) if risks else (None, None, None)
    return {
        "prevalence_r": rep["dimension_wise_probability"]["pearson_r"],
        "auroc_synthetic": pred["auroc_synthetic"],
        "auroc_real": pred["auroc_real"],
        "pairwise_correlation_mae": rep["pairwise"]["correlation_mae"],
        "tstr_auroc_synthetic": tstr.get("auroc_synthetic"),
        "tstr_auroc_real": tstr.get("auroc_real"),
        "membership_auc": mem.get("auc"),
        "membership_auc_ci": mem.get("auc_ci"),
        "attribute_risk_max": worst[2],
        "attribute_risk_where": f"{worst[0]} ({worst[1]})" if worst[0] else None,
        "audit_verdict": aud["verdict"],
        "evaluate_seconds": eval_s,
        "audit_seconds": audit_s,
    }


def run_one(
    method: str, eps: float | None, env: str, workdir: Path, timeout: float, data: dict[str, Any]
) -> dict[str, Any]:
    label = f"{method}@{'nondp' if eps is None else f'{eps:g}'}"
    entry: dict[str, Any] = {"method": method, "epsilon": eps, "environment": env}
    python, why = env_python(env)
    if python is None:
        return entry | {"status": "unavailable", "reason": why}
    cmd = [str(python), str(HERE / "baselines" / "worker.py"), "--method", method, "--workdir", str(workdir)]
    cmd += ["--out", label] + ([] if eps is None else ["--epsilon", str(eps)])
    proc = run_limited(cmd, timeout, workdir / f"{label}.log")
    entry.update(wall_seconds=proc.wall_seconds, peak_rss_mb=proc.peak_rss_mb, cpu_seconds=proc.cpu_seconds)
    if proc.returncode is None:
        return entry | {"status": "timeout", "reason": f"timeout after {timeout:g} s"}
    meta_path = workdir / f"{label}.json"
    if not meta_path.exists():
        return entry | {"status": "failed", "reason": f"exit {proc.returncode}: {proc.log_tail[-300:]}"}
    meta = json.loads(meta_path.read_text())
    if meta.get("peak_rss_mb"):  # VmHWM of the worker; wait4's ru_maxrss also counts our image at fork
        entry["peak_rss_mb_wait4"] = entry.pop("peak_rss_mb")
    entry.update({k: v for k, v in meta.items() if k not in ("method", "epsilon")})
    if meta["status"] != "ok":
        return entry
    synth = pd.read_csv(workdir / f"{label}.csv")
    try:
        entry.update(
            score(data["train"], data["test"], synth, data["target"], data["seed"], data["n_bootstrap"])
        )
    except Exception as exc:  # the synthetic table was made but could not be scored: a result too
        entry.update(status="failed", reason=f"evaluate/audit: {type(exc).__name__}: {exc}")
    return entry


def bench_dataset(name: str, args: argparse.Namespace) -> dict[str, Any]:
    rows = args.rows if name == "diabetes" else None
    df = load_dataset(name, args.quick, rows, args.seed)
    train, test = split(df, args.seed)
    schema = infer_schema(df)  # declared public schema: the same for every method (see baselines/tabular.py)
    from ehrsynth.dp.accounting import default_delta

    cfg = {
        "columns": schema,
        "seed": args.seed,
        "delta": default_delta(len(train)),
        "n_synthetic": len(train),
        "nondp_epochs": args.nondp_epochs,
        "nondp_ae_epochs": 10,
        "ctgan_epochs": args.ctgan_epochs,
        "dp_discovery": args.dp_discovery,
    }
    result: dict[str, Any] = {
        "dataset": name,
        "rows": len(df),
        "columns": df.shape[1],
        "train_rows": len(train),
        "test_rows": len(test),
        "target": TARGETS[name],
        "config": {k: v for k, v in cfg.items() if k != "columns"} | {"timeout_s": args.timeout},
        "runs": [],
    }
    timed_out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix=f"ehrsynth-bench-{name}-") as tmp:
        workdir = Path(tmp)
        train.to_csv(workdir / "train.csv", index=False)
        (workdir / "schema.json").write_text(json.dumps(cfg, default=str))
        # evaluate/audit read the same CSV round trip the workers read
        data = {
            "train": pd.read_csv(workdir / "train.csv"),
            "test": test,
            "target": TARGETS[name],
            "seed": args.seed,
            "n_bootstrap": args.n_bootstrap,
        }
        test.to_csv(workdir / "test.csv", index=False)
        data["test"] = pd.read_csv(workdir / "test.csv")
        for method, eps, env in methods():
            if args.methods and method not in args.methods:
                continue
            if method in timed_out:
                reason = f"not run: timed out at ε={timed_out[method]:g} (its run time does not fall with ε)"
                result["runs"].append(
                    {"method": method, "epsilon": eps, "status": "skipped", "reason": reason}
                )
                continue
            entry = run_one(method, eps, env, workdir, args.timeout, data)
            if entry["status"] == "timeout" and eps is not None and method.startswith("smartnoise_"):
                timed_out[method] = eps
            result["runs"].append(entry)
            print(json.dumps({k: v for k, v in entry.items() if k != "traceback"}, default=str), flush=True)
            publish(result, args)  # after every method: a run stopped early still leaves its numbers
    return result


def publish(result: dict[str, Any], args: argparse.Namespace) -> None:
    full = {"environment": environment(), "quick": args.quick} | result
    tag = f"{result['dataset']}{'-quick' if args.quick else ''}"
    if args.merge:
        full["runs"] = merged_runs(tag, result["runs"])
    path = save_json(tag, full)
    update_section(f"peers-{result['dataset']}", render_section(full, path, HERE / "results", tag))


def merged_runs(tag: str, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Today's saved runs for ``tag`` with those of the same (method, ε) replaced by ``runs``, in run order."""
    import datetime as dt

    path = HERE / "results" / f"{tag}-{dt.date.today().isoformat()}.json"
    if not path.exists():
        return runs
    fresh = {(r["method"], r["epsilon"]): r for r in runs}
    old = json.loads(path.read_text()).get("runs", [])
    out = [fresh.pop((r["method"], r["epsilon"]), r) for r in old]
    return out + list(fresh.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="diabetes: top-200 codes, 10k patients; short peers")
    ap.add_argument("--dataset", choices=["diabetes", "demo", "both"], default="both")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per method (quick 300, else 1800)")
    ap.add_argument("--rows", type=int, default=None, help="subsample diabetes patients (quick: 10000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--nondp-epochs", type=int, default=None, help="ehrsynth non-DP GAN epochs (quick 50, else 100)"
    )
    ap.add_argument(
        "--ctgan-epochs", type=int, default=None, help="SDV CTGAN / DP-CTGAN epochs (quick 20, else 300)"
    )
    ap.add_argument("--n-bootstrap", type=int, default=200, help="audit bootstrap resamples")
    ap.add_argument(
        "--dp-discovery", action="store_true", help="ehrsynth discovers domains with DP (default: declared)"
    )
    ap.add_argument("--methods", nargs="*", default=None, help="run only these methods (worker names)")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep today's results of the methods not rerun (with --methods: rerun one after a code change)",
    )
    args = ap.parse_args(argv)
    args.timeout = args.timeout or (300.0 if args.quick else 1800.0)
    args.rows = args.rows or (10_000 if args.quick else None)
    args.nondp_epochs = args.nondp_epochs or (50 if args.quick else 100)
    args.ctgan_epochs = args.ctgan_epochs or (20 if args.quick else 300)
    warnings.simplefilter("ignore")
    names = ["diabetes", "demo"] if args.dataset == "both" else [args.dataset]
    for name in names:
        bench_dataset(name, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
