"""Weighted design systems and their streaming QR reduction."""

import numpy as np
import pytest
from ase.build import bulk

from sparseace.basis import ACEBasis
from sparseace.solvers import LstsqSystem
from sparseace.design import (DesignFactor, DesignRows, TriangularAccumulator, assemble,
                              chunk_bounds, combine, design_rows, loss_weights, reduce_rows,
                              smoothness_prior, structure_rows)

RNG = np.random.default_rng(11)
EREF = {"Si": -158.54496821}


@pytest.fixture(scope="module")
def basis():
    return ACEBasis(["Si"], 3, 8)


def labelled_si(seed, config_type="default", virial=True):
    """Strained, strongly rattled diamond Si with random labels (diverse environments)."""
    rng = np.random.default_rng(seed)
    atoms = bulk("Si", "diamond", rng.uniform(5.0, 5.9), cubic=True)
    atoms.set_cell(atoms.cell @ (np.eye(3) + 0.05 * rng.normal(size=(3, 3))), scale_atoms=True)
    atoms.rattle(0.35, seed=seed)
    atoms.info["REF_energy"] = len(atoms) * EREF["Si"] + rng.normal() - 4.0 * len(atoms)
    atoms.arrays["REF_forces"] = rng.normal(size=(len(atoms), 3))
    if virial:
        v = rng.normal(size=(3, 3))
        atoms.info["REF_virial"] = (v + v.T).ravel()
    atoms.info["config_type"] = config_type
    atoms.info["dataset"] = "synthetic"
    return atoms


@pytest.fixture(scope="module")
def frames():
    types = ["dia", "liq", "default"]
    return [labelled_si(s, types[s % 3], virial=s % 2 == 0) for s in range(10)]


WEIGHTS = {"default": {"E": 30.0, "F": 1.0, "V": 1.0}, "liq": {"E": 10.0, "F": 0.66, "V": 0.25},
           "dia": {"E": 60.0, "F": 2.0, "V": 2.0}}


def dense_system(basis, frames):
    blocks = [structure_rows(basis, a, EREF, WEIGHTS)[:2] for a in frames]
    return np.vstack([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])


def test_loss_weights_lookup():
    assert loss_weights("liq", WEIGHTS) == (10.0, 0.66, 0.25)
    assert loss_weights("unknown", WEIGHTS) == (30.0, 1.0, 1.0)
    assert loss_weights("x", {"default": {"E": 5.0}}) == (5.0, 1.0, 1.0)


def test_rows_weights_targets_and_eref(basis):
    atoms = labelled_si(3, "liq")
    A, y, counts = structure_rows(basis, atoms, EREF, WEIGHTS)
    N = len(atoms)
    E, F, W = basis.evaluate(atoms)
    assert counts == {"E": 1, "F": 3 * N, "V": 6}
    assert A.shape == (1 + 3 * N + 6, len(basis))
    np.testing.assert_allclose(A[0], E * 10.0 / np.sqrt(N))
    np.testing.assert_allclose(y[0], (atoms.info["REF_energy"] - N * EREF["Si"]) * 10 / np.sqrt(N))
    np.testing.assert_allclose(A[1:1 + 3 * N], F.reshape(3 * N, -1) * 0.66)
    np.testing.assert_allclose(y[1:1 + 3 * N], atoms.arrays["REF_forces"].ravel() * 0.66)
    v = atoms.info["REF_virial"].reshape(3, 3)
    expected = np.array([v[0, 0], v[1, 1], v[2, 2], v[1, 2], v[0, 2], v[0, 1]])
    np.testing.assert_allclose(y[-6:], expected * 0.25 / np.sqrt(N))
    np.testing.assert_allclose(A[-6:], W * 0.25 / np.sqrt(N))
    no_virial = labelled_si(4, virial=False)
    assert structure_rows(basis, no_virial, EREF)[2]["V"] == 0
    with pytest.raises(ValueError, match="Eref"):
        structure_rows(basis, atoms, {})


def test_reduced_system_equals_dense(basis, frames):
    A, y = dense_system(basis, frames)
    factor = assemble(basis, frames, EREF, WEIGHTS, batch_rows=150)
    assert factor.nrows == len(y)
    x_dense = np.linalg.lstsq(A, y, rcond=None)[0]
    x_factor = np.linalg.solve(factor.R, factor.z)
    # the fitted values: the order-1 many-body and the pair functions make A ill-conditioned
    assert np.linalg.norm(A @ (x_factor - x_dense)) / np.linalg.norm(A @ x_dense) <= 1e-8
    gram = A.T @ A
    assert np.abs(factor.R.T @ factor.R - gram).max() <= 1e-12 * np.abs(gram).max()
    system = LstsqSystem.from_factor(factor)
    for _ in range(3):
        x = RNG.normal(size=len(basis))
        assert system.residual_norm2(x) == pytest.approx(np.sum((A @ x - y) ** 2), rel=1e-10)
        assert system.rmse(x) == pytest.approx(np.sqrt(np.mean((A @ x - y) ** 2)), rel=1e-10)
    assert factor.meta["rows"] == {"E": 10, "F": sum(3 * len(a) for a in frames), "V": 30}
    assert factor.meta["config_types"] == {"dia": 4, "liq": 3, "default": 3}


def test_factor_independent_of_chunking(basis, frames):
    reference = None
    for nchunks in (1, 3, 10):
        parts = [assemble(basis, frames[a:b], EREF, WEIGHTS, meta={"chunk": [a, b]})
                 for a, b in chunk_bounds(len(frames), nchunks)]
        factor = combine(parts)
        assert factor.meta["chunks"] == [list(c) for c in chunk_bounds(len(frames), nchunks)]
        if reference is None:
            reference = factor
            continue
        assert factor.nrows == reference.nrows
        scale = np.abs(reference.R_aug).max()
        assert np.abs(factor.R_aug - reference.R_aug).max() <= 1e-10 * scale


def test_rows_computed_once_reduce_to_every_split(tmp_path, basis, frames):
    """Design rows of two chunk files (ids: the frames' dataset indices) reduce to the factor
    of any subset of the frames, whichever files hold them: what assemble gives for that
    subset.  A chunk's own frames in order give assemble's factor exactly."""
    ids = np.arange(100, 110)
    paths = [tmp_path / "train.chunk0.rows.npz", tmp_path / "val.chunk0.rows.npz"]
    for path, part in zip(paths, (slice(0, 6), slice(6, 10))):
        design_rows(basis, frames[part], ids[part], EREF, WEIGHTS, meta={"chunk": 0}).save(path)
    again = DesignRows.load(paths[1])
    assert again.ids.tolist() == ids[6:].tolist() and again.counts.sum() == len(again.A)
    assert again.meta["basis"]["fingerprint"] == basis.fingerprint()
    exact = reduce_rows(paths, ids[:6])
    np.testing.assert_array_equal(exact.R_aug, assemble(basis, frames[:6], EREF, WEIGHTS).R_aug)
    for subset in ([1, 4, 7, 9], [0, 2, 3, 5, 6, 8]):  # from both files
        factor = reduce_rows(paths, ids[subset], meta={"seed": 2})
        reference = assemble(basis, [frames[i] for i in subset], EREF, WEIGHTS)
        assert factor.nrows == reference.nrows and factor.meta["seed"] == 2
        for key in ("rows", "configs", "atoms", "config_types", "eref", "weights"):
            assert factor.meta[key] == reference.meta[key], key
        scale = np.abs(reference.R_aug).max()
        assert np.abs(factor.R_aug - reference.R_aug).max() <= 1e-10 * scale
    empty = reduce_rows(paths, [])
    assert empty.nrows == 0 and not empty.R_aug.any()
    with pytest.raises(ValueError, match=r"no design rows for configurations \[107, 110\] \("):
        reduce_rows(paths[:1], [100, 107, 110])


def test_accumulator_on_random_rows_and_batches():
    m, n = 700, 40
    A = RNG.normal(size=(m, n)) * np.logspace(0, -6, n)
    y = RNG.normal(size=m)
    x_dense = np.linalg.lstsq(A, y, rcond=None)[0]
    for batch in (7, 41, 1000):
        acc = TriangularAccumulator(n, batch_rows=batch)
        for start in range(0, m, 53):
            acc.add(A[start:start + 53], y[start:start + 53])
        R = acc.factor()
        assert np.all(np.diag(R)[:-1] >= 0)
        x = np.linalg.solve(R[:-1, :-1], R[:-1, -1])
        assert np.linalg.norm(x - x_dense) <= 1e-8 * np.linalg.norm(x_dense)
        assert R[-1, -1] ** 2 == pytest.approx(np.sum((A @ x_dense - y) ** 2), rel=1e-10)


def test_fewer_rows_than_columns():
    A = RNG.normal(size=(5, 12))
    y = RNG.normal(size=5)
    acc = TriangularAccumulator(12)
    acc.add(A, y)
    f = DesignFactor(acc.factor(), 5)
    x = RNG.normal(size=12)
    assert LstsqSystem.from_factor(f).residual_norm2(x) == pytest.approx(
        np.sum((A @ x - y) ** 2), rel=1e-10)
    assert f.rho2 == pytest.approx(0.0, abs=1e-20)


def test_bad_rows_rejected():
    acc = TriangularAccumulator(3)
    with pytest.raises(ValueError, match="non-finite"):
        acc.add(np.array([[1.0, np.nan, 0.0]]), np.array([1.0]))
    with pytest.raises(ValueError, match="rows must be"):
        acc.add(np.zeros((2, 4)), np.zeros(2))


def test_combine_rejects_different_bases(frames):
    a = assemble(ACEBasis(["Si"], 2, 6), frames[:2], EREF)
    b = assemble(ACEBasis(["Si"], 2, 6, rcut=5.0), frames[2:4], EREF)
    with pytest.raises(ValueError, match="different bases"):
        combine([a, b])


def test_factor_file_round_trip(tmp_path, basis, frames):
    factor = assemble(basis, frames[:3], EREF, WEIGHTS, meta={"source": "x.xyz"})
    path = tmp_path / "train.npz"
    factor.save(path)
    again = DesignFactor.load(path)
    np.testing.assert_array_equal(again.R_aug, factor.R_aug)
    assert again.nrows == factor.nrows and again.meta == factor.meta
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.npz"]


def test_smoothness_prior_values():
    basis = ACEBasis(["O", "H"], 3, 5)
    P = smoothness_prior(basis, 4)
    df = basis.functions
    for k in RNG.choice(len(basis), 25, replace=False):
        row = df.iloc[k]
        expected = sum((1.5 * l) ** 4 + n ** 4 for n, l in zip(row["n"], row["l"]))
        assert P[k] == pytest.approx(expected)
    pair = np.flatnonzero(df["kind"] == "pair")
    np.testing.assert_allclose(P[pair], np.array([n[0] for n in df["n"].iloc[pair]]) ** 4.0)
    assert np.all(P >= 1)


def test_chunk_bounds_cover_everything():
    assert chunk_bounds(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert chunk_bounds(2, 4)[-1] == (2, 2)
    with pytest.raises(ValueError):
        chunk_bounds(5, 0)


def test_energy_rows_give_model_energy_errors(tmp_path, basis, frames):
    from sparseace.design import EnergyRows, energy_rows
    from sparseace.model import ACEPotential

    eref = {"Si": -158.5}
    rows = energy_rows(basis, frames, eref)
    rows.save(tmp_path / "rows.npz")
    rows = EnergyRows.load(tmp_path / "rows.npz")
    active = np.array([3, 17, 40, len(basis) - 2])
    coefs = np.array([0.3, -0.2, 0.05, 1.5])
    model = ACEPotential(basis, active, coefs, eref)
    expected = [(model.evaluate(a)[0] - a.info["REF_energy"]) / len(a) for a in frames]
    assert np.allclose(rows.energy_errors(active, coefs), expected, rtol=1e-10, atol=1e-12)
    assert list(rows.config_type) == [a.info.get("config_type", "default") for a in frames]


@pytest.mark.parametrize("rows", ["assemble", "energy_rows"])
@pytest.mark.parametrize("defect, message", [
    ("coincident", r"train\.xyz, frame 1: atoms 2 \(Si\) and 4 \(Si\)"),
    ("no_energy", r"train\.xyz, frame 1: field REF_energy missing")])
def test_bad_training_frames_name_file_frame_and_field(basis, frames, rows, defect, message):
    from sparseace.design import energy_rows
    from sparseace.io import DataError

    bad = frames[1].copy()
    if defect == "coincident":
        bad.positions[4] = bad.positions[2] + 1e-9
    else:
        del bad.info["REF_energy"]
    given = [frames[0], bad, frames[2]]
    with pytest.raises(DataError, match=message):
        if rows == "assemble":
            assemble(basis, given, EREF, source="train.xyz")
        else:
            energy_rows(basis, given, EREF, source="train.xyz")


def test_training_factor_of_train_and_val_is_the_whole_file(basis, frames):
    """train_on "train+val" ([52]'s protocol: the whole training file) fits the factor of both
    splits together; "train" the training split's."""
    from sparseace.fitting import training_factor

    train = assemble(basis, frames[:6], EREF, WEIGHTS)
    val = assemble(basis, frames[6:], EREF, WEIGHTS)
    whole = assemble(basis, frames, EREF, WEIGHTS)
    assert training_factor(train, val) is train
    both = training_factor(train, val, "train+val")
    assert both.nrows == whole.nrows and both.meta["configs"] == len(frames)
    gram = lambda f: f.R_aug.T @ f.R_aug
    assert np.abs(gram(both) - gram(whole)).max() <= 1e-10 * np.abs(gram(whole)).max()
    with pytest.raises(ValueError, match="train_on must be 'train' or 'train\\+val', got 'all'"):
        training_factor(train, val, "all")


def test_design_rows_hold_the_rows_once_within_the_sized_bound(tmp_path, basis, frames):
    """design_rows writes the rows into one array (its peak memory is about the rows' size, not
    twice it as when per-frame blocks were stacked), and the rows of each frame never exceed
    max_rows: the bound fitting.chunk_rows_gb sizes the workflow's design_chunk jobs by."""
    import tracemalloc

    from sparseace.design import max_rows
    from sparseace.fitting import chunk_rows_gb
    from sparseace.io import write_extxyz_atomic

    many = [labelled_si(s, virial=s % 2 == 0) for s in range(120)]
    design_rows(basis, many[:2], [0, 1], EREF, WEIGHTS)  # warm-up: imports, caches
    tracemalloc.start()
    rows = design_rows(basis, many, np.arange(120), EREF, WEIGHTS)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1.5 * rows.A.nbytes, (peak, rows.A.nbytes)
    assert all(c.sum() <= max_rows(n) for c, n in zip(rows.counts, rows.natoms))
    assert rows.counts.sum() == len(rows.A) == len(rows.y)
    path = tmp_path / "chunks.xyz"
    write_extxyz_atomic(path, many)
    sized = chunk_rows_gb(path, 4, len(basis))
    for (a, b), gb in zip(chunk_bounds(120, 4), sized):
        held = design_rows(basis, many[a:b], np.arange(a, b), EREF, WEIGHTS).A.nbytes
        assert held <= gb * 1e9 < 2 * held


def test_design_rows_of_a_chunk_name_frames_of_the_file(basis, frames):
    """Frames that are a chunk of a file (the workflow's design_chunk) are named by their frame
    number in the file, not in the chunk."""
    bad = frames[2].copy()
    del bad.info["REF_energy"]
    with pytest.raises(ValueError, match=r"train.xyz, frame 7: field REF_energy missing"):
        design_rows(basis, [frames[0], bad], [5, 7], EREF, WEIGHTS, source="train.xyz",
                    first_frame=6)
