"""A linear read-out of embeddings: standardised inputs and closed-form ridge regression, shared by the
science probes and the memory's state decoder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Standardiser:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        x = np.asarray(x, np.float64)
        return cls(x.mean(0), np.maximum(x.std(0), 1e-6))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, np.float64) - self.mean) / self.std


def ridge_solve(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form ridge with an unpenalised intercept; the penalty is per sample (``lam * n``)."""
    mx, my = x.mean(0), y.mean(0)
    xc, yc = x - mx, y - my
    n, d = xc.shape
    w = np.linalg.solve(xc.T @ xc + lam * n * np.eye(d), xc.T @ yc)
    return w, my - mx @ w
