"""One budget for the measure engine: noise multipliers for the row cap, 1-ways, all pairs and adaptive rounds.

Every release of the engine is Gaussian (the exponential-mechanism selections are recorded as the Gaussian that
dominates them, see :mod:`ehrsynth.dp.selection`), and Gaussian releases compose exactly: releases with noise
multipliers σ_i together are one Gaussian with 1/σ² = Σ 1/σ_i² (μ² = Σ μ_i² in Gaussian-DP terms, ρ in
zCDP). So ``shares`` are shares of that additive quantity μ², not of ε (which composes sub-additively):
release group g with ``count`` c_g and share s_g gets σ_g = c · √(c_g / s_g), and one scale c is calibrated
by :func:`calibrate_gaussian` (as one Gaussian, to which the groups compose) so that
the composition with the ``fixed`` mechanisms (e.g. domain discovery) equals ε under the chosen accountant;
the ε of the recorded releases is then recomputed (rounding to 6 digits moves it by ~1e-6 relative).

Default split (DESIGN §4b, arithmetic; measured in ``benchmarks/measure_bench.py``): row cap 4 %, 1-ways 33 %,
pairs 50 %, adaptive rounds 13 % (of which :data:`DEFAULT_SELECT_FRACTION` selects, the rest measures).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ehrsynth.dp.accounting import Gaussian, Mechanism, compute_epsilon
from ehrsynth.dp.calibration import MIN_NOISE_MULTIPLIER
from ehrsynth.errors import InvalidParameterError, PrivacyBudgetError

DEFAULT_SHARES: dict[str, float] = {"row_cap": 0.04, "one_way": 0.33, "pairs": 0.50, "rounds": 0.13}
DEFAULT_SELECT_FRACTION = 0.25
DEFAULT_ROUNDS = 2
DEFAULT_PER_ROUND = 20
SHARE_KEYS = ("row_cap", "one_way", "pairs", "rounds")
MAX_NOISE_MULTIPLIER = 1e3  # for the composed Gaussian: epsilon ~0.003 at delta 1e-5 (PRV is slow far beyond)


@dataclass(frozen=True)
class MeasurePlan:
    """Noise multipliers (σ / L2 sensitivity) per release; all None without DP.

    ``select`` is the Gaussian-equivalent multiplier of ONE exponential-mechanism selection (``rounds ×
    per_round`` of them); ``triples`` that of one round's triple release (``rounds`` of them).
    """

    row_cap: float | None
    one_way: float | None
    pairs: float | None
    select: float | None
    triples: float | None
    rounds: int
    per_round: int
    epsilon_spent: float = 0.0
    shares: dict[str, float] = field(default_factory=dict)

    @property
    def private(self) -> bool:
        return self.pairs is not None


def exact_plan(rounds: int, per_round: int) -> MeasurePlan:
    """The plan without DP: exact statistics, no mechanism."""
    return MeasurePlan(None, None, None, None, None, rounds, per_round)


def _check_shares(shares: Mapping[str, float], rounds: int) -> dict[str, float]:
    unknown = sorted(set(shares) - set(SHARE_KEYS))
    if unknown:
        raise InvalidParameterError(f"unknown budget shares {unknown}; allowed: {list(SHARE_KEYS)}")
    out = {k: float(shares.get(k, 0.0)) for k in SHARE_KEYS}
    if rounds == 0:
        out["rounds"] = 0.0
    for k, v in out.items():
        if not (math.isfinite(v) and v >= 0):
            raise InvalidParameterError(f"budget share {k!r} must be a number >= 0, found {v!r}")
    for k in ("row_cap", "pairs"):
        if out[k] <= 0:
            raise InvalidParameterError(f"budget share {k!r} must be > 0, found {out[k]!r}")
    total = sum(out.values())
    return {k: v / total for k, v in out.items()}  # shares are relative: normalised to 1


def plan_measure_budget(
    *,
    epsilon: float,
    delta: float,
    accountant: str = "prv",
    shares: Mapping[str, float] | None = None,
    rounds: int = DEFAULT_ROUNDS,
    per_round: int = DEFAULT_PER_ROUND,
    select_fraction: float = DEFAULT_SELECT_FRACTION,
    fixed: Sequence[Mechanism] = (),
) -> MeasurePlan:
    """Calibrate the engine's noise multipliers so that ``fixed`` + all its releases spend ``epsilon``.

    ``shares`` (default :data:`DEFAULT_SHARES`; normalised to sum to 1) split μ² between the groups; a
    ``one_way`` share of 0 means the 1-way release is charged elsewhere (then ``one_way`` is None in the
    plan). ``rounds`` rounds each select ``per_round`` triples (exponential mechanism) and measure them.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise InvalidParameterError(f"rounds must be an integer >= 0, found {rounds!r}")
    if isinstance(per_round, bool) or not isinstance(per_round, int) or per_round < 1:
        raise InvalidParameterError(f"per_round must be an integer >= 1, found {per_round!r}")
    if not 0 < select_fraction < 1:
        raise InvalidParameterError(f"select_fraction must be in (0, 1), found {select_fraction!r}")
    s = _check_shares(DEFAULT_SHARES if shares is None else shares, rounds)
    groups: list[tuple[str, int, float]] = [("row_cap", 1, s["row_cap"]), ("pairs", 1, s["pairs"])]
    if s["one_way"] > 0:
        groups.append(("one_way", 1, s["one_way"]))
    if rounds > 0:
        groups.append(("select", rounds * per_round, s["rounds"] * select_fraction))
        groups.append(("triples", rounds, s["rounds"] * (1 - select_fraction)))
    # Gaussians compose into one Gaussian (1/σ² adds up): calibrate that one, then split it by the shares
    total = calibrate_gaussian(epsilon=epsilon, delta=delta, fixed=fixed, accountant=accountant)
    calibrated = {name: float(f"{total * math.sqrt(count / share):.6g}") for name, count, share in groups}
    mechs = [Gaussian(name, calibrated[name], count=count) for name, count, _ in groups]
    spent = compute_epsilon([*fixed, *mechs], delta, accountant=accountant)
    return MeasurePlan(
        row_cap=calibrated["row_cap"],
        one_way=calibrated.get("one_way"),
        pairs=calibrated["pairs"],
        select=calibrated.get("select"),
        triples=calibrated.get("triples"),
        rounds=rounds,
        per_round=per_round,
        epsilon_spent=spent,
        shares=s,
    )


def calibrate_gaussian(
    *,
    epsilon: float,
    delta: float,
    fixed: Sequence[Mechanism] = (),
    accountant: str = "prv",
    tol: float = 0.005,
) -> float:
    """The noise multiplier σ of ONE Gaussian release such that ``fixed`` + it spend ε within ``tol`` (≤ ε).

    Bisection on log σ with the library's accountant (each evaluation takes milliseconds for Gaussians);
    σ is rounded to 6 significant digits before it is evaluated, so the ε is that of the value used.
    """
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise PrivacyBudgetError(f"epsilon must be a positive finite number, found {epsilon!r}")

    def eps(sigma: float) -> float:
        return compute_epsilon([*fixed, Gaussian("measure", sigma)], delta, accountant=accountant)

    lo, hi = math.log(MIN_NOISE_MULTIPLIER), math.log(MAX_NOISE_MULTIPLIER)  # lo: spends more
    if eps(math.exp(hi)) > epsilon:
        raise PrivacyBudgetError(
            f"epsilon = {epsilon:g} (delta = {delta:.3g}) is used up before the measurements: the mechanisms "
            f"run before them ({', '.join(m.name for m in fixed)}) spend it; give them a smaller share or use a "
            "larger epsilon"
        )
    if eps(math.exp(lo)) <= epsilon:
        return MIN_NOISE_MULTIPLIER
    best = math.exp(hi)
    for _ in range(80):
        mid = float(f"{math.exp((lo + hi) / 2):.6g}")
        e = eps(mid)
        if e <= epsilon:
            hi, best = math.log(mid), mid
            if e >= epsilon * (1 - tol):
                break
        else:
            lo = math.log(mid)
        if hi - lo < 1e-9:
            break
    return best
