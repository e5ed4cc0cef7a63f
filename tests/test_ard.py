"""ARD as the study ran it: ACEfit's SKLEARN_ARD is scikit-learn's
ARDRegression(max_iter, tol, threshold_lambda, fit_intercept=True) fitted from its cold start
on the preconditioned system; ours works on the streamed reduced system."""

import warnings

import numpy as np
import pytest
from scipy.linalg import pinvh
from sklearn.linear_model import ARDRegression

from sparseace.design import FACTOR_FORMAT, DesignFactor, TriangularAccumulator, combine
from sparseace.solvers import LstsqSystem, ard_checkpoints, ard_fit
from sparseace.solvers.ard import _posterior


def ill_conditioned(m=300, n=40, cond=1e12, seed=0):
    """A design with condition number about ``cond`` (centred too), column means of 0.05 to
    0.15 and a target mean near 3, and a sparse truth; plus a diagonal 'prior'."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.normal(size=(m, n)))[0]
    V = np.linalg.qr(rng.normal(size=(n, n)))[0]
    A = (U * np.geomspace(1, 1 / cond, n)) @ V.T * rng.uniform(0.5, 2, n) + rng.normal(size=n) * 0.05
    x0 = np.zeros(n)
    x0[: n // 4] = rng.normal(size=n // 4) * 10
    return A, A @ x0 + 0.01 * rng.normal(size=m) + 3.0, rng.uniform(1, 100, n)


def streamed(A, y, prior, chunks=4):
    """The preconditioned system of A, y as the workflow builds it: chunk factors of the rows,
    combined, then divided by the prior."""
    parts = []
    for rows in np.array_split(np.arange(len(y)), chunks):
        acc = TriangularAccumulator(A.shape[1])
        acc.add(A[rows], y[rows])
        parts.append(DesignFactor(acc.factor(), acc.nrows, {}, acc.ones()))
    return LstsqSystem.from_factor(combine(parts), prior)


def sklearn_ard(X, y, threshold, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning-free versions differ
        return ARDRegression(max_iter=500, tol=0.1, threshold_lambda=threshold,
                             fit_intercept=True, **kw).fit(X, y)


def dense(support, coef, n):
    x = np.zeros(n)
    x[support] = coef
    return x


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_ard_equals_scikit_learn_on_an_ill_conditioned_centred_system():
    """Support identical and coefficients within 1e-8 (relative to the largest) of
    scikit-learn's on (A P^-1, y), cond >= 1e12, non-zero column and target means, given to
    us through four chunk factors.  The tolerance: scikit-learn itself moves its coefficients
    by up to ~2e-10 when X changes by a relative 1e-15 (checked below: the system is one where
    its answer is determined to that level, whatever the condition number); 1e-8 leaves a
    factor 50 for our different, equally backward-stable order of operations (observed: no
    more than scikit-learn's own change).  Without centring the coefficients differ by more
    than 1e-3."""
    A, y, prior = ill_conditioned()
    X = A / prior
    assert np.linalg.cond(X) >= 1e12 and np.linalg.cond(X - X.mean(0)) >= 1e12
    assert np.min(np.abs(X.mean(0)) / X.std(0)) > 0.1 and y.mean() > 1.0  # means matter
    system = streamed(A, y, prior)
    rng = np.random.default_rng(9)
    sizes = set()
    for t in (1.0, 10.0, 100.0, 1e4):
        ref = sklearn_ard(X, y, t)
        wobble = sklearn_ard(X * (1 + 1e-15 * rng.normal(size=X.shape)), y, t)
        assert rel(wobble.coef_, ref.coef_) < 1e-9
        support, coef = ard_fit(system, threshold_lambda=t, max_iter=500, tol=0.1)
        assert list(support) == list(np.flatnonzero(ref.coef_))
        assert rel(dense(support, coef, X.shape[1]), ref.coef_) < 1e-8
        sizes.add(len(support))
    assert len(sizes) >= 3  # the thresholds give different models
    uncentred = ARDRegression(max_iter=500, tol=0.1, threshold_lambda=t,
                              fit_intercept=False).fit(X, y)
    assert rel(uncentred.coef_, ref.coef_) > 1e-3


def test_fewer_rows_than_functions():
    """scikit-learn takes Woodbury's identity in sample space then: the same matrix."""
    rng = np.random.default_rng(1)
    A = rng.normal(size=(25, 40)) + rng.normal(size=40) * 0.3
    y = A[:, :5] @ rng.normal(size=5) * 3 + 0.01 * rng.normal(size=25) + 2.0
    system = LstsqSystem.from_dense(A, y)
    for t in (1.0, 10.0):
        ref = sklearn_ard(A, y, t)
        support, coef = ard_fit(system, threshold_lambda=t)
        assert list(support) == list(np.flatnonzero(ref.coef_))
        assert rel(dense(support, coef, 40), ref.coef_) < 1e-8


def test_checkpoints_are_cold_fits_at_their_thresholds():
    """Every checkpoint, grid or bisection, is the cold fit at its threshold (no warm start
    from a neighbouring threshold), and each requested size gets a model of between 0.95 n and
    n functions or a note saying why not."""
    A, y, prior = ill_conditioned(seed=2)
    system = streamed(A, y, prior, chunks=3)
    cp = ard_checkpoints(system, system, [1.0, 1e3], sizes=(20, 30))
    assert np.all(np.diff(cp.labels) > 0)
    for i, t in enumerate(cp.labels):
        support, coef = ard_fit(system, threshold_lambda=t)
        assert list(cp.support(i)) == list(support)
        assert np.array_equal(cp.coef(i), coef)
    for n in (20, 30):
        found = cp.meta["size_search"][str(n)]
        assert found["size"] == cp.sizes[cp.at_size[n]] <= n
        assert found["size"] >= 0.95 * n or "note" in found
    assert cp.meta["centred"] is True


def test_everything_pruned_is_an_empty_model_without_lapack_messages(capfd):
    """Issue 23 §4: no '** On entry to DTRTRI parameter number 5 had an illegal value' (LAPACK
    on an empty block) when every function is pruned; the result is the empty model."""
    A, y, prior = ill_conditioned(m=60, n=12, cond=1e3, seed=3)
    system = streamed(A, y, prior, chunks=2)
    support, coef = ard_fit(system, threshold_lambda=1e-12)
    assert support.shape == (0,) and coef.shape == (0,)
    cp = ard_checkpoints(system, system, [1e-12, 1e-6], sizes=(0, 3))
    assert cp.sizes[cp.at_size[0]] == 0
    mean, diag = _posterior(np.eye(3), np.ones(3), np.zeros(0, dtype=int), np.zeros(0), 1.0)
    assert mean.shape == diag.shape == (0,)
    out, err = capfd.readouterr()
    assert "DTRTRI" not in out + err and "illegal value" not in out + err


def test_posterior_is_scikit_learns_pseudo_inverse_when_it_truncates():
    """When diag(lambda) + alpha G has eigenvalues below pinvh's cutoff, Sigma is pinvh's (the
    small eigenvalues dropped), not the inverse."""
    rng = np.random.default_rng(4)
    B = rng.normal(size=(8, 8)) * np.geomspace(1, 1e-10, 8)
    G, h = B.T @ B, rng.normal(size=8)
    lam, alpha = np.full(8, 1e-13), 1e4
    sigma = pinvh(np.diag(lam) + alpha * G)
    mean, diag = _posterior(G, h, np.arange(8), lam, alpha)
    assert np.allclose(diag, np.diag(sigma), rtol=1e-6)
    assert np.allclose(mean, alpha * sigma @ h, rtol=1e-6)
    assert np.abs(diag - np.diag(np.linalg.inv(np.diag(lam) + alpha * G))).max() > 1.0
    # well conditioned: the Cholesky path gives the same
    lam = np.full(8, 1.0)
    sigma = np.linalg.inv(np.diag(lam) + alpha * G)
    mean, diag = _posterior(G, h, np.arange(8), lam, alpha)
    assert np.allclose(diag, np.diag(sigma), rtol=1e-9)


def test_centred_system_and_factor_files(tmp_path):
    """The ones column rides through chunk factors and files; the centred system is that of
    the centred rows; a factor file without it loads, and ARD then says what to do."""
    A, y, _ = ill_conditioned(m=50, n=6, cond=1e3, seed=5)
    acc = TriangularAccumulator(6, batch_rows=7)
    acc.add(A[:20], y[:20])
    first = DesignFactor(acc.factor(), acc.nrows, {}, acc.ones())
    acc = TriangularAccumulator(6)
    acc.add(A[20:], y[20:])
    factor = combine([first, DesignFactor(acc.factor(), acc.nrows, {}, acc.ones())])
    factor.save(tmp_path / "f.npz")
    again = DesignFactor.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(again.ones, factor.ones)
    with np.load(tmp_path / "f.npz") as data:
        assert int(data["format"]) == FACTOR_FORMAT == 2
    c = LstsqSystem.from_factor(again).centred()
    Ac, yc = A - A.mean(0), y - y.mean()
    assert np.allclose(c.R.T @ c.R, Ac.T @ Ac, rtol=0, atol=1e-12 * np.abs(Ac.T @ Ac).max())
    assert np.allclose(c.R.T @ c.z, Ac.T @ yc, rtol=0, atol=1e-12 * np.abs(Ac.T @ yc).max())
    x = np.random.default_rng(0).normal(size=6)
    assert c.residual_norm2(x) == pytest.approx(np.sum((Ac @ x - yc) ** 2), rel=1e-10)
    assert factor.ones[-1] ** 2 + np.sum(factor.ones[:-1] ** 2) == pytest.approx(50)
    np.savez(tmp_path / "old.npz", R_aug=factor.R_aug, nrows=factor.nrows, meta="{}")
    old = DesignFactor.load(tmp_path / "old.npz")
    assert old.ones is None
    with pytest.raises(ValueError, match=r"cannot be centred.*rebuild the design factors"):
        ard_fit(LstsqSystem.from_factor(old))


def spectrum_matrix(eigenvalues, seed=6):
    """A symmetric matrix with the given eigenvalues in a random orthogonal basis."""
    Q = np.linalg.qr(np.random.default_rng(seed).normal(size=(len(eigenvalues),) * 2))[0]
    return (Q * eigenvalues) @ Q.T


@pytest.mark.parametrize("smallest, inverts", [(0.5, False), (1.05, False), (3.0, True)])
def test_cholesky_only_when_pinvh_keeps_every_eigenvalue(smallest, inverts):
    """At k >= CERTIFY_MIN Sigma comes from Cholesky only when the smallest eigenvalue of M is
    certainly above MARGIN times pinvh's cutoff k eps lambda_max (here given as a multiple of
    that cutoff, lam tiny so that the cheap bound cannot decide); either way the posterior is
    pinvh's up to what rounding leaves of a matrix of condition number ~1/(k eps) (any two
    orders of operations, e.g. pinvh's and ours, differ by ~1e-4 here), and below the cutoff
    it is pinvh's truncation, 1e3 times away from the inverse."""
    from sparseace.solvers import ard

    k = 100
    s = np.geomspace(1e4, 1e-2, k)
    s[-1] = smallest * k * ard.EPS * 1e4
    G, h, lam = spectrum_matrix(s), np.linspace(-1, 1, k), np.full(k, 1e-30)
    M = G + np.diag(lam)
    assert ard._inverts(M, lam) is inverts
    sigma = pinvh(M)
    mean, diag = _posterior(G, h, np.arange(k), lam, 1.0)
    assert rel(diag, np.diag(sigma)) < 1e-2 and rel(mean, sigma @ h) < 1e-2
    if smallest < 1:
        assert np.abs(diag - np.diag(np.linalg.inv(M))).max() > 1e3 * np.abs(diag).max()


def test_cholesky_posterior_of_a_well_conditioned_block():
    """Eigenvalues bounded below by min(lambda) far above the cutoff: certain without a
    factorisation, and the Cholesky posterior equals the inverse's to 1e-12."""
    from sparseace.solvers import ard

    k = 100
    G, h, lam = spectrum_matrix(np.geomspace(1e2, 1e-6, k)), np.linspace(-1, 1, k), np.ones(k)
    M = 3.0 * G + np.diag(lam)
    assert ard._inverts(M, lam)
    sigma = np.linalg.inv(M)
    mean, diag = _posterior(G, h, np.arange(k), lam, 3.0)
    assert rel(diag, np.diag(sigma)) < 1e-12 and rel(mean, 3.0 * sigma @ h) < 1e-12


def test_numpy_blas_runs_one_thread_while_ard_iterates():
    """Inside ``numpy_blas_serial`` numpy's bundled BLAS has one thread and every other BLAS
    (scipy's, which factorises) keeps its own; afterwards numpy's has its threads back."""
    from threadpoolctl import threadpool_info

    from sparseace.solvers.ard import numpy_blas_serial

    def threads():
        return {p["filepath"]: p["num_threads"] for p in threadpool_info()
                if p["user_api"] == "blas"}

    before = threads()
    numpy_libs = [f for f in before if "numpy" in f.split("site-packages")[-1]]
    if not numpy_libs:
        pytest.skip("numpy has no BLAS of its own here")
    with numpy_blas_serial():
        inside = threads()
    assert all(inside[f] == 1 for f in numpy_libs)
    assert all(inside[f] == before[f] for f in before if f not in numpy_libs)
    assert threads() == before
