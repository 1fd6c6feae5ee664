"""Small statistics for the science commands, in numpy and the standard library only.

- :func:`paired_ttest`: the paired t statistic, its two-sided p-value from the Student-t
  distribution, and Cohen's d of the paired differences (d_z = mean / sd).
- :func:`student_t_sf`: the Student-t upper tail through the regularised incomplete beta function
  (:func:`betainc_reg`, evaluated with a continued fraction). scipy is not a dependency of
  jepaworld (it is only pulled in by the optional MuJoCo extra), so it is not used here; the tests
  check these functions against scipy where it is installed.
- :func:`auroc`: the area under the ROC curve from ranks (Mann-Whitney U), ties counted half.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_TINY = 1e-300
_EPS = 3e-16


def _beta_continued_fraction(a: float, b: float, x: float, max_iter: int = 500) -> float:
    """The continued fraction of I_x(a, b) (modified Lentz), good for x < (a + 1) / (a + b + 2)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        # even step: d_{2m}
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        # odd step: d_{2m+1}
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def betainc_reg(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if a <= 0 or b <= 0:
        raise ValueError(f"betainc_reg needs a, b > 0, got {a}, {b}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc_reg needs 0 <= x <= 1, got {x}")
    if x == 0.0 or x == 1.0:
        return x
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))  # fmt: skip
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b  # the symmetry I_x(a,b) = 1 - I_{1-x}(b,a)


def student_t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * betainc_reg(df / 2.0, 0.5, df / (df + t * t))  # P(T > |t|)
    return tail if t >= 0 else 1.0 - tail


def t_pvalue_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if math.isnan(t):
        return math.nan
    return min(1.0, 2.0 * student_t_sf(abs(t), df))


@dataclass
class PairedTTest:
    """A paired t-test of ``a - b``: n pairs, the mean difference, t, its two-sided p-value, Cohen's d_z."""

    n: int
    mean_diff: float
    t: float
    df: int
    p_two_sided: float
    cohens_d: float


def paired_ttest(a: np.ndarray, b: np.ndarray) -> PairedTTest:
    """Paired t-test of ``a`` against ``b`` (same length). Cohen's d = mean(a - b) / sd(a - b).

    Fewer than two pairs give NaN statistics. Differences that are all equal give t = +-inf and
    p = 0 when the mean is non-zero, and t = NaN, p = 1 when they are all zero.
    """
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired samples must have equal length, got {len(a)} and {len(b)}")
    d = a - b
    n = len(d)
    if n < 2:
        return PairedTTest(n, float(d.mean()) if n else math.nan, math.nan, max(n - 1, 0), math.nan, math.nan)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0.0:
        if mean == 0.0:
            return PairedTTest(n, 0.0, math.nan, n - 1, 1.0, math.nan)
        return PairedTTest(n, mean, math.copysign(math.inf, mean), n - 1, 0.0, math.copysign(math.inf, mean))
    t = mean / (sd / math.sqrt(n))
    return PairedTTest(n, mean, t, n - 1, t_pvalue_two_sided(t, n - 1), mean / sd)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` (1-D), ties given the average of the ranks they span."""
    x = np.asarray(x).reshape(-1)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(len(x), np.float64)
    # boundaries of runs of equal values
    starts = np.concatenate([[0], np.flatnonzero(sorted_x[1:] != sorted_x[:-1]) + 1])
    ends = np.concatenate([starts[1:], [len(x)]])
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + 1 + e) / 2.0  # the mean of ranks s+1 .. e
    return ranks


def auroc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(score of a positive > score of a negative) + half of P(tie): the ROC area, from ranks."""
    pos = np.asarray(positives, np.float64).reshape(-1)
    neg = np.asarray(negatives, np.float64).reshape(-1)
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    ranks = average_ranks(np.concatenate([pos, neg]))
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))
