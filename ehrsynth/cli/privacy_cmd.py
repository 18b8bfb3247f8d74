"""`ehrsynth privacy MODEL_DIR`: the privacy budget breakdown per mechanism, recomputed from privacy.json.

The ε printed is the one recomputed from the recorded mechanisms; a privacy.json whose recorded
``epsilon_spent`` disagrees with it is refused (exit 2)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "privacy",
        help="print the privacy budget of a model directory, per mechanism",
        description="Print the privacy budget a model directory spent, per mechanism, recomputed from privacy.json.",
    )
    p.add_argument("model_dir", metavar="MODEL_DIR", help="model directory written by `fit` or --save-model")
    p.add_argument("--json", action="store_true", help="print privacy.json with the recomputed epsilon")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from ehrsynth.io.model_dir import read_privacy, verify_model_dir

    d = verify_model_dir(args.model_dir)
    record = read_privacy(d)  # epsilon_spent recomputed from the mechanisms (a mismatch is refused)
    if record.epsilon is None:
        print("This model was trained WITHOUT differential privacy: no privacy guarantee holds.")
        return 0
    recomputed = float(record.epsilon_spent or 0.0)
    if args.json:
        print(json.dumps({**record.to_dict(), "epsilon_recomputed": recomputed}, indent=2))
        return 0
    print(
        f"budget: epsilon = {record.epsilon:g}, delta = {record.delta:.3g}, accountant = {record.accountant}"
    )
    print(f"spent:  epsilon = {recomputed:.4f} (recomputed from the mechanisms in privacy.json)")
    if record.privacy_unit == "row":
        print(
            "unit:   one ROW, not one patient: fitted with privacy_unit='row' on a table whose patient or visit key "
            "repeats, so a patient with k rows is protected at about k x epsilon"
        )
    print(
        f"{'mechanism':<22} {'type':<17} {'noise mult.':>11} {'sample rate':>11} {'steps/count':>11} {'eps alone':>9}"
    )
    for row in record.breakdown():
        print(
            f"{row['name']:<22} {row['type']:<17} {row['noise_multiplier']:>11.4g} "
            f"{row.get('sample_rate', 1.0):>11.4g} {row.get('steps', row.get('count', 1)):>11} "
            f"{row['epsilon_alone']:>9.4g}"
        )
    print("(eps alone: each mechanism by itself at the same delta; the composition above is not their sum)")
    return 0
