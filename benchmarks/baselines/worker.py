"""Run one synthesizer in its own process: read train.csv, fit, sample, write synthetic.csv and meta.json.

    <venv>/bin/python benchmarks/baselines/worker.py --method M --epsilon E --workdir DIR --out NAME

DIR holds ``train.csv`` and ``schema.json`` (written by benchmarks/run.py; ``schema.json`` has the declared
column schema, the δ, the row count to sample and method options). Only the standard library is imported at
module level: each method imports its package inside its adapter, so an import failure becomes
``{"status": "unavailable", "reason": ...}`` in meta.json (exit code 3) instead of a crash. Communication with
run.py is by files only. Methods: ehrsynth, dp_marginals, and the ``synthesize`` entry points ehrsynth_default (declared schema),
ehrsynth_noschema (DP domain discovery), both with the default engine, and ehrsynth_measure / ehrsynth_dpsgd /
ehrsynth_hybrid (that ``engine=``, declared schema; "unavailable" where the estimator lacks it) (core venv); sdv_gaussiancopula, sdv_ctgan (.venv-sdv); smartnoise_mst,
smartnoise_aim, smartnoise_dpctgan (.venv-smartnoise); pgm_mst, pgm_aim (mbi directly, .venv-pgm, see
pgm_mechanisms.py; options from ``cfg["pgm"]``).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

UNAVAILABLE = 3


def _ehrsynth(train: Any, schema: dict[str, Any], eps: float | None, cfg: dict[str, Any]) -> tuple[Any, Any]:
    import warnings

    from ehrsynth import MedGAN
    from ehrsynth.estimator import NoPrivacyWarning
    from ehrsynth.schema import Schema

    warnings.simplefilter("ignore", NoPrivacyWarning)
    kwargs: dict[str, Any] = {"epsilon": eps, "delta": cfg["delta"] if eps is not None else None}
    kwargs["random_state"] = cfg["seed"]
    if eps is None:
        kwargs.update(epochs=cfg["nondp_epochs"], ae_epochs=cfg["nondp_ae_epochs"])
    model = MedGAN(**kwargs)
    # the same declared (public) schema every baseline gets, so no method spends ε on domains; ehrsynth's own
    # DP domain discovery is not exercised here (run.py --dp-discovery does)
    declared = None if cfg.get("dp_discovery") else Schema.infer(train)
    return model, lambda: model.fit(train, schema=declared)


ENGINES = ("measure", "dpsgd", "hybrid")


def _synthesize(variant: str) -> Any:
    """``ehrsynth.synthesize`` as a user calls it: declared schema, no schema (both with the default engine),
    or a named engine (one of :data:`ENGINES`, declared schema)."""

    def build(train: Any, schema: dict[str, Any], eps: float | None, cfg: dict[str, Any]) -> tuple[Any, Any]:
        import inspect
        import warnings

        import ehrsynth
        from ehrsynth import MedGAN
        from ehrsynth.estimator import NoPrivacyWarning
        from ehrsynth.schema import Schema

        warnings.simplefilter("ignore", NoPrivacyWarning)
        kwargs: dict[str, Any] = {"epsilon": eps, "random_state": cfg["seed"]}
        if variant in ENGINES:
            if "engine" not in inspect.signature(MedGAN.__init__).parameters:
                raise ImportError("engine not implemented (MedGAN takes no engine= parameter)")
            kwargs["engine"] = variant
        if variant != "noschema":
            kwargs["schema"] = Schema.infer(train)  # the declared public schema every baseline gets
        box: dict[str, Any] = {}

        def fit() -> None:
            box["synth"] = ehrsynth.synthesize(train, n_rows=int(cfg["n_synthetic"]), **kwargs)

        return box, fit

    return build


def _pgm(kind: str) -> Any:
    def build(train: Any, schema: dict[str, Any], eps: float | None, cfg: dict[str, Any]) -> tuple[Any, Any]:
        from pgm_mechanisms import PGMSynthesizer

        if eps is None:
            raise ValueError("MST / AIM are DP only")
        options = dict(cfg.get("pgm", {}).get(kind, {}))
        model = PGMSynthesizer(kind, eps, cfg["delta"], random_state=cfg["seed"], **options)
        return model, lambda: model.fit(train, schema)

    return build


def _marginals(train: Any, schema: dict[str, Any], eps: float | None, cfg: dict[str, Any]) -> tuple[Any, Any]:
    from dp_marginals import DPIndependentMarginals

    model = DPIndependentMarginals(eps, cfg["delta"], random_state=cfg["seed"])
    return model, lambda: model.fit(train, schema)


def _sdv(kind: str) -> Any:
    def build(train: Any, schema: dict[str, Any], eps: float | None, cfg: dict[str, Any]) -> tuple[Any, Any]:
        from sdv.metadata import Metadata
        from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer

        frame = train.copy()
        meta = Metadata.detect_from_dataframes({"t": frame}, infer_keys=None)  # SDV 2.0: dict of tables
        for kind_name in ("categorical", "numerical"):
            cols = [n for n, s in schema.items() if (s["kind"] == "numeric") == (kind_name == "numerical")]
            if cols:
                meta.update_columns(cols, table_name="t", sdtype=kind_name)
        if kind == "ctgan":
            model = CTGANSynthesizer(meta, epochs=cfg["ctgan_epochs"], enforce_min_max_values=True)
        else:
            model = GaussianCopulaSynthesizer(meta)
        return model, lambda: model.fit({"t": frame})

    return build


def _smartnoise(kind: str) -> Any:
    def build(train: Any, schema: dict[str, Any], eps: float | None, cfg: dict[str, Any]) -> tuple[Any, Any]:
        from snsynth import Synthesizer
        from tabular import discretize

        if eps is None:
            raise ValueError("smartnoise baselines are DP only")
        disc = discretize(train, schema)
        options: dict[str, Any] = {"epsilon": eps, "delta": cfg["delta"]}
        if kind == "dpctgan":
            options["epochs"] = cfg["ctgan_epochs"]
        model = Synthesizer.create(kind, **options)
        return model, lambda: model.fit(disc, categorical_columns=list(disc.columns), preprocessor_eps=0.0)

    return build


METHODS = {
    "ehrsynth": _ehrsynth,
    "dp_marginals": _marginals,
    "sdv_gaussiancopula": _sdv("gaussiancopula"),
    "sdv_ctgan": _sdv("ctgan"),
    "smartnoise_mst": _smartnoise("mst"),
    "smartnoise_aim": _smartnoise("aim"),
    "smartnoise_dpctgan": _smartnoise("dpctgan"),
    "ehrsynth_default": _synthesize("default"),
    "ehrsynth_noschema": _synthesize("noschema"),
    "ehrsynth_measure": _synthesize("measure"),
    "ehrsynth_dpsgd": _synthesize("dpsgd"),
    "ehrsynth_hybrid": _synthesize("hybrid"),
    "pgm_mst": _pgm("mst"),
    "pgm_aim": _pgm("aim"),
}
TORCH_FREE = ("pgm_",)  # methods whose venv has no torch (nothing to seed there)


def _sample(method: str, model: Any, n: int, seed: int) -> Any:
    if method == "ehrsynth" or method == "dp_marginals":
        return model.sample(n, random_state=seed)
    if method.startswith("ehrsynth_"):
        return model["synth"]  # synthesize() fitted and sampled in one call (timed as fit)
    if method.startswith("sdv_"):
        out = model.sample(num_rows=n)
        return out["t"] if isinstance(out, dict) else out
    return model.sample(n)


def _peak_rss_mb() -> float:
    """This process's peak resident memory since exec: VmHWM (ru_maxrss would include the parent's image at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", required=True, choices=sorted(METHODS))
    ap.add_argument("--epsilon", type=float, default=None)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--out", required=True, help="basename for <out>.csv and <out>.json in workdir")
    args = ap.parse_args(argv)
    meta_path = args.workdir / f"{args.out}.json"
    meta: dict[str, Any] = {"method": args.method, "epsilon": args.epsilon}

    def finish(status: str, code: int, **extra: Any) -> int:
        meta.update(status=status, peak_rss_mb=_peak_rss_mb(), **extra)
        meta_path.write_text(json.dumps(meta, indent=2, default=str))
        return code

    cfg = json.loads((args.workdir / "schema.json").read_text())
    try:
        import numpy as np
        import pandas as pd

        if args.method not in ("ehrsynth", "dp_marginals") and not args.method.startswith("ehrsynth_"):
            # SDV, smartnoise and mbi's sampler draw from the global RNGs and take no seed: seeding them is
            # the only way to make their runs repeatable. ehrsynth and the marginals take the seed explicitly.
            np.random.seed(cfg["seed"])  # noqa: NPY002
            if not args.method.startswith(TORCH_FREE):
                import torch

                torch.manual_seed(cfg["seed"])
        schema = cfg["columns"]
        train = pd.read_csv(args.workdir / "train.csv", keep_default_na=True)
        for name, spec in schema.items():
            if spec["kind"] == "categorical" and all(isinstance(c, str) for c in spec["categories"]):
                train[name] = train[name].astype(object)
        model, fit = METHODS[args.method](train, schema, args.epsilon, cfg)
    except ImportError as exc:
        return finish("unavailable", UNAVAILABLE, reason=f"{type(exc).__name__}: {exc}")
    start = time.perf_counter()
    try:
        fit()
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        synth = _sample(args.method, model, int(cfg["n_synthetic"]), cfg["seed"] + 1)
        sample_s = time.perf_counter() - start
    except Exception as exc:  # a failing peer is a result, not a crash of the benchmark
        return finish(
            "failed", 1, reason=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-2000:]
        )
    if args.method.startswith(("smartnoise_", "pgm_")):
        from tabular import undiscretize

        synth = undiscretize(synth.astype(str), schema, np.random.default_rng(cfg["seed"] + 2))
    from tabular import restore_types

    synth = restore_types(synth, schema)
    synth.to_csv(args.workdir / f"{args.out}.csv", index=False)
    extra: dict[str, Any] = {}
    privacy = getattr(model, "privacy_", None)
    if privacy is not None:
        extra["epsilon_spent"] = privacy.epsilon_spent
        extra["delta"] = privacy.delta
    if args.method.startswith("ehrsynth_"):
        privacy = model["synth"].attrs.get("ehrsynth", {}).get("privacy", {})
        extra.update(epsilon_spent=privacy.get("epsilon_spent"), delta=privacy.get("delta"))
    if args.method.startswith("pgm_"):
        extra["pgm"] = getattr(model, "info_", {})
        extra.update(epsilon_spent=args.epsilon, delta=cfg["delta"], rho=model.rho_)
    if args.method == "dp_marginals" and args.epsilon is not None:
        extra.update(epsilon_spent=args.epsilon, delta=cfg["delta"], sigma=model.sigma_, rho=model.rho_)
    return finish("ok", 0, fit_seconds=fit_s, sample_seconds=sample_s, rows=len(synth), **extra)


if __name__ == "__main__":
    sys.exit(main())
