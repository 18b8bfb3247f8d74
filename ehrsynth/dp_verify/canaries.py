"""Canary records for DP audits: valid under a declared schema, unlike any real record, unlike each other.

A canary must be *distinguishable*: whether it was trained on should change the model's behaviour on it, and
on it alone. Built from the audit's declared :class:`~ehrsynth.schema.Schema` (column by column):

- **binary** columns (codes): each canary sets its own random ``CODE_FRACTION`` of the binary columns and
  clears the others. Real patients carry a few codes; a canary carries many (a fifth of all codes) in a
  combination nobody else has, which the model can only reproduce by memorising that record.
- **categorical**: a category drawn uniformly from the declared categories, so rare categories are as
  frequent as common ones (an out-of-distribution but valid combination).
- **count / continuous / datetime**: the lowest or the highest value of the base table, at random (a valid
  extreme, combined with everything else at random); then each of the first canaries (as many as there are)
  gets its own *gap* value in one integer-valued column: a value inside the range that no base row holds
  (:mod:`ehrsynth.dp_verify.gap_canaries`).
- **identifier**: fresh surrogate keys (identifiers are never modelled).
- Canaries are never missing a value.

:func:`score_canaries` scores canaries on a fitted model with the white-box attacks of the DP audit; it
imports torch when called (everything else here needs numpy and pandas only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ehrsynth.errors import InvalidDataError, InvalidParameterError, SchemaError
from ehrsynth.schema import Column, Kind, Schema

if TYPE_CHECKING:  # pragma: no cover
    from ehrsynth.estimator import MedGAN

#: Share of the binary columns that each canary sets to 1.
CODE_FRACTION = 0.2
#: The attacks of :func:`score_canaries`, in the order the audit tries them.
ATTACKS: tuple[str, ...] = (
    "reconstruction_pretrained",
    "reconstruction",
    "discriminator",
    "synthetic_distance",
    "released_gap",
)  # released_gap only where some canary holds a gap value (ehrsynth.dp_verify.gap_canaries)
#: At most this many synthetic rows for the nearest-synthetic-record attack.
MAX_SYNTHETIC_ROWS = 20_000


def _typed(values: list[Any] | np.ndarray, like: pd.Series, name: str) -> pd.Series:
    """A series of ``values`` with the dtype of the base column (object when that dtype cannot hold them)."""
    try:
        return pd.Series(values, dtype=like.dtype, name=name)
    except (TypeError, ValueError):
        return pd.Series(values, dtype=object, name=name)


def _binary_patterns(columns: list[str], m: int, rng: np.random.Generator) -> np.ndarray:
    """(m, len(columns)) 0/1 patterns, each with a random ``CODE_FRACTION`` of the columns set."""
    out = np.zeros((m, len(columns)), dtype=np.uint8)
    if not columns:
        return out
    k = codes_per_canary(len(columns))
    for i in range(m):
        out[i, rng.choice(len(columns), size=k, replace=False)] = 1
    return out


def codes_per_canary(n_binary: int) -> int:
    """How many of ``n_binary`` binary columns a canary sets to 1."""
    return min(n_binary, max(1, round(CODE_FRACTION * n_binary))) if n_binary else 0


def _extremes(df: pd.DataFrame, col: Column) -> tuple[Any, Any]:
    """The base table's lowest and highest values of ``col`` (as typed in the data; dates by time)."""
    from ehrsynth.transforms.numeric import numeric_values

    scaled = numeric_values(col, df[col.name])
    present = df[col.name].notna().to_numpy()
    if not present.any():
        raise InvalidDataError(
            f"column {col.name!r} has no values to build canaries from; drop it or fill it", column=col.name
        )
    idx = np.flatnonzero(present)
    lo = idx[int(np.argmin(scaled[idx]))]
    hi = idx[int(np.argmax(scaled[idx]))]
    return df[col.name].iloc[lo], df[col.name].iloc[hi]


def audit_engine(params: dict[str, Any]) -> str:
    """The engine an audit with these MedGAN parameters trains (the estimator's default when unset)."""
    from ehrsynth.estimator import MedGAN

    return str(params.get("engine", MedGAN().engine))


def check_canary_request(df: pd.DataFrame, schema: Schema, m: int) -> None:
    """``m`` is a positive integer and ``df`` has every column of ``schema`` (for every canary design)."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise InvalidParameterError(f"the number of canaries must be a positive integer, found {m!r}")
    missing = [c.name for c in schema.columns if c.name not in df.columns]
    if missing:
        raise SchemaError(
            f"the schema lists columns that the table lacks: {missing[:5]}; use the schema of this table",
            column=missing[0],
        )


def make_canaries(
    df: pd.DataFrame, schema: Schema, m: int, rng: np.random.Generator, *, engine: str = "dpsgd"
) -> pd.DataFrame:
    """``m`` canary rows with the columns and dtypes of ``df``, valid under ``schema`` (see module docstring).

    ``df`` is the base table (the audit's training data without canaries) and must match ``schema``. With
    ``engine="measure"`` the canaries are pair canaries (:mod:`ehrsynth.dp_verify.pair_canaries`).
    """
    if engine == "measure":
        from ehrsynth.dp_verify.pair_canaries import make_pair_canaries

        return make_pair_canaries(df, schema, m, rng)
    check_canary_request(df, schema, m)
    binary = {c.name: j for j, c in enumerate(c for c in schema.columns if c.kind is Kind.BINARY)}
    patterns = _binary_patterns(list(binary), m, rng)
    columns: dict[str, pd.Series] = {}
    for col in schema.columns:
        base = df[col.name]
        if col.kind is Kind.IDENTIFIER:
            from ehrsynth.transforms.table import surrogate_keys

            keys = surrogate_keys(col, m).to_numpy()
            columns[col.name] = _typed(keys, base, col.name)
        elif col.kind is Kind.BINARY:
            columns[col.name] = _typed(patterns[:, binary[col.name]], base, col.name)
        elif col.kind is Kind.CATEGORICAL:
            cats = list(col.categories or [])
            picks = [cats[i] for i in rng.integers(0, len(cats), size=m)]
            columns[col.name] = _typed(picks, base, col.name)
        else:
            lo, hi = _extremes(df, col)
            high = rng.random(m) < 0.5
            columns[col.name] = _typed([hi if h else lo for h in high], base, col.name)
    extra = [c for c in df.columns if c not in columns]
    if extra:
        raise SchemaError(
            f"the table has columns that the schema does not list: {extra[:5]}; use the schema of this table",
            column=str(extra[0]),
        )
    out = pd.DataFrame({name: columns[name] for name in df.columns})
    out.index = pd.RangeIndex(m)
    from ehrsynth.dp_verify.gap_canaries import assign_gaps

    return assign_gaps(out, df, schema, rng)


def draw_inclusion(m: int, rng: np.random.Generator) -> np.ndarray:
    """Independent fair coins: which of ``m`` canaries go into the training data."""
    return rng.random(m) < 0.5


def score_canaries(
    model: MedGAN,
    canaries: pd.DataFrame,
    base: pd.DataFrame,
    rng: np.random.Generator,
    pretrained: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """White-box attack scores of every canary on a fitted MedGAN; higher = more likely trained on.

    ``reconstruction``: minus the autoencoder's per-record reconstruction loss (the medGAN loss: BCE, MSE and
    cross-entropy summed over the record's units); ``reconstruction_pretrained``: the same with the
    autoencoder's weights ``pretrained`` (a state dict taken when its DP phase ended, before the GAN phase
    fine-tuned the decoder; the final autoencoder when ``None``). ``discriminator``: the discriminator's logit
    (with minibatch averaging, each canary is paired with the mean of the canary-free ``base`` rows).
    ``synthetic_distance``: minus the Euclidean distance, in the encoded space, to the nearest of
    ``len(base)`` (at least 1,000, at most ``MAX_SYNTHETIC_ROWS``) synthetic records sampled with ``rng``.
    ``released_gap`` (only when some canary holds a gap value): the released 1-way mass at the canary's gap
    value, the others ranked by ``reconstruction_pretrained`` in between. A model of the ``measure`` engine gets the pair attacks instead (:mod:`ehrsynth.dp_verify.pair_attack`).
    """
    import copy

    if getattr(model, "engine", "dpsgd") == "measure":
        from ehrsynth.dp_verify.pair_attack import score_pair_canaries

        return score_pair_canaries(model, canaries, base, rng)

    import torch

    transformer = model.transformer_
    ae, disc = model.autoencoder_, model.discriminator_
    device = next(ae.parameters()).device
    x = torch.as_tensor(transformer.encode(model.as_modelled(canaries))).to(device)
    early = ae
    if pretrained is not None:
        early = copy.deepcopy(ae)
        early.load_state_dict(pretrained)
    ae.eval()
    early.eval()
    disc.eval()
    with torch.no_grad():
        scores = {
            "reconstruction_pretrained": -early.head.per_sample_loss(early(x), x),
            "reconstruction": -ae.head.per_sample_loss(ae(x), x),
        }
        if disc.minibatch_averaging:
            ref = (
                torch.as_tensor(transformer.encode(model.as_modelled(base)))
                .to(device)
                .mean(dim=0, keepdim=True)
            )
            scores["discriminator"] = disc.net(torch.cat([x, ref.expand_as(x)], dim=1)).squeeze(1)
        else:
            scores["discriminator"] = disc(x)
        n_syn = min(MAX_SYNTHETIC_ROWS, max(len(base), 1000))
        rows = model.as_modelled(model.sample(n_syn, random_state=rng))
        synthetic = torch.as_tensor(transformer.encode(rows)).to(device)
        nearest = torch.cat([torch.cdist(chunk, synthetic).min(dim=1).values for chunk in x.split(256)])
        scores["synthetic_distance"] = -nearest
    out = {name: scores[name].double().cpu().numpy() for name in ATTACKS if name in scores}
    from ehrsynth.dp_verify.gap_canaries import canary_gaps, released_gap_scores

    canaries, base = model.as_modelled(canaries), model.as_modelled(base)
    if any(g is not None for g in canary_gaps(canaries, base, model.schema_)):
        fallback = out["reconstruction_pretrained"]
        out["released_gap"] = released_gap_scores(
            model.schema_, canaries, base, model.schema_, fallback, len(base), rng
        )
    return out
