"""rank(): order, intervals, and the set as good as the best (the model confidence set)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from promptbench.stats.rank import bootstrap_case_means, model_confidence_set, rank


def binary(rng: random.Random, p: float, n: int) -> dict[str, list[float | None]]:
    return {f"c{i}": [1.0 if rng.random() < p else 0.0] for i in range(n)}


def test_a_clear_winner_is_alone_in_the_set_and_first() -> None:
    rng = random.Random(1)
    scores = {"weak": binary(rng, 0.4, 300), "strong": binary(rng, 0.9, 300)}
    result = rank(scores, metric="exact", n_resamples=500)
    assert [r.setting for r in result.rows] == ["strong", "weak"]
    assert result.best_set == ["strong"]
    top, low = result.rows
    assert top.rank == 1 and top.gap == 0.0 and top.p_value == 1.0
    assert top.ci_low <= top.mean <= top.ci_high
    assert low.gap == pytest.approx(top.mean - low.mean)
    assert low.gap_low > 0.0  # the gap's interval excludes no difference
    assert low.p_value < 0.05 and not low.in_best_set
    assert result.n_cases == 300 and result.dropped == ()


def test_settings_that_agree_on_every_case_are_all_in_the_set() -> None:
    rng = random.Random(2)
    same = binary(rng, 0.7, 100)
    result = rank({"a": same, "b": dict(same), "c": dict(same)}, n_resamples=300)
    assert sorted(result.best_set) == ["a", "b", "c"]
    assert all(r.p_value >= 0.05 for r in result.rows)


def test_lower_is_better_reverses_the_order() -> None:
    scores = {
        "slow": {f"c{i}": [0.9 + 0.01 * (i % 3)] for i in range(50)},
        "fast": {f"c{i}": [0.1 + 0.01 * (i % 5)] for i in range(50)},
    }
    result = rank(scores, higher_is_better=False, n_resamples=300)
    assert result.rows[0].setting == "fast" and result.best_set == ["fast"]
    assert result.rows[1].gap > 0.7  # worse means higher here: the gap is still positive


def test_cases_missing_a_value_for_some_setting_are_dropped_and_repeats_averaged() -> None:
    scores: dict[str, dict[str, list[float | None]]] = {
        "a": {"q1": [1.0, 0.0], "q2": [1.0], "q3": [None], "q4": [1.0]},
        "b": {"q1": [0.0], "q2": [0.0], "q3": [1.0]},
    }
    result = rank(scores, n_resamples=200)
    assert result.n_cases == 2 and set(result.dropped) == {"q3", "q4"}
    means = {r.setting: r.mean for r in result.rows}
    assert means == {"a": pytest.approx(0.75), "b": 0.0}


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no settings"):
        rank({})
    with pytest.raises(ValueError, match="usable value"):
        rank({"a": {"q": [None]}, "b": {"q": [1.0]}})
    with pytest.raises(ValueError):
        rank({"a": {"q": [1.0]}}, alpha=1.5)


def test_the_best_set_keeps_tied_best_settings_and_drops_the_clearly_worse() -> None:
    # Three equal at 0.8 and seven clearly worse, with a case difficulty they share.
    rng = np.random.default_rng(7)
    n, hits, drops = 400, 0, 0
    for _ in range(20):
        shared = rng.standard_normal((n, 1))
        latent = np.sqrt(0.3) * shared + np.sqrt(0.7) * rng.standard_normal((n, 10))
        thresholds = np.array([0.84] * 3 + [0.0] * 7)  # pass rates 0.8 and 0.5
        x = (latent < thresholds).astype(float)
        p = model_confidence_set(x.mean(axis=0), bootstrap_case_means(x, 400, rng), 0.05)
        hits += bool((p[:3] >= 0.05).all())
        drops += int((p[3:] < 0.05).sum())
    assert hits >= 17  # at least ~90% of the 20 (the bench measures it on 1,000)
    assert drops == 20 * 7  # 30 points worse is always out


def test_bootstrap_means_resample_cases_whole() -> None:
    x = np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    reps = bootstrap_case_means(x, 200, np.random.default_rng(0))
    assert reps.shape == (200, 2)
    assert np.array_equal(reps[:, 0], reps[:, 1])  # a case's scores travel together
    assert set(np.round(reps[:, 0] * 3).astype(int)) <= {0, 1, 2, 3}


def test_to_json_names_the_procedure() -> None:
    rng = random.Random(3)
    result = rank({"a": binary(rng, 0.5, 40), "b": binary(rng, 0.6, 40)}, metric="m")
    data = result.to_json()
    assert "confidence set" in data["method"]
    assert data["best_set"] == result.best_set and len(data["rows"]) == 2
    assert set(data["rows"][0]) >= {"setting", "mean", "ci_low", "gap", "p_value", "in_best_set"}


# --------------------------------------------------------------------------- counting by kind


def _general(x: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    import promptbench.stats.rank as module

    kept = module._kinds
    module._kinds = lambda x: None  # type: ignore[assignment]
    try:
        return bootstrap_case_means(x, n_resamples, np.random.default_rng(seed))
    finally:
        module._kinds = kept  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("cases", "settings", "denominator", "seed"),
    [(500, 4, 1, 0), (3000, 3, 1, 1), (800, 2, 4, 2), (2500, 5, 2, 3), (900, 2, 3, 4)],
)
def test_drawing_counts_per_kind_resamples_as_drawing_cases_does(
    cases: int, settings: int, denominator: int, seed: int
) -> None:
    from promptbench.stats.rank import _kinds

    rng = np.random.default_rng(seed + 100)
    x = rng.integers(0, denominator + 1, size=(cases, settings)) / float(denominator)
    assert _kinds(x) is not None  # the draw per kind is the one taken
    fast = bootstrap_case_means(x, 6000, np.random.default_rng(seed))
    general = _general(x, 6000, seed)
    assert np.array_equal(fast, bootstrap_case_means(x, 6000, np.random.default_rng(seed)))
    # The same distribution: centred on the means, with the case bootstrap's spread and
    # correlations (the theoretical standard error of a mean, sd / sqrt(n)).
    se = x.std(axis=0) / np.sqrt(cases)
    assert np.all(np.abs(fast.mean(axis=0) - x.mean(axis=0)) < 5 * se / np.sqrt(6000) + 1e-12)
    assert np.allclose(fast.std(axis=0), se, rtol=0.06)
    assert np.allclose(general.std(axis=0), se, rtol=0.06)
    gaps_fast = (fast[:, 0] - fast[:, 1]).std()
    gaps_general = (general[:, 0] - general[:, 1]).std()
    assert gaps_fast == pytest.approx(gaps_general, rel=0.08)


def test_many_distinct_rows_draw_cases() -> None:
    from promptbench.stats.rank import _kinds

    assert _kinds(np.random.default_rng(1).random((900, 2))) is None  # all distinct
    assert _kinds(np.ones((10, 2))) is None  # too few cases to matter
    assert _kinds(np.full((900, 2), np.nan)) is None


def test_rank_verdicts_are_those_of_drawing_cases() -> None:
    import promptbench.stats.rank as module

    rng = random.Random(7)
    scores = {name: binary(rng, p, 3000) for name, p in (("a", 0.70), ("b", 0.71), ("c", 0.60))}
    fast = rank(scores, n_resamples=1000, seed=3)
    kept = module._kinds
    module._kinds = lambda x: None  # type: ignore[assignment]
    try:
        general = rank(scores, n_resamples=1000, seed=3)
    finally:
        module._kinds = kept  # type: ignore[assignment]
    assert [r.setting for r in fast.rows] == [r.setting for r in general.rows]
    assert fast.best_set == general.best_set and "c" not in fast.best_set
    for f, g in zip(fast.rows, general.rows, strict=True):
        assert f.mean == g.mean and f.ci_low == pytest.approx(g.ci_low, abs=0.005)
