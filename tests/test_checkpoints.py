"""The study's model selection (conventions §4): the model of n functions, TSVD over every rank,
ARD at a desired sparsity, and the solver registry."""

import numpy as np
import pytest
import yaml
from sklearn.linear_model import ARDRegression

from sparseace.config import SCHEMA_PATH
from sparseace.solvers import (SOLVERS, Checkpoints, FitSpec, LstsqSystem, ModelPath,
                               PathTooShortError, Solver, ard_checkpoints, asp_path, get_solver,
                               path_checkpoints, register, tsvd_debias)
from sparseace.solvers.ard import CentredSystem, _ard, first_update
from sparseace.solvers.registry import BUILTIN
from test_solvers import problem


def systems(n=40, seed=0, cond=1e3):
    A, b = problem(300, n, cond, seed)
    Av, bv = problem(120, n, cond, seed + 1)
    x0 = np.zeros(n)
    x0[: n // 3] = np.random.default_rng(seed).normal(size=n // 3)
    return LstsqSystem.from_dense(A, A @ x0 + 0.1 * b), LstsqSystem.from_dense(Av, Av @ x0 + 0.1 * bv)


def constructed_path(sizes):
    """A ModelPath whose iterate i has the first sizes[i] columns active (coefficients = i)."""
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    indices = np.concatenate([np.arange(k) for k in sizes])
    values = np.concatenate([np.full(k, float(i)) for i, k in enumerate(sizes)])
    return ModelPath("asp", np.linspace(1, 0.1, len(sizes)), ptr, indices, values, "max_active")


def test_model_of_n_functions_is_the_iterate_where_the_path_first_reaches_n():
    train, val = systems(n=12)
    # the active set grows, shrinks (a deletion) and grows again: 3 is first reached at iterate 2
    path = constructed_path([1, 2, 3, 2, 3, 4, 5, 6, 7, 8])
    cp = path_checkpoints(path, train, val, count=2, sizes=(3, 7, 50))
    assert cp.meta["iterates"] == [0, 2, 8, 9]  # two evenly spread, plus each size first reached
    assert cp.select("final 3") == 1 and np.all(cp.coef(1) == 2.0)
    assert cp.sizes[cp.select("final 7")] == 7
    # a path that never reaches 50 ends with fewer: its last iterate (a run with actMax = 50)
    assert cp.select("final 50") == len(cp) - 1
    # bysize stays available: the best validated model with at most n
    assert cp.sizes[cp.select("bysize 7")] <= 7
    with pytest.raises(ValueError, match="no model of 5 functions"):
        cp.select("final 5")


def test_tsvd_scans_every_rank_in_one_pass():
    """The truncation is the best of all ranks 1..k (a brute-force scan agrees), better than
    the 20-point rank grid it replaces on this problem."""
    train, val = systems(n=60, seed=3, cond=1e4)
    support = np.arange(0, 60, 1)
    coef = np.zeros(60)
    x, rmse, rank = tsvd_debias(train, val, support, coef)
    Q, R = np.linalg.qr(train.R[:, support])
    U, s, Vt = np.linalg.svd(R)
    y = U.T @ (Q.T @ train.z)
    brute = [val.rmse(Vt[:t].T @ (y[:t] / s[:t]), support) for t in range(1, 61)]
    assert rank == int(np.argmin(brute)) + 1
    assert rmse == pytest.approx(min(brute), rel=1e-10)
    assert rmse == pytest.approx(val.rmse(x, support), rel=1e-10)
    grid = np.unique(np.geomspace(1, 60, 20).round().astype(int))
    assert rank not in grid and rmse < min(brute[t - 1] for t in grid)


def test_ard_matches_scikit_learn_with_cholesky_updates():
    A, b = problem(200, 30, 1e2, seed=4)
    x0 = np.zeros(30)
    x0[:6] = [3, -2, 1.5, 1, -1, 0.5]
    b = A @ x0 + 0.05 * b
    c = CentredSystem(LstsqSystem.from_dense(A, b))
    for threshold in (10.0, 1e3):
        state = _ard(c, first_update(c), threshold, 500, 1e-10)
        ref = ARDRegression(max_iter=500, tol=1e-10, threshold_lambda=threshold).fit(A, b)
        assert set(state.support) == set(np.flatnonzero(ref.coef_))
        assert np.allclose(state.coef, ref.coef_[state.support], rtol=1e-6)
        assert state.alpha == pytest.approx(ref.alpha_, rel=1e-6)
        assert state.iterations == ref.n_iter_
    with pytest.raises(ValueError, match=r"unknown ARD hyper-parameters \['alpha1'\]"):
        _ard(c, first_update(c), 10.0, 500, 1e-10, hyper={"alpha1": 1.0})


def test_ard_finds_a_model_at_each_requested_size():
    """Bisection in the threshold gives, for each n, the model with the most functions not
    above n; the coarse grid alone has nothing between its two models, and even a size below
    every grid model gets a model (at worst the empty one)."""
    train, val = systems(n=40, seed=5, cond=10)
    coarse = ard_checkpoints(train, val, [1e-3, 1e8], sizes=())
    assert list(coarse.sizes) == [0, 40] or coarse.sizes[0] < coarse.sizes[-1]
    cp = ard_checkpoints(train, val, [1e-3, 1e8], sizes=(5, 13, 25, 0))
    for n in (5, 13, 25, 0):
        i = cp.select(f"final {n}")
        assert cp.sizes[i] <= n
        assert cp.sizes[i] == cp.sizes[cp.sizes <= n].max()
    assert cp.sizes[cp.select("final 13")] > coarse.sizes[coarse.sizes <= 13].max()
    assert np.all(np.diff(cp.labels) > 0)  # ordered by threshold


def test_registry_is_the_one_list_of_solvers():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert sorted(schema["definitions"]["solver_name"]["enum"]) == sorted(BUILTIN)
    assert set(BUILTIN) == {"asp", "omp", "rrqr", "blr", "ard"}
    train, val = systems(n=30)
    fit = FitSpec(sizes=(5, 12), max_active=12, checkpoints=5, dense_sizes=4)
    options = {"asp": {"debias": "tsvd"}, "omp": {}, "rrqr": {}, "blr": {},
               "ard": {"threshold_lambdas": [1.0, 1e4]}}
    for name in BUILTIN:
        cp = get_solver(name).checkpoints(train, val, fit, options[name])
        assert set(cp.at_size) == {5, 12}, name
        for n in (5, 12):
            size = cp.sizes[cp.select(f"final {n}")]
            assert size == n if SOLVERS[name].kind != "thresholded" else size <= n, name
    with pytest.raises(ValueError, match="unknown solver"):
        get_solver("lasso")


def test_a_path_that_ends_before_the_largest_size_is_an_error():
    A, b = problem(8, 30, seed=2)  # 8 rows: no path reaches 10 active functions
    train = LstsqSystem.from_dense(A, b)
    fit = FitSpec(sizes=(10,), max_active=10, checkpoints=5)
    with pytest.raises(PathTooShortError, match="requested model size 10"):
        get_solver("omp").checkpoints(train, train, fit, {})


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_registered_solver_is_usable_everywhere():
    """One register call makes a solver known to the configuration and the registry."""
    import copy

    from sparseace.config import load_config, validate_config

    def lasso_cd(train, val, fit, options):
        from sklearn.linear_model import lasso_path
        alphas, coefs, _ = lasso_path(train.R, train.z, n_alphas=20)
        supports = [np.flatnonzero(c) for c in coefs.T]
        return Checkpoints.from_models("toy", alphas, supports,
                                       [c[s] for c, s in zip(coefs.T, supports)],
                                       [val.rmse(c[s], s) for c, s in zip(coefs.T, supports)])

    config = load_config(SCHEMA_PATH.parents[2] / "config" / "config.yaml")
    config["fits"]["zuo_Mo"]["solvers"].append("toy")
    with pytest.raises(ValueError, match="solvers"):
        validate_config(copy.deepcopy(config))
    register(Solver("toy", "Toy", "path", lasso_cd, "coordinate descent", "a test"))
    try:
        validate_config(copy.deepcopy(config))
        train, val = systems(n=20)
        assert len(get_solver("toy").checkpoints(train, val, FitSpec((5,), 10), {})) == 20
        with pytest.raises(ValueError, match="already registered"):
            register(Solver("toy", "Other", "curve", lasso_cd, "", ""))
    finally:
        SOLVERS.pop("toy")
