"""Solvers against scikit-learn and known limits; checkpoints, debiasing, selection, files."""

import numpy as np
import pytest
from sklearn.linear_model import ARDRegression, BayesianRidge, lars_path, orthogonal_mp

from sparseace.solvers.active_qr import ActiveQR, GramRows, SingularError
from sparseace.solvers import (ASP, BLR, OMP, RRQR, Checkpoints, LstsqSystem, ard_fit, asp_path,
                               blr_solve, dense_curve, omp_path, path_checkpoints,
                               rrqr_solve, tsvd_debias)


def problem(m, n, cond=1.0, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, n))
    if cond > 1:
        U, _, Vt = np.linalg.svd(A, full_matrices=False)
        A = U @ np.diag(np.geomspace(1, 1 / cond, min(m, n))) @ Vt
    return A, rng.normal(size=m)


def rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


@pytest.mark.parametrize("use_gram", [True, False])
def test_active_qr_updates_keep_the_factor_and_projections(use_gram):
    """Inserts, deletes (Givens) and refactorisation keep R^T R = A_S^T A_S with R upper
    triangular, the rows B = R^-T G[S, :] (inactive columns), y = R^-T f_S and the
    projections u = G[:, S] G_SS^-1 f_S; the in-place solves agree with numpy, and so do the
    solutions updated through an insertion (``solve_appended``)."""
    A, _ = problem(120, 90, cond=1e3, seed=3)
    rng = np.random.default_rng(1)
    order = rng.permutation(89)
    A[:, 89] = A[:, order[:3]] @ [1.0, -2.0, 0.5]  # dependent on the first three to enter
    G = A.T @ A
    F = rng.normal(size=(2, 90))
    qr_ = ActiveQR(GramRows(A, stored=use_gram, block=32), n_rhs=2, capacity=40)

    def check():
        S, k = qr_.active, qr_.k
        R = qr_.R
        assert np.allclose(np.tril(R, -1), 0.0) and np.all(np.diag(R) > 0)
        assert np.array_equal(qr_.diag[:k], np.diag(R))
        assert rel(R.T @ R, G[np.ix_(S, S)]) < 1e-12
        inactive = qr_.perm[k:]
        assert rel(qr_.B[:k, k:], np.linalg.solve(R.T, G[np.ix_(S, inactive)])) < 1e-10
        assert rel(qr_.y, np.linalg.solve(R.T, F[:, S].T).T) < 1e-10
        u = G[:, S] @ np.linalg.solve(G[np.ix_(S, S)], F[:, S].T)
        assert rel(qr_.projections(), u.T) < 1e-9
        X = rng.normal(size=(2, k))
        assert rel(qr_.solve(X), np.linalg.solve(R, X.T).T) < 1e-10
        assert rel(qr_.solve(X[0]), np.linalg.solve(R, X[0])) < 1e-10

    for j in order[:30]:
        qr_.insert(j, F[:, j])
    check()
    for position in (0, 17, 27, 5, 25):  # original positions 0, 18, 29, 6, last
        qr_.delete(position)
    assert list(qr_.active) == [int(j) for j in np.delete(order[:30], [0, 6, 18, 29, 28])]
    check()
    qr_.refactorise()
    check()
    X = qr_.solve(qr_.y)
    qr_.insert(order[0], F[:, order[0]])  # back in, after the rest
    check()
    assert rel(qr_.solve_appended(X, qr_.y[:, -1]), qr_.solve(qr_.y)) < 1e-10
    with pytest.raises(SingularError, match="dependent"):
        qr_.insert(89, F[:, 89])
    qr_.max_ratio = 1.0
    with pytest.raises(SingularError, match="ratio"):
        qr_.insert(order[40], F[:, order[40]])
    with pytest.raises(ValueError, match="already active"):
        qr_.insert(order[1])
    check()  # failed insertions change nothing


@pytest.mark.parametrize("n", [1, 2, 15, 16, 17, 50])
def test_gram_rows_of_triangular_and_general_matrices(n):
    """Rows of G = A^T A from the stored upper triangle (blocks of 16 rows; an upper-triangular
    A's products over its leading rows only) or computed when asked equal numpy's."""
    A, _ = problem(n + 5, n, seed=n)
    R = LstsqSystem.from_dense(A, np.zeros(n + 5)).R
    for M in (R, A):
        G = M.T @ M
        for stored in (True, False):
            gram = GramRows(M, stored=stored, block=16)
            assert rel(np.array([gram.row(j) for j in range(n)]), G) < 1e-14
            assert rel(gram.diag, np.diag(G)) < 1e-14


@pytest.mark.parametrize("m,n,cond", [(80, 40, 1), (30, 60, 1), (100, 50, 1e4), (60, 60, 1e2)])
def test_asp_matches_lars_lasso_and_kkt(m, n, cond):
    A, b = problem(m, n, cond)
    path = asp_path(A, b)
    alphas, _, coefs = lars_path(A, b, method="lasso")
    k = min(len(path), len(alphas))
    assert k > 20
    assert rel(path.lambdas[:k], alphas[:k] * m) < 1e-8
    for i in range(1, k):
        x = path.dense_coef(i, n)
        assert rel(x, coefs[:, i]) < 1e-8
        assert set(path.support(i)) >= set(np.flatnonzero(np.abs(coefs[:, i]) > 1e-10))
        # KKT: |A^T r| <= lambda, equal with the sign of x on the active set
        c = A.T @ (b - A @ x)
        lam = path.lambdas[i]
        assert np.all(np.abs(c) <= lam * (1 + 1e-8))
        S = path.support(i)
        nz = S[np.abs(x[S]) > 1e-9 * np.abs(x).max()]  # just-entered ones are ~0
        assert np.allclose(c[nz], lam * np.sign(x[nz]), rtol=1e-8, atol=1e-10 * lam)


def test_reduced_system_gives_the_same_path():
    A, b = problem(200, 40, 1e3, seed=3)
    s = LstsqSystem.from_dense(A, b)
    p_dense, p_red = asp_path(A, b, max_active=30), asp_path(s.R, s.z, max_active=30)
    assert len(p_dense) == len(p_red)
    assert rel(p_red.lambdas, p_dense.lambdas) < 1e-10
    assert rel(p_red.values, p_dense.values) < 1e-8
    x = p_red.dense_coef(len(p_red) - 1, 40)
    assert s.residual_norm2(x) == pytest.approx(np.sum((A @ x - b) ** 2), rel=1e-10)


@pytest.mark.parametrize("m,n,cond", [(80, 40, 1), (40, 80, 1), (100, 60, 1e3)])
def test_omp_matches_sklearn(m, n, cond):
    A, b = problem(m, n, cond, seed=1)
    k = min(m, n) // 2
    path = omp_path(A, b, max_active=k)
    ref = orthogonal_mp(A, b, n_nonzero_coefs=k, return_path=True)
    assert len(path) == k
    for i in range(k):
        assert set(path.support(i)) == set(np.flatnonzero(ref[:, i]))
        assert rel(path.dense_coef(i, n), ref[:, i]) < 1e-8


def test_planted_sparse_vector_recovered():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(120, 300))
    x0 = np.zeros(300)
    support = rng.choice(300, 10, replace=False)
    x0[support] = rng.choice([-1, 1], 10) * rng.uniform(1, 2, 10)
    b = A @ x0
    omp = OMP(max_active=10).fit(A, b)
    assert set(omp.active_) == set(support)
    assert np.allclose(omp.coef_, x0, atol=1e-10)
    asp = ASP(lambda_min=1e-9).fit(A, b)
    assert set(np.flatnonzero(np.abs(asp.coef_) > 1e-6)) == set(support)
    assert np.allclose(asp.coef_, x0, atol=1e-6)


def test_rrqr_blr_and_ard_against_references():
    A, b = problem(150, 20, 1e2, seed=4)
    assert np.allclose(RRQR().fit(A, b).coef_, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-10)
    blr = BLR(variance_floor=1e-12).fit(A, b)
    ref = BayesianRidge(fit_intercept=False, alpha_1=1e-14, alpha_2=1e-14, lambda_1=1e-14,
                        lambda_2=1e-14, tol=1e-12, max_iter=1000).fit(A, b)
    assert blr.beta_ == pytest.approx(ref.alpha_, rel=1e-6)
    assert blr.alpha_ == pytest.approx(ref.lambda_, rel=1e-6)
    assert np.allclose(blr.coef_, ref.coef_, rtol=1e-6, atol=1e-10)
    # ARD on the reduced system equals scikit-learn's ARD on the dense one
    s = LstsqSystem.from_dense(A, b)
    S, x = ard_fit(s, threshold_lambda=1e3, tol=1e-10)
    ref = ARDRegression(max_iter=500, tol=1e-10, threshold_lambda=1e3).fit(A, b)
    assert rel(x, ref.coef_[S]) < 1e-6
    assert set(S) == set(np.flatnonzero(ref.coef_))


def test_dense_curve_prefix_trick_and_checkpoints(tmp_path):
    A, b = problem(300, 40, 10, seed=5)
    Av, bv = problem(100, 40, 10, seed=6)
    train, val = LstsqSystem.from_dense(A, b), LstsqSystem.from_dense(Av, bv)
    order = np.random.default_rng(0).permutation(40)
    curve = dense_curve(train, val, order, [5, 40], lambda R, z, *_: rrqr_solve(R, z), "rrqr",
                        models=[10, 100])
    assert list(curve.sizes) == [5, 10, 40]
    assert curve.at_size == {10: 1, 100: 2} and curve.select("final 10") == 1
    x = np.linalg.lstsq(A[:, order[:10]], b, rcond=None)[0]
    assert np.allclose(curve.coef(1), x, rtol=1e-9)
    assert curve.val_rmse[1] == pytest.approx(np.sqrt(np.mean((Av[:, order[:10]] @ x - bv) ** 2)))
    curve.save(tmp_path / "c.npz")
    back = Checkpoints.load(tmp_path / "c.npz")
    assert np.array_equal(back.indices, curve.indices) and back.method == "rrqr"
    blr = dense_curve(train, val, order, [10], lambda R, z, rho2, m: blr_solve(R, z, rho2, m)[0],
                      "blr")
    ref_system = LstsqSystem.from_dense(A[:, order[:10]], b)
    x_ref = blr_solve(ref_system.R, ref_system.z, ref_system.rho2, ref_system.nrows)[0]
    assert np.allclose(blr.coef(0), x_ref, rtol=1e-8)


def test_tsvd_never_raises_validation_error():
    A, b = problem(60, 30, 1e6, seed=8)
    Av, bv = problem(40, 30, 1e6, seed=9)
    train, val = LstsqSystem.from_dense(A, b), LstsqSystem.from_dense(Av, bv)
    path = asp_path(train.R, train.z, max_active=25)
    plain = path_checkpoints(path, train, val, count=10)
    debiased = path_checkpoints(path, train, val, count=10, debias="tsvd")
    assert np.all(debiased.val_rmse <= plain.val_rmse + 1e-15)
    assert np.any(debiased.val_rmse < plain.val_rmse)
    x, r, rank = tsvd_debias(train, val, path.support(len(path) - 1), path.coef(len(path) - 1))
    assert r == pytest.approx(val.rmse(x, path.support(len(path) - 1)))


def test_selection_rules_on_constructed_checkpoints():
    sizes = [1, 3, 5, 8, 12]
    rmse = [5.0, 2.0, 1.2, 1.0, 1.1]
    cp = Checkpoints.from_models("asp", sizes, [np.arange(k) for k in sizes],
                                 [np.ones(k) for k in sizes], rmse)
    assert cp.select("final") == 4
    assert cp.select("bysize 6") == 2
    assert cp.select("bysize 100") == 3
    assert cp.select("byerror 1.25") == 2
    assert cp.select("byerror 1.0") == 3
    with pytest.raises(ValueError):
        cp.select("bysize 0")
    with pytest.raises(ValueError):
        cp.select("best")


def test_bad_input_errors():
    A, b = problem(20, 10)
    A[3, 4] = np.nan
    with pytest.raises(ValueError, match="finite"):
        asp_path(A, b)
    with pytest.raises(ValueError, match="must be"):
        omp_path(np.ones((5, 3)), np.ones(4))


def with_copies(seed, m=80, n0=40, copies=10, delta=1e-11, scale=1.0, b=None):
    """A0 (m, n0) Gaussian and A = [A0, copies of some of its columns times ``scale``]: the
    first half exact, the rest perturbed by ``delta`` (both numerically dependent); ``orig``
    maps A's columns to A0's."""
    rng = np.random.default_rng(seed)
    A0 = rng.normal(size=(m, n0))
    b = rng.normal(size=m) if b is None else b(A0, rng)
    src = rng.choice(n0, copies, replace=False)
    cols = scale * A0[:, src]
    cols[:, copies // 2:] += delta * rng.normal(size=(m, copies - copies // 2))
    return A0, np.column_stack([A0, cols]), b, np.r_[np.arange(n0), src], scale


def on_original_columns(path, i, orig, scale, n0):
    """Iterate i as coefficients of A0's columns; asserts no two of its columns are copies."""
    S = path.support(i)
    assert len(set(orig[S])) == len(S), "a column and its copy are both active"
    return np.bincount(orig[S], path.coef(i) * np.where(S < n0, 1.0, scale), minlength=n0)


@pytest.mark.parametrize("seed", [0, 2, 5])
def test_asp_excludes_dependent_columns_and_keeps_the_lasso_path(seed):
    """Exact and near copies of columns make candidates dependent on the active set (today's
    path stopped at the first, after 11-24 of 40): they are excluded, the path reaches
    max_active, and it is the LASSO path without the copies (scikit-learn), KKT included."""
    A0, A, b, orig, scale = with_copies(seed)
    n0 = A0.shape[1]
    path = asp_path(A, b, max_active=n0)
    assert path.stop_reason == "max_active" and path.sizes[-1] == n0
    assert path.settings["n_excluded"] == len(path.settings["excluded"]) > 0
    alphas, _, coefs = lars_path(A0, b, method="lasso")
    assert len(path) <= len(alphas)
    assert rel(path.lambdas, alphas[:len(path)] * len(b)) < 1e-8
    for i in range(len(path)):
        x0 = on_original_columns(path, i, orig, scale, n0)
        assert rel(x0, coefs[:, i]) < 1e-8
        c = A.T @ (b - A0 @ x0)  # KKT on every column of A, copies included
        assert np.all(np.abs(c) <= path.lambdas[i] * (1 + 1e-8))


def diag_ratio(A, S):
    d = np.abs(np.diag(np.linalg.qr(A[:, S], mode="r")))
    return d.max() / d.min()


@pytest.mark.parametrize("delta,max_ratio", [(1e-10, 1e10), (1e-4, 1e3)])
def test_omp_excludes_dependent_columns_and_goes_on(delta, max_ratio):
    """A noise-free planted model of 10 columns and copies of them at 10x (half exact, half
    perturbed by ``delta``) and 100x scale: once the residual vanishes, the copies'
    rounding-level correlations lead (today's path stopped there, at 10 active); they are
    excluded (dependent, or past ``max_ratio``) and the path reaches max_active with every
    iterate a least-squares fit on independent columns, equal to scikit-learn's OMP without
    the copies while the model is being recovered."""
    rng = np.random.default_rng(3)
    A0 = rng.normal(size=(60, 50))
    x0 = np.zeros(50)
    x0[:10] = rng.choice([-1, 1], 10) * rng.uniform(1, 2, 10)
    b = A0 @ x0
    near = 10 * (A0[:, 5:10] + delta * rng.normal(size=(60, 5)))
    A = np.column_stack([A0, 10 * A0[:, :5], near, 100 * A0[:, :10]])  # 100x enter first
    orig = np.r_[np.arange(50), np.arange(10), np.arange(10)]
    scale = np.r_[np.ones(50), np.full(10, 10.0), np.full(10, 100.0)]
    path = omp_path(A, b, max_active=25, max_ratio=max_ratio)
    assert path.stop_reason == "max_active" and path.sizes[-1] == 25
    assert path.settings["n_excluded"] == len(path.settings["excluded"]) > 0
    ref = orthogonal_mp(A0, b, n_nonzero_coefs=10, return_path=True)
    for i in range(len(path)):
        S, x = path.support(i), path.coef(i)
        assert len(set(orig[S])) == len(S), "a column and its copy are both active"
        assert diag_ratio(A, S) <= max_ratio
        # least squares on the support: the residual is orthogonal to the active columns
        r = b - A[:, S] @ x
        assert np.abs(A[:, S].T @ r).max() <= 1e-10 * np.abs(A[:, S]).max() * np.abs(b).max()
        if i < 10:
            assert rel(np.bincount(orig[S], x * scale[S], minlength=50), ref[:, i]) < 1e-8


@pytest.mark.parametrize("seed,excluded", [(9, [43]), (1, [])])
def test_asp_excludes_a_column_past_the_diagonal_ratio(seed, excluded):
    """Near copies (1e-4) are independent but with max_ratio = 1e3 one would push R's diagonal
    ratio past it (seed 9; the default max_ratio excludes nothing): it is excluded, the path
    reaches max_active, no iterate exceeds the ratio and KKT holds for every column that was
    not excluded.  Seed 1: a column leaves at -lambda and crosses to +lambda within the next
    step (w = -3.6); it may not re-enter at once only at the bound it left."""
    A0, A, b, orig, _ = with_copies(seed, copies=6, delta=1e-4)
    path = asp_path(A, b, max_active=40, max_ratio=1e3)
    assert path.stop_reason == "max_active" and path.sizes[-1] == 40
    assert path.settings["excluded"] == excluded
    kept = np.delete(np.arange(A.shape[1]), path.settings["excluded"])
    for i in range(len(path)):
        assert diag_ratio(A, path.support(i)) <= 1e3
        c = A.T @ (b - A @ path.dense_coef(i, A.shape[1]))
        assert np.all(np.abs(c[kept]) <= path.lambdas[i] * (1 + 1e-8))


def test_omp_stop_reasons_exhausted_and_blowup():
    """Every column active or excluded: ``exhausted`` at the rank; a column scaled by 1e-14
    (its coefficient ~1e14) with no ratio limit: ``blowup``, that iterate not recorded."""
    A0, A, b, orig, _ = with_copies(0, copies=2)  # an exact copy (correlation 0) and a near
    path = omp_path(A, b)
    assert path.stop_reason == "exhausted" and path.sizes[-1] == 40
    assert sorted(orig[path.settings["excluded"]]) == sorted(orig[40:])
    A = A0.copy()
    A[:, 7] *= 1e-14
    path = omp_path(A, b, max_ratio=np.inf)
    assert path.stop_reason == "blowup" and path.sizes[-1] == 39
    assert np.abs(path.values).max() < 1e12
