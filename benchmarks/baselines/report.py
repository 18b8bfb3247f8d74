"""The RESULTS.md section and plots of the peer benchmark (benchmarks/run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DP_BASELINES = ("dp_marginals", "smartnoise_mst", "smartnoise_aim", "smartnoise_dpctgan")


def _num(v: Any, fmt: str = ".3f") -> str:
    return "—" if v is None else format(v, fmt)


def _eps(e: float | None) -> str:
    return "non-DP" if e is None else f"{e:g}"


def plot(result: dict[str, Any], out_dir: Path, tag: str) -> list[Path]:
    """utility vs ε (dimension-wise prediction AUROC, pairwise MAE) and fit seconds per method, as SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in result["runs"] if r.get("status") == "ok"]
    paths: list[Path] = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for method in dict.fromkeys(r["method"] for r in ok):
        runs = sorted(
            (r for r in ok if r["method"] == method and r["epsilon"] is not None), key=lambda r: r["epsilon"]
        )
        nondp = [r for r in ok if r["method"] == method and r["epsilon"] is None]
        for ax, key in zip(axes, ("auroc_synthetic", "pairwise_correlation_mae"), strict=True):
            if runs:
                line = ax.plot([r["epsilon"] for r in runs], [r[key] for r in runs], marker="o", label=method)
                color = line[0].get_color()
            else:
                color = None
            for r in nondp:
                ax.axhline(r[key], linestyle="--", linewidth=1, color=color, label=f"{method} (non-DP)")
    if ok:
        axes[0].axhline(ok[0]["auroc_real"], color="black", linewidth=1, label="real-trained")
    for ax, title in zip(
        axes, ("dimension-wise prediction AUROC (↑)", "pairwise correlation MAE (↓)"), strict=True
    ):
        ax.set_xscale("log")
        ax.set_xlabel("ε")
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{result['dataset']}: utility vs ε")
    fig.tight_layout()
    paths.append(out_dir / f"{tag}-utility.svg")
    fig.savefig(paths[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 0.35 * max(len(ok), 4) + 1))
    labels = [f"{r['method']} ε={_eps(r['epsilon'])}" for r in ok]
    ax.barh(labels, [r["fit_seconds"] for r in ok], label="fit")
    ax.barh(labels, [r["sample_seconds"] for r in ok], left=[r["fit_seconds"] for r in ok], label="sample")
    ax.set_xscale("log")
    ax.set_xlabel("seconds (log)")
    ax.set_title(f"{result['dataset']}: time per method (shared 2-core machine)")
    ax.legend()
    fig.tight_layout()
    paths.append(out_dir / f"{tag}-time.svg")
    fig.savefig(paths[-1])
    plt.close(fig)
    return paths


def targets(result: dict[str, Any]) -> list[str]:
    """Issue 6 targets that this run can measure: ehrsynth ahead of every DP baseline at every ε; speed vs DP-CTGAN."""
    runs = result["runs"]
    ok = {(r["method"], r["epsilon"]): r for r in runs if r.get("status") == "ok"}
    lines = []
    for eps in sorted({r["epsilon"] for r in runs if r["epsilon"] is not None}):
        ours = ok.get(("ehrsynth", eps))
        if ours is None:
            lines.append(f"- ε={eps:g}: ehrsynth did not produce a result — target unmeasured.")
            continue
        for base in DP_BASELINES:
            theirs = ok.get((base, eps))
            if theirs is None:
                status: dict[str, Any] = next(
                    (r for r in runs if r["method"] == base and r["epsilon"] == eps), {}
                )
                lines.append(f"- ε={eps:g} vs {base}: unmeasurable ({status.get('reason', 'not run')}).")
                continue
            d_auc = ours["auroc_synthetic"] - theirs["auroc_synthetic"]
            d_mae = theirs["pairwise_correlation_mae"] - ours["pairwise_correlation_mae"]
            verdict = "**met**" if d_auc > 0 and d_mae > 0 else "**missed**"
            lines.append(
                f"- ε={eps:g} vs {base}: AUROC {ours['auroc_synthetic']:.3f} vs {theirs['auroc_synthetic']:.3f} "
                f"(Δ {d_auc:+.3f}), pairwise MAE {ours['pairwise_correlation_mae']:.4f} vs "
                f"{theirs['pairwise_correlation_mae']:.4f} (Δ {d_mae:+.4f}, > 0 = ours lower) → {verdict}"
            )
        dpctgan = ok.get(("smartnoise_dpctgan", eps))
        if dpctgan is not None:
            ratio = dpctgan["fit_seconds"] / ours["fit_seconds"]
            lines.append(
                f"- ε={eps:g} speed: DP-CTGAN fit {dpctgan['fit_seconds']:.0f} s / ehrsynth {ours['fit_seconds']:.0f} s "
                f"= {ratio:.1f}× (target ≥ 10×) → {'**met**' if ratio >= 10 else '**missed**'}"
            )
    return lines


def render_section(result: dict[str, Any], json_path: Path, out_dir: Path, tag: str) -> str:
    env, cfg = result["environment"], result["config"]
    figures = plot(result, out_dir, tag)
    lines = [
        f"### Peers at equal ε — {result['dataset']} (issue 6)\n",
        f"`python benchmarks/run.py{' --quick' if result['quick'] else ''} --dataset {result['dataset']}` "
        f"({env['date']}, {env['cpus']} cores, torch {env['torch']}; 1-minute load average "
        f"{env.get('load_average_1min', float('nan')):.1f} when this table was written: above {env['cpus']} means "
        "other jobs shared the cores, so seconds are upper bounds, comparable only within this run). Data: {result['rows']} rows × {result['columns']} columns, one seeded 80/20 split "
        f"({result['train_rows']} train / {result['test_rows']} test); synthetic tables have as many rows as train. "
        f"δ = {cfg['delta']:.2e} for every DP method; each method ran in its own process with a "
        f"{cfg['timeout_s']:g} s limit. Utility: `ehrsynth.evaluation.evaluate` (AUROC = mean dimension-wise "
        f"prediction AUROC on the top-100 codes, trained on synthetic, tested on real test; TSTR target "
        f"`{result['target']}`). Privacy: `ehrsynth.privacy.audit` with the **test split as the holdout** "
        "(members subsampled to its size); membership AUC 0.5 = no signal; attribute risk = worst excess over "
        "the holdout control. ehrsynth non-DP: "
        f"{cfg['nondp_epochs']} GAN / {cfg['nondp_ae_epochs']} AE epochs; CTGAN / DP-CTGAN: {cfg['ctgan_epochs']} "
        "epochs. Every method gets the same declared column schema (public domains; baselines/tabular.py).\n",
        "| method | ε | ε spent | AUROC synth (real) | prevalence r | pairwise MAE | TSTR AUROC (real) | "
        "MIA AUC | attr. risk | fit s | sample s | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        if r.get("status") != "ok":
            lines.append(
                f"| {r['method']} | {_eps(r['epsilon'])} | {r['status']}: {str(r.get('reason', ''))[:160]} "
                + "| " * 9
                + "|"
            )
            continue
        lines.append(
            f"| {r['method']} | {_eps(r['epsilon'])} | {_num(r.get('epsilon_spent'), '.2f')} | "
            f"{_num(r['auroc_synthetic'])} ({_num(r['auroc_real'])}) | {_num(r['prevalence_r'])} | "
            f"{_num(r['pairwise_correlation_mae'], '.4f')} | {_num(r['tstr_auroc_synthetic'])} "
            f"({_num(r['tstr_auroc_real'])}) | {_num(r['membership_auc'])} | {_num(r['attribute_risk_max'])} | "
            f"{r['fit_seconds']:.1f} | {r['sample_seconds']:.1f} | {r.get('peak_rss_mb', 0):.0f} |"
        )
    lines.append("\nTargets (issue 6) measured in this run:\n")
    lines += targets(result) or ["- none measurable"]
    lines.append(
        "- DP training ≤ 2× non-DP per step: measured by `benchmarks/dp_bench.py` (its `dp` section), not here."
    )
    rel = json_path.relative_to(json_path.parents[1])
    figs = " ".join(f"![{p.stem}](results/{p.name})" for p in figures)
    lines.append(f"\nJSON: `{rel}`. Plots: {figs}")
    lines.append(
        "\nData: Diabetes 130-US hospitals (Strack et al. 2014, UCI id 296, CC BY 4.0) / ACTG 175 (Hammer et al. "
        "1996, via lifelines); read in place, never committed."
    )
    return "\n".join(lines)
