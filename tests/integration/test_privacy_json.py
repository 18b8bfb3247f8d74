"""Every ε the library prints can be recomputed from privacy.json by an independent accountant."""

from __future__ import annotations

import json

import pld
import pytest
from support import make_table

from ehrsynth import MedGAN


@pytest.mark.parametrize(("epsilon", "engine"), [(1.0, "dpsgd"), (3.0, "dpsgd"), (1.0, "hybrid")])
def test_privacy_json_recomputed_with_google_pld(tmp_path, epsilon: float, engine: str) -> None:
    df = make_table(5000, seed=1)
    model = MedGAN(
        epsilon=epsilon, engine=engine, epochs=2, ae_epochs=1, bn_burn_in_batches=2, random_state=0
    ).fit(df)
    model.save(str(tmp_path / "m"))
    record = json.loads((tmp_path / "m" / "privacy.json").read_text())
    assert set(record) == {"epsilon", "delta", "epsilon_spent", "accountant", "mechanisms", "schema_source"}
    assert record["epsilon"] == epsilon and record["accountant"] == "prv"
    kinds = {m["type"] for m in record["mechanisms"]}
    assert kinds == {"poisson_gaussian", "gaussian"}  # DP-SGD phases + DP domain discovery (+ hybrid: pairs)
    names = [m["name"] for m in record["mechanisms"]]
    assert (
        any(n.startswith("measure:pairs:") for n in names) == (engine == "hybrid")
        and names[-1] == "discriminator"
    )
    for m in record["mechanisms"]:
        assert {"name", "type", "noise_multiplier"} <= set(m)
    independent = pld.pld_epsilon(record)
    assert independent == pytest.approx(record["epsilon_spent"], rel=0.02)
    assert record["epsilon_spent"] <= epsilon * 1.005
