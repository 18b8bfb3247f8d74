"""Privacy accounting: the mechanisms a fit runs, their composed ε, and the ``privacy.json`` record.

Everything that reads the real data is one of three mechanisms (docs/design.md §4), all under add/remove-one-row
neighbours (the unit of privacy is one row of the table the model is fitted on):

- :class:`PoissonGaussian` — a DP-SGD phase: ``steps`` Poisson-subsampled Gaussian steps at ``sample_rate``.
- :class:`Gaussian` — ``count`` Gaussian releases, ``noise_multiplier = σ / L2 sensitivity``; ``delta`` is an
  extra additive δ on top of its Gaussian privacy loss (a thresholded release, see :mod:`ehrsynth.dp.domain`).
- :class:`Laplace` — ``count`` Laplace releases, ``noise_multiplier = scale / L1 sensitivity``.

:func:`compute_epsilon` composes them at δ minus the mechanisms' extra δ:

- ``"prv"`` (default): privacy-loss random variables (Gopi et al. 2021) with Opacus' PRV machinery (its
  subsampled-Gaussian loss, domain sizing, mean-preserving discretisation, circular FFT composition and error
  bound); the Laplace loss (atoms at ±1/b, a density between) is added here. The value is the *upper* bound,
  estimate + ``eps_error``, ``eps_error = clip(0.005·ε_RDP, 0.001, 0.01)`` (Opacus: 0.01); with
  ``eps_error=0.01`` it equals Opacus' ``PRVAccountant`` to ~1e-7. Meshes are capped at
  :data:`PRV_MAX_POINTS` points (absurd schedules get a coarser mesh and a larger ``eps_error``).
- ``"rdp"``: Opacus' RDP analysis and orders, plus the closed-form RDP of the Gaussian (α/(2σ²)) and Laplace
  (Mironov 2017, Prop. 6) mechanisms, converted with Opacus' ``get_privacy_spent``.

``Gaussian(count=k)`` gives exactly the ε of ``PoissonGaussian(sample_rate=1, steps=k)``. Results are cached
on the canonical mechanism list, so calibrating then recording a schedule costs one computation.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ehrsynth.dp.checks import check_delta
from ehrsynth.errors import InvalidParameterError, PrivacyBudgetError

logger = logging.getLogger(__name__)

ACCOUNTANTS = ("prv", "rdp")
RDP_ORDERS: tuple[float, ...] = tuple([1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)))
# integer orders only (fast in Opacus' RDP analysis): for sizing the PRV domain and choosing its error bound
SIZING_ORDERS: tuple[float, ...] = tuple(float(a) for a in [*range(2, 65), 80, 96, 128, 192, 256])
PRV_EPS_ERROR_MAX = 0.01
PRV_EPS_ERROR_MIN = 0.001
PRV_EPS_ERROR_RELATIVE = 0.005
PRV_MAX_POINTS = 2**23


# -- validation helpers ---------------------------------------------------------------------------------------
def _real(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise InvalidParameterError(f"{what} must be a finite number, found {value!r}")
    return float(value)


def _positive(value: Any, what: str) -> float:
    v = _real(value, what)
    if v <= 0:
        raise InvalidParameterError(f"{what} must be > 0, found {value!r}")
    return v


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise InvalidParameterError(f"{what} must be an integer >= 0, found {value!r}")
    return int(value)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(f"a mechanism name must be a non-empty string, found {value!r}")
    return value


# -- mechanisms -----------------------------------------------------------------------------------------------
def _init_common(m: Any) -> str:
    """Validate and normalise the fields every mechanism has (plus ``count``); returns its label for errors."""
    what = f"mechanism {m.name!r}"
    object.__setattr__(m, "name", _name(m.name))
    object.__setattr__(m, "noise_multiplier", _positive(m.noise_multiplier, f"{what}: noise_multiplier"))
    if hasattr(m, "count"):
        object.__setattr__(m, "count", _count(m.count, f"{what}: count"))
    return what


@dataclass(frozen=True)
class PoissonGaussian:
    """One DP-SGD phase: ``steps`` Poisson-subsampled Gaussian steps (noise_multiplier = σ / clipping norm)."""

    name: str
    noise_multiplier: float
    sample_rate: float
    steps: int
    type: ClassVar[str] = "poisson_gaussian"

    def __post_init__(self) -> None:
        what = _init_common(self)
        q = _real(self.sample_rate, f"{what}: sample_rate")
        if not 0 < q <= 1:
            raise InvalidParameterError(
                f"{what}: sample_rate must be in (0, 1] (expected batch size / rows), found {self.sample_rate!r}"
            )
        object.__setattr__(self, "sample_rate", q)
        object.__setattr__(self, "steps", _count(self.steps, f"{what}: steps"))


@dataclass(frozen=True)
class Gaussian:
    """``count`` Gaussian releases, noise_multiplier = σ / L2 sensitivity; ``delta``: extra additive δ."""

    name: str
    noise_multiplier: float
    count: int = 1
    delta: float = 0.0
    type: ClassVar[str] = "gaussian"

    def __post_init__(self) -> None:
        what = _init_common(self)
        d = _real(self.delta, f"{what}: delta")
        if not 0 <= d < 1:
            raise InvalidParameterError(f"{what}: delta must be in [0, 1), found {self.delta!r}")
        object.__setattr__(self, "delta", d)


@dataclass(frozen=True)
class Laplace:
    """``count`` Laplace releases, noise_multiplier = scale / L1 sensitivity."""

    name: str
    noise_multiplier: float
    count: int = 1
    type: ClassVar[str] = "laplace"

    def __post_init__(self) -> None:
        _init_common(self)


Mechanism = PoissonGaussian | Gaussian | Laplace
_CLASSES: dict[str, type[PoissonGaussian] | type[Gaussian] | type[Laplace]] = {
    c.type: c for c in (PoissonGaussian, Gaussian, Laplace)
}


def mechanism_to_dict(m: Mechanism) -> dict[str, Any]:
    """The ``privacy.json`` entry of one mechanism (a Gaussian's ``delta`` only when it is non-zero)."""
    if not isinstance(m, (PoissonGaussian, Gaussian, Laplace)):
        raise InvalidParameterError(f"not a privacy mechanism: {m!r}")
    out: dict[str, Any] = {"name": m.name, "type": m.type}
    for f in dataclasses.fields(m)[1:]:
        if not (f.name == "delta" and getattr(m, f.name) == 0):
            out[f.name] = getattr(m, f.name)
    return out


def mechanism_from_dict(d: Mapping[str, Any]) -> Mechanism:
    """Parse and validate one ``privacy.json`` mechanism entry."""
    if not isinstance(d, Mapping):
        raise InvalidParameterError(f"a mechanism must be a JSON object, found {d!r}")
    kind = d.get("type")
    if kind not in _CLASSES:
        raise InvalidParameterError(
            f"mechanism {d.get('name')!r} has unknown type {kind!r}; allowed: {sorted(_CLASSES)}"
        )
    fields = dataclasses.fields(_CLASSES[kind])
    required = [f.name for f in fields if f.default is dataclasses.MISSING]
    missing = [k for k in required if k not in d]
    if missing:
        raise InvalidParameterError(f"mechanism {d.get('name')!r} of type {kind!r} is missing {missing}")
    allowed = {"type", *(f.name for f in fields)}
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise InvalidParameterError(
            f"mechanism {d.get('name')!r} of type {kind!r} has unknown keys {unknown}; allowed: {sorted(allowed)}"
        )
    return _CLASSES[kind](**{k: v for k, v in d.items() if k != "type"})


def default_delta(n_rows: int) -> float:
    """The default δ for a table of ``n_rows`` rows: ``min(1e-5, 1 / (10 n))`` — always at least 10× below 1/n."""
    n = _count(n_rows, "n_rows")
    if n < 1:
        raise InvalidParameterError(f"n_rows must be >= 1, found {n_rows!r}")
    return min(1e-5, 1.0 / (10.0 * n))


# -- composition ----------------------------------------------------------------------------------------------
# A canonical term: (kind, noise_multiplier, sample_rate, count), kind in {"sg", "g", "lap"}; identical
# (kind, noise, rate) terms are merged, zero-count terms dropped, and the tuple sorted (the cache key).
_Term = tuple[str, float, float, int]


def _terms(mechanisms: Sequence[Mechanism]) -> tuple[_Term, ...]:
    merged: dict[tuple[str, float, float], int] = {}
    for m in mechanisms:
        if isinstance(m, PoissonGaussian):
            kind, q, n = ("g" if m.sample_rate == 1.0 else "sg"), m.sample_rate, m.steps
        elif isinstance(m, (Gaussian, Laplace)):
            kind, q, n = ("g" if isinstance(m, Gaussian) else "lap"), 1.0, m.count
        else:
            raise InvalidParameterError(
                f"not a privacy mechanism: {m!r} (use PoissonGaussian, Gaussian or Laplace)"
            )
        if n > 0:
            merged[kind, m.noise_multiplier, q] = merged.get((kind, m.noise_multiplier, q), 0) + n
    return tuple(sorted((k, s, q, n) for (k, s, q), n in merged.items()))


@functools.lru_cache(maxsize=2048)
def _rdp_one(kind: str, sigma: float, q: float, orders_key: tuple[float, ...]) -> np.ndarray:
    """RDP of ONE step/release at the given orders."""
    orders = np.asarray(orders_key, dtype=float)
    if kind == "sg":
        from opacus.accountants.analysis.rdp import compute_rdp

        return np.asarray(
            compute_rdp(q=q, noise_multiplier=sigma, steps=1, orders=list(orders_key)), dtype=float
        )
    if kind == "g":
        return orders / (2.0 * sigma**2)
    b = sigma  # Laplace, Mironov (2017) Prop. 6; capped by the pure-DP bound 1/b
    log_terms = np.logaddexp(
        np.log(orders / (2 * orders - 1)) + (orders - 1) / b,
        np.log((orders - 1) / (2 * orders - 1)) - orders / b,
    )
    return np.minimum(log_terms / (orders - 1), 1.0 / b)


def _rdp_epsilon(terms: Sequence[_Term], delta: float, orders: tuple[float, ...] = RDP_ORDERS) -> float:
    from opacus.accountants.analysis.rdp import get_privacy_spent

    rdp = sum((_rdp_one(k, s, q, orders) * n for k, s, q, n in terms), start=np.zeros(len(orders)))
    with warnings.catch_warnings():  # "optimal order is the largest alpha": still a valid upper bound
        warnings.simplefilter("ignore")
        eps, _ = get_privacy_spent(orders=list(orders), rdp=rdp, delta=delta)
    return float(eps)


class _LaplacePRV:
    """Privacy loss of the Laplace mechanism (scale b, sensitivity 1): atoms ½ at 1/b, ½e^(-1/b) at -1/b, and
    density ¼e^(t/2 - 1/(2b)) between. The domain always covers [-1/b, 1/b], so truncation changes nothing."""

    def __init__(self, b: float, t_min: float, t_max: float) -> None:
        if t_min > -1.0 / b or t_max < 1.0 / b:
            raise RuntimeError("internal: the PRV domain must cover the Laplace privacy loss support")
        self.b = b

    def cdf(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        inner = 0.5 * np.exp(np.minimum(t, 1.0 / self.b) / 2 - 1.0 / (2 * self.b))
        return np.where(t < -1.0 / self.b, 0.0, np.where(t < 1.0 / self.b, inner, 1.0))

    def mean(self) -> float:  # KL(Lap(0, b) || Lap(1, b))
        return 1.0 / self.b + math.expm1(-1.0 / self.b)


class _SubsampledGaussianPRV:
    """Opacus' ``PoissonSubsampledGaussianPRV`` truncated to the domain, as Opacus'
    ``TruncatedPrivacyRandomVariable`` but with the mean by Simpson's rule over the underlying Gaussian mixture
    (the loss is Y = log(1 - q + q e^Z), Z ~ q N(μ, 1/σ²) + (1 - q) N(-μ, 1/σ²), μ = 1/(2σ²)) instead of
    adaptive quadrature of the cdf: the same value to ~1e-10, a hundred times faster."""

    def __init__(self, q: float, sigma: float, t_min: float, t_max: float) -> None:
        from opacus.accountants.analysis.prv import PoissonSubsampledGaussianPRV

        self.q, self.sigma, self.t_min, self.t_max = q, sigma, t_min, t_max
        self._prv = PoissonSubsampledGaussianPRV(q, sigma)
        with np.errstate(divide="ignore"):  # log(1 - q) = -inf at q = 1 is fine
            self._lo = float(self._prv.cdf(np.asarray(t_min)))
            self.mass = float(self._prv.cdf(np.asarray(t_max))) - self._lo

    def cdf(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        inner = (self._prv.cdf(t) - self._lo) / self.mass
        return np.where(t < self.t_min, 0.0, np.where(t < self.t_max, inner, 1.0))

    def mean(self) -> float:
        from scipy.integrate import simpson

        q, mu, sd = self.q, 1.0 / (2.0 * self.sigma**2), 1.0 / self.sigma

        def z_of(t: float) -> float:  # Y <= t  <=>  Z <= z_of(t)
            inner = math.exp(t) + q - 1
            return math.log(inner / q) if inner > 0 else -math.inf

        lo, hi = max(-mu - 40 * sd, z_of(self.t_min)), min(mu + 40 * sd, z_of(self.t_max))
        z = np.linspace(lo, hi, 20001)
        dens = q * np.exp(-0.5 * ((z - mu) / sd) ** 2) + (1 - q) * np.exp(-0.5 * ((z + mu) / sd) ** 2)
        loss = np.logaddexp(math.log1p(-q) if q < 1 else -math.inf, math.log(q) + z)
        return float(simpson(loss * dens, x=z) / simpson(dens, x=z))


def _fast_domain(half_width: float, mesh: float) -> Any:
    """Opacus' aligned domain ``Domain.create_aligned(-L, L, mesh)`` (t_min = -K·mesh, t_max = (K+1)·mesh, size
    2K + 2), widened so that its size is a fast FFT length (5-smooth and even): ~10× faster composition."""
    from opacus.accountants.analysis.prv import Domain
    from scipy.fft import next_fast_len

    base = Domain.create_aligned(-half_width, half_width, mesh)
    target = next_fast_len(base.size, real=True)
    while target % 2:
        target = next_fast_len(target + 1, real=True)
    k = target // 2 - 1
    return Domain(t_min=-k * mesh, t_max=(k + 1) * mesh, size=int(target))


def _discretize(prv: Any, domain: Any) -> tuple[np.ndarray, float]:
    """As Opacus' ``discretize`` (mean-preserving: the grid is shifted so the discrete mean equals the
    continuous one), with the cdf evaluated once on the N + 1 bin edges. Returns (pmf, shift)."""
    edges = domain.t_min - domain.dt / 2 + domain.dt * np.arange(domain.size + 1)
    pmf = np.diff(prv.cdf(edges))
    shift = prv.mean() - float(np.dot(domain.ts, pmf))
    if abs(shift) >= domain.dt / 2:
        raise RuntimeError("Discrete mean differs significantly from continuous mean.")
    return pmf, shift


def _compose(pmfs: Sequence[np.ndarray], shifts: Sequence[float], counts: Sequence[int], domain: Any) -> Any:
    """The sum of ``counts[i]`` copies of every discretised PRV as one circular convolution (one FFT per term),
    the same wrap-around Opacus' ``_compose_fourier`` accepts for self-composition, instead of its pairwise
    linear convolutions: ~3× fewer FFTs for mixed schedules. Domain: t_min = -k·dt, so index sums are
    re-centred by (T - 1)·k for T terms in all."""
    from opacus.accountants.analysis.prv import DiscretePRV, Domain
    from scipy.fft import irfft, rfft

    spectrum = np.ones(domain.size // 2 + 1, dtype=complex)
    for pmf, n in zip(pmfs, counts, strict=True):
        spectrum *= rfft(pmf) ** n
    k = round(-domain.t_min / domain.dt)
    total = sum(counts)
    pmf = np.roll(irfft(spectrum, n=domain.size), -((total - 1) * k) % domain.size)
    shift = sum(s * n for s, n in zip(shifts, counts, strict=True))
    out = Domain(t_min=domain.t_min + shift, t_max=domain.t_max + shift, size=domain.size, shifts=shift)
    return DiscretePRV(pmf=pmf, domain=out)


def _prv_epsilon(terms: Sequence[_Term], delta: float, eps_error: float | None) -> float:
    delta_error = delta / 1000.0
    if eps_error is None:
        rough = _rdp_epsilon(terms, delta, SIZING_ORDERS)
        eps_error = min(PRV_EPS_ERROR_MAX, max(PRV_EPS_ERROR_MIN, PRV_EPS_ERROR_RELATIVE * rough))
    total = sum(t[3] for t in terms)
    # safe domain size as opacus.accountants.analysis.prv.compute_safe_domain_size (RDP tail bounds), with our
    # RDP (Laplace included) at integer orders: a larger, still safe, domain
    big = _rdp_epsilon(terms, delta_error / 4, SIZING_ORDERS)
    for k, s, q, _ in terms:
        big = max(big, _rdp_epsilon([(k, s, q, 1)], delta_error / (8 * total), SIZING_ORDERS))
        if k == "lap":
            big = max(big, 1.0 / s + eps_error)
    half_width = max(big, eps_error) + 3
    spread = math.sqrt(total * math.log(12 / delta_error) / 2)
    mesh = eps_error / spread
    if 2 * half_width / mesh > PRV_MAX_POINTS:
        mesh = 2 * half_width / PRV_MAX_POINTS
        logger.debug(
            "PRV mesh capped at %d points: eps_error %.3g -> %.3g", PRV_MAX_POINTS, eps_error, mesh * spread
        )
        eps_error = mesh * spread
    domain = _fast_domain(half_width, mesh)
    prvs: list[Any] = []
    for k, s, q, _ in terms:
        if k in ("sg", "g"):  # "g": the same formulas at q = 1 (loss N(μ, 2μ), μ = 1/(2σ²))
            prvs.append(_SubsampledGaussianPRV(q, s, domain.t_min, domain.t_max))
        else:
            prvs.append(_LaplacePRV(s, domain.t_min, domain.t_max))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        pieces = [_discretize(p, domain) for p in prvs]
        composed = _compose([p for p, _ in pieces], [sh for _, sh in pieces], [t[3] for t in terms], domain)
        _, _, eps_upper = composed.compute_epsilon(delta, delta_error, eps_error)
    return max(float(eps_upper), 0.0)


@functools.lru_cache(maxsize=512)
def _epsilon_cached(
    terms: tuple[_Term, ...], delta: float, accountant: str, eps_error: float | None
) -> float:
    if accountant == "rdp":
        return _rdp_epsilon(terms, delta)
    try:
        return _prv_epsilon(terms, delta, eps_error)
    except (
        ValueError,
        RuntimeError,
    ) as exc:  # out of PRV's numerical range (e.g. tiny δ): RDP is an upper bound
        logger.warning("PRV accounting failed (%s); using the RDP bound for this composition", exc)
        return _rdp_epsilon(terms, delta)


_check_delta = check_delta  # the one δ rule (ehrsynth.dp.checks)


def _check_accountant(accountant: Any) -> str:
    if accountant not in ACCOUNTANTS:
        raise InvalidParameterError(f"accountant must be one of {ACCOUNTANTS}, found {accountant!r}")
    return str(accountant)


def compute_epsilon(
    mechanisms: Sequence[Mechanism], delta: float, accountant: str = "prv", *, eps_error: float | None = None
) -> float:
    """ε of the composition of all ``mechanisms`` at ``delta`` (see the module docstring for the accountants).

    The Gaussian mechanisms' extra ``delta`` terms are subtracted from ``delta`` first; a budget they use up
    entirely raises :class:`PrivacyBudgetError`. ``eps_error`` (PRV only) overrides the default error bound.
    """
    delta = _check_delta(delta)
    accountant = _check_accountant(accountant)
    terms = _terms(mechanisms)
    reserved = sum(m.delta for m in mechanisms if isinstance(m, Gaussian))
    if reserved >= delta:
        raise PrivacyBudgetError(
            f"thresholded releases reserve delta = {reserved:.3g}, which uses up the whole delta = {delta:.3g}; "
            "use a larger delta or a smaller release_delta for DP domain discovery"
        )
    if not terms:
        return 0.0
    if eps_error is not None:
        eps_error = _positive(eps_error, "eps_error")
    return _epsilon_cached(terms, delta - reserved, accountant, eps_error)


# -- the privacy.json record ----------------------------------------------------------------------------------
