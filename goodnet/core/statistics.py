"""The statistics of a study with replicates: mean, sample standard deviation and the 95 %
Student t interval of a mean, the 95 % Wilson score interval of one measured percentage,
and paired differences. Pure Python (scipy is not a dependency): the t quantile inverts
the t distribution's CDF, written with the regularized incomplete beta function."""

from __future__ import annotations

import math

LEVEL = 0.95
# The standard normal's 0.975 quantile, Phi^-1(0.975), for the Wilson interval.
Z95 = 1.959963984540054


def mean(values) -> float:
    values = list(values)
    return math.fsum(values) / len(values)


def sd(values) -> float:
    """Sample standard deviation (n - 1 in the denominator); NaN for fewer than two values."""
    values = list(values)
    if len(values) < 2:
        return math.nan
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # The continued fraction converges fast on this side of the mean; use the symmetry
    # I_x(a, b) = 1 - I_{1-x}(b, a) on the other.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (0.5 < p < 1), by bisection on ``t_cdf``."""
    if not 0.5 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile wants 0.5 < p < 1 and df > 0, got p={p}, df={df}")
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


def t_interval(values) -> tuple[float, float]:
    """The 95 % Student t interval of the mean of ``values`` (independent replicates);
    (NaN, NaN) for fewer than two values, where no spread is measured."""
    values = list(values)
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    half = t_quantile(0.5 + LEVEL / 2, n - 1) * sd(values) / math.sqrt(n)
    m = mean(values)
    return m - half, m + half


def wilson_interval(count: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson score interval, in percent, of a proportion of ``count`` in ``n``
    (one measured percentage: the uncertainty from the test set's size alone)."""
    if n <= 0 or not 0 <= count <= n:
        raise ValueError(f"wilson_interval wants 0 <= count <= n and n > 0, got {count}/{n}")
    p, z2 = count / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # The interval always holds p; min/max keep it so where rounding would not (p = 1).
    return 100.0 * min(p, max(0.0, centre - half)), 100.0 * max(p, min(1.0, centre + half))


def paired_differences(a, b) -> list[float]:
    """a_r - b_r for each replicate r: two defenses measured on the same replicate."""
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"paired values need the same replicates, got {len(a)} and {len(b)}")
    return [x - y for x, y in zip(a, b)]


def describe(values) -> dict:
    """n, mean, sd and the 95 % t interval of ``values`` (NaN where not defined)."""
    values = list(values)
    low, high = t_interval(values)
    return {"n": len(values), "mean": mean(values), "sd": sd(values), "low": low, "high": high}
