"""goodnet.statistics on hand-computed cases and published table values."""

import math

import pytest

from goodnet.core import statistics as st


@pytest.mark.parametrize(
    "df, t",
    # Student t 0.975 quantiles, as every table prints them (3 decimals).
    [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (10, 2.228), (30, 2.042), (100, 1.984)],
)
def test_t_quantile_matches_the_table(df, t):
    assert round(st.t_quantile(0.975, df), 3) == t


def test_t_cdf_is_a_distribution():
    assert st.t_cdf(0.0, 3) == pytest.approx(0.5)
    assert st.t_cdf(12.706204736, 1) == pytest.approx(0.975, abs=1e-9)
    # df = 1 is the Cauchy distribution: P(T <= 1) = 1/2 + atan(1)/pi = 0.75.
    assert st.t_cdf(1.0, 1) == pytest.approx(0.75, abs=1e-12)
    assert st.t_cdf(-1.0, 1) == pytest.approx(0.25, abs=1e-12)


def test_mean_sd_and_t_interval_by_hand():
    # 1, 2, 3, 4: mean 2.5, sd = sqrt(5/3), half width t(0.975, 3) * sd / 2 = 2.0543.
    d = st.describe([1, 2, 3, 4])
    assert d["n"] == 4 and d["mean"] == 2.5
    assert d["sd"] == pytest.approx(math.sqrt(5 / 3))
    half = 3.182446305 * math.sqrt(5 / 3) / 2
    assert (d["low"], d["high"]) == pytest.approx((2.5 - half, 2.5 + half), abs=1e-8)
    # Two replicates, 10 and 20: sd = 7.0711, half = 12.706 * 7.0711 / sqrt(2) = 63.53.
    low, high = st.t_interval([10.0, 20.0])
    assert (low, high) == pytest.approx((15 - 63.531024, 15 + 63.531024), abs=1e-5)


def test_one_replicate_has_no_spread():
    d = st.describe([42.0])
    assert d["mean"] == 42.0 and math.isnan(d["sd"])
    assert math.isnan(d["low"]) and math.isnan(d["high"])


def test_identical_replicates_give_a_zero_width_interval():
    assert st.t_interval([3.0, 3.0, 3.0]) == (3.0, 3.0)


@pytest.mark.parametrize(
    "count, n, low, high",
    # Wilson 95 % by hand: centre (p + z^2/2n) / (1 + z^2/n), half z/(1 + z^2/n) *
    # sqrt(p(1-p)/n + z^2/4n^2), z = 1.95996.
    [
        (5, 10, 23.6593, 76.3407),
        (0, 10, 0.0, 27.7533),
        (10, 10, 72.2467, 100.0),
        (780, 780, 99.5099, 100.0),
    ],
)
def test_wilson_interval_by_hand(count, n, low, high):
    assert st.wilson_interval(count, n) == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_holds_the_measured_percentage():
    for n in (1, 7, 780, 12830):
        for count in (0, 1, n // 3, n - 1, n):
            low, high = st.wilson_interval(count, n)
            assert 0.0 <= low <= 100.0 * count / n <= high <= 100.0
    assert st.wilson_interval(780, 780)[1] == 100.0


def test_wilson_refuses_impossible_counts():
    with pytest.raises(ValueError):
        st.wilson_interval(11, 10)
    with pytest.raises(ValueError):
        st.wilson_interval(0, 0)


def test_paired_differences_and_their_interval():
    fine_pruned, fine_tuned = [3.0, 10.0, 5.0], [30.0, 40.0, 29.0]
    d = st.paired_differences(fine_pruned, fine_tuned)
    assert d == [-27.0, -30.0, -24.0]
    # mean -27, sd 3, half t(0.975, 2) * 3 / sqrt(3) = 4.302653 * 1.732051 = 7.452413.
    low, high = st.t_interval(d)
    assert (low, high) == pytest.approx((-27 - 7.452413, -27 + 7.452413), abs=1e-5)
    with pytest.raises(ValueError):
        st.paired_differences([1.0], [1.0, 2.0])
