"""Latent-class mixture: a density model for binary and categorical data (no kernel density on one-hot codes).

p(x) = sum_k pi_k prod_j p_k(x_j), with a Bernoulli per binary column and a categorical distribution per other
column (numeric columns enter as quantile bins). Fitted by EM with additive smoothing, so unseen values never get
probability zero. On sparse 0/1 data the log-likelihood of every row under every component is one sparse matrix
product: ``x . logit(p_k) + sum_j log(1 - p_kj)``.

Used for the density-ratio membership attack (the DOMIAS idea): score = log p_synthetic(x) - log p_reference(x).
A record the generator over-represents relative to the population is more likely a training record.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from ehrsynth.errors import InvalidDataError, InvalidParameterError, NotFittedError

logger = logging.getLogger(__name__)


class LatentClassMixture:
    """Mixture of independent Bernoulli / categorical columns (scikit-learn style estimator).

    Parameters
    ----------
    n_components:
        Number of latent classes (reduced to ``n_rows // 20`` on small data, at least 1).
    max_iter, tol:
        EM stops after ``max_iter`` iterations or when the mean log-likelihood improves by less than ``tol``.
    smoothing:
        Additive (Dirichlet) smoothing of every probability.
    random_state:
        Seed or generator of the initialisation.
    """

    def __init__(
        self,
        n_components: int = 32,
        *,
        max_iter: int = 30,
        tol: float = 1e-3,
        smoothing: float = 0.5,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.random_state = random_state

    def _validate(self, X: sp.csr_matrix, bernoulli: np.ndarray, block: np.ndarray) -> None:
        if self.n_components < 1 or self.max_iter < 1 or self.smoothing <= 0:
            raise InvalidParameterError(
                "LatentClassMixture needs n_components >= 1, max_iter >= 1 and smoothing > 0, found "
                f"{self.n_components}, {self.max_iter}, {self.smoothing}"
            )
        if X.shape[0] == 0:
            raise InvalidDataError("cannot fit a density model on zero rows")
        if len(bernoulli) != X.shape[1] or len(block) != X.shape[1]:
            raise InvalidParameterError("bernoulli and block must give one entry per feature")

    def fit(self, X: sp.csr_matrix, bernoulli: np.ndarray, block: np.ndarray) -> LatentClassMixture:
        """Fit on a sparse 0/1 matrix; ``bernoulli`` marks Bernoulli features, ``block`` each feature's column."""
        X = sp.csr_matrix(X, dtype=np.float32)
        bernoulli = np.asarray(bernoulli, dtype=bool)
        block = np.asarray(block)
        self._validate(X, bernoulli, block)
        rng = np.random.default_rng(self.random_state)
        n = X.shape[0]
        k = int(max(1, min(self.n_components, n // 20)))
        # categorical blocks: features of the same column share a normaliser
        cat_blocks, cat_inverse = np.unique(block[~bernoulli], return_inverse=True)
        self.bernoulli_ = bernoulli
        self._cat_inverse = cat_inverse
        self._cat_sizes = np.bincount(cat_inverse, minlength=len(cat_blocks)).astype(np.float64)
        # initialise: hard-assign every row to the random seed row it shares most features with
        seeds = rng.choice(n, size=k, replace=False)
        overlap = np.asarray((X @ X[seeds].T).todense()) + rng.random((n, k)) * 0.5
        resp = np.zeros((n, k), dtype=np.float32)
        resp[np.arange(n), overlap.argmax(axis=1)] = 1.0
        previous = -np.inf
        self.n_iter_ = 0
        mean_ll = -np.inf
        for it in range(self.max_iter):
            self._m_step(X, resp)
            resp, log_px = _normalise(self._log_joint(X))
            mean_ll = float(log_px.mean())
            self.n_iter_ = it + 1
            if mean_ll - previous < self.tol:
                break
            previous = mean_ll
        self.log_likelihood_ = mean_ll
        logger.debug("latent-class mixture: k=%d, %d iterations, mean log-lik %.4f", k, self.n_iter_, mean_ll)
        return self

    def _m_step(self, X: sp.csr_matrix, resp: np.ndarray) -> None:
        a = self.smoothing
        nk = resp.sum(axis=0, dtype=np.float64)  # (k,)
        counts = np.asarray(X.T @ resp, dtype=np.float64)  # (d, k)
        bern = self.bernoulli_
        log_w = np.empty_like(counts)
        const = np.log((nk + 1.0) / (nk.sum() + len(nk)))  # log pi_k, smoothed
        if bern.any():
            p = (counts[bern] + a) / (nk[None, :] + 2 * a)
            log_w[bern] = np.log(p) - np.log1p(-p)
            const = const + np.log1p(-p).sum(axis=0)
        if (~bern).any():
            sizes = self._cat_sizes[self._cat_inverse]
            theta = (counts[~bern] + a) / (nk[None, :] + sizes[:, None] * a)
            log_w[~bern] = np.log(theta)
        self.weights_ = log_w.astype(np.float32)
        self.offset_ = const.astype(np.float32)

    def _log_joint(self, X: sp.csr_matrix) -> np.ndarray:
        out = np.asarray(X @ self.weights_, dtype=np.float32)
        out += self.offset_[None, :]
        return out

    def score_samples(self, X: sp.csr_matrix) -> np.ndarray:
        """log p(x) of every row."""
        if not hasattr(self, "weights_"):
            raise NotFittedError("LatentClassMixture is not fitted; call fit first")
        X = sp.csr_matrix(X, dtype=np.float32)
        return _normalise(self._log_joint(X))[1]


def _normalise(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(responsibilities, log-sum-exp per row) from per-component log joints, in place and in one pass."""
    top = log_joint.max(axis=1, keepdims=True)
    log_joint -= top
    np.exp(log_joint, out=log_joint)
    total = log_joint.sum(axis=1, keepdims=True, dtype=np.float64)
    log_joint /= total.astype(np.float32)
    return log_joint, (np.log(total) + top)[:, 0]
