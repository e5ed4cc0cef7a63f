"""ACE basis: symmetries, derivatives, cutoff behaviour, linear independence, sizes."""

import itertools
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from scipy.spatial.transform import Rotation
from scipy.special import sph_harm_y

from sparseace.basis import ACEBasis, basis_size
from sparseace.basis.ace import DEFAULT_OPTIONS
from sparseace.basis.coupling import clebsch_gordan, complex_to_real, invariant_couplings
from sparseace.basis.dag import build_dag
from sparseace.basis.harmonics import harmonics_workspace, real_harmonics
from sparseace.basis.radial import (ENVELOPE_PAIR, ENVELOPE_POLY, agnesi_a, jacobi_recurrence,
                                    radial_functions)
from sparseace.basis.spec import build_manybody_spec

RNG = np.random.default_rng(20261122)


@pytest.fixture(scope="module")
def si_basis():
    return ACEBasis(["Si"], 4, 10)


@pytest.fixture(scope="module")
def ho_basis():
    return ACEBasis(["O", "H"], 3, 7)


def rattled_si(seed=0, cells=(1, 1, 1), amplitude=0.15):
    atoms = bulk("Si", "diamond", 5.43, cubic=True) * cells
    atoms.rattle(amplitude, seed=seed)
    return atoms


def water_cluster(seed=0, molecules=6):
    """Isolated cluster of water-like molecules (non-periodic, zero cell)."""
    rng = np.random.default_rng(seed)
    positions, symbols = [], []
    for k in range(molecules):
        centre = rng.uniform(0, 5.0, 3)
        positions += [centre, centre + [0.96, 0, 0], centre + [-0.24, 0.93, 0]]
        symbols += ["O", "H", "H"]
    atoms = Atoms(symbols, positions=np.array(positions))
    atoms.rattle(0.05, seed=seed)
    return atoms


def water_box(seed=0):
    atoms = water_cluster(seed, molecules=8)
    atoms.set_cell([6.5, 6.2, 6.8])
    atoms.pbc = True
    atoms.wrap()
    return atoms


def relative_error(a, b):
    scale = max(np.abs(a).max(), np.abs(b).max(), 1e-300)
    return np.abs(a - b).max() / scale


def per_function_relative_error(a, b, axis_fn=-1):
    """max over functions of |a - b| / max|a| of that function."""
    a = np.moveaxis(np.asarray(a), axis_fn, 0).reshape(a.shape[axis_fn], -1)
    b = np.moveaxis(np.asarray(b), axis_fn, 0).reshape(a.shape[0], -1)
    scale = np.maximum(np.abs(a).max(axis=1), 1e-300)
    return (np.abs(a - b).max(axis=1) / scale).max()


# ----------------------------------------------------------------------------- building blocks
def test_clebsch_gordan_known_values_and_orthogonality():
    assert clebsch_gordan(1, 0, 1, 0, 0, 0) == pytest.approx(-1 / math.sqrt(3), abs=1e-15)
    assert clebsch_gordan(1, 1, 1, -1, 2, 0) == pytest.approx(1 / math.sqrt(6), abs=1e-15)
    assert clebsch_gordan(2, 1, 1, 1, 3, 2) == pytest.approx(math.sqrt(2 / 3), abs=1e-15)
    # sum_{m1 m2} <j1 m1 j2 m2|J M>^2 = 1
    for j1, j2, J in [(3, 2, 4), (4, 4, 0), (5, 3, 6)]:
        for M in range(-J, J + 1):
            total = sum(clebsch_gordan(j1, m1, j2, M - m1, J, M) ** 2 for m1 in range(-j1, j1 + 1))
            assert total == pytest.approx(1.0, abs=1e-13)


def test_real_harmonics_match_scipy_and_gradients():
    lmax = 9
    for _ in range(5):
        r = RNG.normal(size=3) * 2.0
        d = np.linalg.norm(r)
        Y = np.zeros((lmax + 1) ** 2)
        dY = np.zeros(((lmax + 1) ** 2, 3))
        real_harmonics(r / d, lmax, Y, dY, 1 / d, harmonics_workspace(lmax))
        theta, phi = np.arccos(r[2] / d), np.arctan2(r[1], r[0])
        for l in range(lmax + 1):
            Yc = np.array([sph_harm_y(l, m, theta, phi) for m in range(-l, l + 1)])
            YR = complex_to_real(l) @ Yc
            np.testing.assert_allclose(YR.imag, 0, atol=1e-13)
            np.testing.assert_allclose(Y[l * l:(l + 1) ** 2], YR.real, atol=1e-13)
        h = 1e-6
        for c in range(3):
            rp, rm = r.copy(), r.copy()
            rp[c] += h
            rm[c] -= h
            Yp, Ym = np.zeros_like(Y), np.zeros_like(Y)
            real_harmonics(rp / np.linalg.norm(rp), lmax, Yp, np.zeros_like(dY), 1.0,
                           harmonics_workspace(lmax))
            real_harmonics(rm / np.linalg.norm(rm), lmax, Ym, np.zeros_like(dY), 1.0,
                           harmonics_workspace(lmax))
            np.testing.assert_allclose((Yp - Ym) / (2 * h), dY[:, c], atol=1e-7)
    # a point on the pole: finite and correct
    Y = np.zeros((lmax + 1) ** 2)
    dY = np.zeros(((lmax + 1) ** 2, 3))
    real_harmonics(np.array([0.0, 0.0, 1.0]), lmax, Y, dY, 1.0, harmonics_workspace(lmax))
    assert np.all(np.isfinite(dY))
    assert Y[0] == pytest.approx(1 / math.sqrt(4 * math.pi))


def test_radial_basis_orthonormal_and_derivatives():
    rec = jacobi_recurrence(4.0, 12)
    x, w = np.polynomial.legendre.leggauss(80)
    # orthonormality in x of R_n = e(x) P_n(x): evaluate through the transform's inverse is
    # awkward, so check the polynomial part against its weight directly
    P = np.zeros((12, len(x)))
    for k in range(12):
        pm2, pm1 = np.zeros_like(x), np.ones_like(x)
        for j in range(k + 1):
            cur = np.ones_like(x) if j == 0 else rec[j, 0] * x * pm1 - rec[j, 1] * pm2
            pm2, pm1 = pm1, cur
        P[k] = rec[k, 2] * cur
    gram = (P * w * (1 - x**2) ** 4) @ P.T
    np.testing.assert_allclose(gram, np.eye(12), atol=1e-12)
    # derivatives by central differences, both envelopes
    out, dout = np.zeros(8), np.zeros(8)
    op, om = np.zeros(8), np.zeros(8)
    for envelope, (p, q), recs in [(ENVELOPE_POLY, (2, 4), rec), (ENVELOPE_PAIR, (1, 3),
                                                                 jacobi_recurrence(0.0, 8))]:
        for r in (0.7, 1.9, 3.1, 4.4):
            radial_functions(r, 2.4, 0.0, 6.0, p, q, agnesi_a(p, q), recs, 8, envelope, out, dout)
            h = 1e-6
            radial_functions(r + h, 2.4, 0.0, 6.0, p, q, agnesi_a(p, q), recs, 8, envelope, op, om)
            fd = op.copy()
            radial_functions(r - h, 2.4, 0.0, 6.0, p, q, agnesi_a(p, q), recs, 8, envelope, op, om)
            fd = (fd - op) / (2 * h)
            np.testing.assert_allclose(fd, dout, rtol=1e-6, atol=1e-7 * np.abs(dout).max())


def test_agnesi_parameters_match_conventions():
    assert agnesi_a(2, 4) == pytest.approx(10 / 13)
    assert agnesi_a(1, 3) == pytest.approx(2 / 7)


def test_invariant_coupling_counts_small_cases():
    # two identical l=1 factors: one invariant (dot product); three l=1: only a pseudo-scalar
    assert invariant_couplings((1, 1), (2,)).shape[0] == 1
    assert invariant_couplings((1, 1, 1), (1, 1, 1)).shape[0] == 0
    # four l=2: 5 couplings when all distinct, one for Sym^4 (tr(M^2)^2 = 2 tr(M^4) in 3D)
    assert invariant_couplings((2, 2, 2, 2), (1, 1, 1, 1)).shape[0] == 5
    assert invariant_couplings((2, 2, 2, 2), (4,)).shape[0] == 1


# ----------------------------------------------------------------------------- sizes
def test_study_basis_sizes_si_order4_degree23():
    """Reference rule (docs/conventions.md): pair + many-body orders 1..4 per centre species."""
    spec = build_manybody_spec(1, 4, [23.0] * 4, 1.5)
    counts = [int((spec.fn_order == nu).sum()) for nu in (1, 2, 3, 4)]
    assert counts == [23, 406, 3086, 10180]
    basis = ACEBasis(["Si"], 4, 23)
    assert basis.n_pair == 23
    assert len(basis) == 13718


def test_size_command_prints_study_sizes():
    out = subprocess.run([sys.executable, "-m", "sparseace.basis", "--elements", "Si",
                          "--order", "4", "--totaldegree", "23"], capture_output=True,
                         text=True, check=True).stdout
    for number in ("406", "3086", "10180", "23", "13718"):
        assert number in out


def test_reference_counts_small_cases_by_hand():
    """Counts of ACEpotentials 0.8.6's ace1_model rule, worked by hand (level n/NZ + 1.5 l).
    Si, order 2, degree 3: one-particle (n, 0) n = 1..3 and (1, 1) (level 2.5); order 1: n = 1,
    2, 3; order 2: (1,0)(1,0) and (1,0)(2,0) (l = 1 pairs have level 5); pair: 3 -> 8.
    H/O, order 2, degree 2: levels n/2; order 1: n = 1..4; order 2 (l = 0): (1,1), (1,2), (1,3),
    (2,2); (1,1) of l = 1 has level 4; pair: ceil(2) * 2 = 4 per centre -> 2 * (4 + 4 + 4)."""
    si = ACEBasis(["Si"], 2, 3)
    assert [int((si.mb.fn_order == nu).sum()) for nu in (1, 2)] == [3, 2]
    assert (si.n_pair, len(si)) == (3, 8)
    ho = ACEBasis(["H", "O"], 2, 2)
    assert [int((ho.mb.fn_order == nu).sum()) for nu in (1, 2)] == [4, 4]
    assert (ho.n_pair, len(ho)) == (4, 24)
    assert [f for f in ho.functions.itertuples() if f.kind == "manybody" and f.order == 1
            ][3].n == (4,)
    # the pair degree is the largest total degree of the per-order vector
    assert ACEBasis(["Si"], 3, [8, 10, 6]).n_pair == 10


def test_coupling_normalisation_sqrt_factorial():
    """Each function is sum_m T[m] prod A with T symmetric, |T|^2 = prod k_i! (k_i: repeats of a
    one-particle function), and the functions of one multiset orthogonal (EquivariantModels
    0.0.5 rpe_basis: docs/conventions.md)."""
    spec = build_manybody_spec(1, 4, [9.0, 9.0, 9.0, 13.0], 1.5)
    gram = {}
    for k in range(len(spec)):
        factors = tuple(int(i) for i in spec.fn_factors[k] if i >= 0)
        runs = [factors.count(i) for i in sorted(set(factors))]
        terms = slice(spec.term_ptr[k], spec.term_ptr[k + 1])
        coef, a = spec.term_coef[terms], spec.term_a[terms][:, : len(factors)]
        # coef = T[m] * (distinct orderings of the term's m-tuple) = T[m] * prod k! / prod c_A!
        orbit = np.array([math.prod(math.factorial(k) for k in runs)
                          / math.prod(math.factorial(list(row).count(v)) for v in set(row))
                          for row in a.tolist()])
        gram.setdefault(factors, []).append((coef, a, orbit))
        assert np.sum(coef**2 / orbit) == pytest.approx(math.prod(map(math.factorial, runs)),
                                                         rel=1e-10)
    repeated = [f for f in gram if len(set(f)) < len(f)]
    assert len(repeated) > 50 and any(len(gram[f]) > 1 for f in repeated)
    for fns in gram.values():
        for (c1, a1, o1), (c2, a2, _) in itertools.combinations(fns, 2):
            d2 = {tuple(r): c for r, c in zip(a2.tolist(), c2)}
            dot = sum(c / o * d2.get(tuple(r), 0.0) for r, c, o in zip(a1.tolist(), c1, o1))
            assert abs(dot) < 1e-10


@pytest.mark.parametrize("ls,runs", [((1, 1, 1, 1), (4,)), ((1, 1, 1, 1), (2, 2)),
                                     ((2, 2, 2), (2, 1)), ((1, 1, 2, 2), (2, 2))])
def test_reference_gramian_construction_gives_our_scaled_couplings(ls, runs):
    """EquivariantModels 0.0.5 rpe_basis on orthonormal unsymmetrised couplings U: G = sum over
    the permutations of identical factors of U P U^T, rows sqrt(s) w^T U, then symmetrised (the
    A2B map sums a row over the m-tuples of one multiset).  Its rank is our count and its
    symmetrised rows span our couplings with the same Gram matrix prod k! I."""
    U = invariant_couplings(ls, (1,) * len(ls))
    shape = [2 * l + 1 for l in ls]
    starts = np.cumsum((0,) + runs)
    perms = [sum((list(p) for p in combo), []) for combo in itertools.product(
        *[itertools.permutations(range(a, b)) for a, b in zip(starts[:-1], starts[1:])])]
    permuted = lambda rows, p: np.array([np.transpose(r.reshape(shape), p).ravel() for r in rows])
    G = sum(U @ permuted(U, p).T for p in perms)
    s, w = np.linalg.eigh(G)
    keep = s > 1e-7 * s.max()
    rows = np.sqrt(s[keep])[:, None] * (w[:, keep].T @ U)
    ref = sum(permuted(rows, p) for p in perms) / len(perms)
    ours = math.sqrt(math.prod(map(math.factorial, runs))) * invariant_couplings(ls, runs)
    assert len(ref) == len(ours) > 0
    np.testing.assert_allclose(s[keep], len(perms), rtol=1e-12)
    np.testing.assert_allclose(ref @ ref.T, ours @ ours.T, atol=1e-10)
    np.testing.assert_allclose(ref.T @ ref, ours.T @ ours, atol=1e-10)


def test_coupling_normalisation_values_on_a_dimer():
    """One neighbour: A_nlm = R_n Y_lm, so (n,0)(n,0) = sqrt(2) A_n00^2, (n,1)(n,1) =
    +-sqrt(2/3) sum_m A_n1m^2 = +-sqrt(3) (n,0)(n,0), and order 1 is A_n00 itself."""
    basis = ACEBasis(["Si"], 2, 7)
    E = basis.evaluate(Atoms("Si2", positions=[[0, 0, 0], [2.1, 0.4, -0.3]]))[0]
    f = basis.functions
    index = {(row.n, row.l): k for k, row in enumerate(f.itertuples())
             if row.kind == "manybody" and row.centre == "Si"}
    for n in (1, 2):
        one, ss, pp = E[index[(n,), (0,)]], E[index[(n, n), (0, 0)]], E[index[(n, n), (1, 1)]]
        assert ss == pytest.approx(math.sqrt(2) / 2 * one**2, rel=1e-12)  # rows sum two atoms
        assert abs(pp) == pytest.approx(math.sqrt(3) * ss, rel=1e-12)


def test_per_order_degree_vector():
    full = ACEBasis(["Si"], 3, 12)
    reduced = ACEBasis(["Si"], 3, [12, 12, 8])
    t_full, t_red = full.factor_table, reduced.factor_table
    for nu in (1, 2):
        assert (t_full["order"] == nu).sum() == (t_red["order"] == nu).sum()
    assert (t_red["order"] == 3).sum() < (t_full["order"] == 3).sum()
    assert t_red["level"][t_red["order"] == 3].max() <= 8 + 1e-9


def test_metadata_levels_and_layout(ho_basis):
    df = ho_basis.functions
    assert len(df) == len(ho_basis)
    assert list(df["centre"].unique()) == ["H", "O"]
    nz = 2
    for row in df.itertuples():
        assert row.level == pytest.approx(sum(n / nz + 1.5 * l for n, l in zip(row.n, row.l)))
        assert row.level <= 7 + 1e-9
        assert len(row.n) == row.order
        if row.kind == "manybody":
            assert sum(row.l) % 2 == 0
        for species, n, degree in zip(row.species, row.n, row.degree):
            assert ho_basis.elements[(n - 1) % nz] == species
            assert degree == (n - 1) // nz + 1
    # layout: many-body blocks of H then O, then pair blocks of H then O
    kinds = df["kind"].to_numpy()
    assert (kinds[: 2 * ho_basis.n_manybody] == "manybody").all()
    assert (kinds[2 * ho_basis.n_manybody:] == "pair").all()
    order = ho_basis.level_order()
    assert sorted(order) == list(range(len(ho_basis)))
    assert np.all(np.diff(df["level"].to_numpy()[order]) >= -1e-9)


def test_json_round_trip(ho_basis):
    text = ho_basis.to_json()
    again = ACEBasis.from_json(text)
    assert len(again) == len(ho_basis)
    assert again.fingerprint() == ho_basis.fingerprint()
    assert json.loads(text)["fingerprint"] == ho_basis.fingerprint()
    atoms = water_cluster(1)
    for a, b in zip(ho_basis.evaluate(atoms), again.evaluate(atoms)):
        np.testing.assert_array_equal(a, b)



def test_fingerprint_covers_every_option_that_changes_values():
    base = ACEBasis(["Si"], 2, 6)
    atoms = rattled_si()
    rows = base.evaluate(atoms)[0]
    changes = {"r0": {"Si": 2.3}, "rcut": 5.5, "rcut_factor": 2.3, "rin": 0.3, "wL": 1.4,
               "pair_degree": 5, "transform": [2, 5], "pair_transform": [1, 4]}
    assert set(changes) == set(DEFAULT_OPTIONS)
    for name, value in changes.items():
        other = ACEBasis(["Si"], 2, 6, **{name: value})
        other_rows = other.evaluate(atoms)[0]
        assert other_rows.shape != rows.shape or not np.allclose(other_rows, rows), name
        assert other.fingerprint() != base.fingerprint(), name
    # the same functions spelled differently: the same fingerprint
    same = ACEBasis(["Si"], 2, 6.0, r0={"Si": 2.4}, rcut=base.cutoff, rcut_factor=3.0, rin=0,
                    transform=(2, 4))
    np.testing.assert_array_equal(same.evaluate(atoms)[0], rows)
    assert same.fingerprint() == base.fingerprint()
    unsigned = base.to_dict()
    del unsigned["fingerprint"]
    with pytest.raises(ValueError, match=r"basis.json: basis lacks the field\(s\) \['fingerprint'\]"):
        ACEBasis.from_json(json.dumps(unsigned), "basis.json")


def test_save_and_load(tmp_path, ho_basis):
    path = tmp_path / "basis.json"
    ho_basis.save(path)
    again = ACEBasis.load(path)
    assert again.fingerprint() == ho_basis.fingerprint() == json.loads(path.read_text())["fingerprint"]
    atoms = water_cluster(2)
    for a, b in zip(ho_basis.evaluate(atoms), again.evaluate(atoms)):
        np.testing.assert_array_equal(a, b)
    data = ho_basis.to_dict()
    for name, text, message in [
        ("garbled.json", "{not json", "garbled.json: not valid JSON"),
        ("noorder.json", json.dumps({k: v for k, v in data.items() if k != "order"}),
         r"noorder.json: basis lacks the field\(s\) \['order'\]"),
        ("other.json", json.dumps({**data, "fingerprint": "0" * 64}), "other.json: .*fingerprint"),
        ("size.json", json.dumps({**data, "size": 3}), "size.json: basis size"),
    ]:
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=message):
            ACEBasis.load(tmp_path / name)


def test_bad_inputs_raise_clear_errors(si_basis):
    with pytest.raises(ValueError, match="outside the basis elements"):
        si_basis.evaluate(Atoms("SiC", positions=[[0, 0, 0], [1.5, 0, 0]]))
    with pytest.raises(ValueError, match="bond length"):
        ACEBasis(["Fe"], 2, 5)
    with pytest.raises(TypeError, match="unknown ACEBasis options"):
        ACEBasis(["Si"], 2, 5, rcutt=4.0)
    with pytest.raises(ValueError, match="one value per order"):
        ACEBasis(["Si"], 3, [5, 5])
    with pytest.raises(IndexError):
        si_basis.evaluate(rattled_si(), subset=[len(si_basis)])


# ----------------------------------------------------------------------------- symmetry
def transform(atoms, Q, shift):
    out = atoms.copy()
    out.positions = atoms.positions @ Q.T + shift
    if atoms.cell.rank == 3:
        out.set_cell(atoms.cell @ Q.T, scale_atoms=False)
    return out


@pytest.mark.parametrize("structure", ["si", "water_cluster", "water_box"])
def test_rotation_reflection_translation_invariance(structure, si_basis, ho_basis):
    basis, atoms = {"si": (si_basis, rattled_si(1)), "water_cluster": (ho_basis, water_cluster(2)),
                    "water_box": (ho_basis, water_box(3))}[structure]
    E, F, W = basis.evaluate(atoms)
    assert np.abs(E).max() > 0
    for seed in range(3):
        Q = Rotation.random(random_state=seed).as_matrix()
        if seed % 2 == 0:
            Q = -Q  # improper: a reflection
        E2, F2, W2 = basis.evaluate(transform(atoms, Q, RNG.normal(size=3) * 3))
        assert per_function_relative_error(E[None], E2[None]) < 1e-10
        F_rot = np.einsum("ab,nbk->nak", Q, F)
        assert per_function_relative_error(F_rot, F2) < 1e-10
        Wm = lambda w: np.array([[w[0], w[5], w[4]], [w[5], w[1], w[3]], [w[4], w[3], w[2]]])
        W_rot = np.stack([Q @ Wm(W[:, k]) @ Q.T for k in range(W.shape[1])], axis=-1)
        W2m = np.stack([Wm(W2[:, k]) for k in range(W.shape[1])], axis=-1)
        assert per_function_relative_error(W_rot.reshape(9, -1), W2m.reshape(9, -1)) < 1e-10


def test_permutation_of_atoms_and_of_neighbours(ho_basis):
    atoms = water_box(4)
    E, F, W = ho_basis.evaluate(atoms)
    perm = RNG.permutation(len(atoms))
    E2, F2, W2 = ho_basis.evaluate(atoms[perm])
    assert per_function_relative_error(E[None], E2[None]) < 1e-10
    assert per_function_relative_error(F[perm], F2) < 1e-10
    # shuffle the neighbour order inside each (centre, species) group
    species, ptr, second, rij = ho_basis.neighbours(atoms)
    order = np.arange(len(second))
    for i in range(len(atoms)):
        for z in range(2):
            idx = np.arange(ptr[i], ptr[i + 1])
            idx = idx[species[second[idx]] == z]
            order[idx] = RNG.permutation(idx)
    E3, F3, W3 = ho_basis.rows_from_pairs(species, ptr, second[order], rij[order])
    assert per_function_relative_error(E[None], E3[None]) < 1e-10
    assert per_function_relative_error(F, F3) < 1e-10
    assert per_function_relative_error(W, W3) < 1e-10


# ----------------------------------------------------------------------------- derivatives
def fd_check_forces(basis, atoms, atoms_to_move, h=1e-5):
    E, F, _ = basis.evaluate(atoms)
    worst = 0.0
    for a in atoms_to_move:
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[a, c] += h
            minus.positions[a, c] -= h
            fd = -(basis.evaluate(plus)[0] - basis.evaluate(minus)[0]) / (2 * h)
            # relative error where the value is not tiny (relative to the function's scale)
            scale = np.maximum(np.abs(fd), 1e-3 * np.abs(F).max(axis=(0, 1)) + 1e-12)
            worst = max(worst, (np.abs(fd - F[a, c]) / scale).max())
    return worst


def test_forces_are_minus_energy_gradient_si(si_basis):
    assert fd_check_forces(si_basis, rattled_si(5), [0, 5]) < 1e-6


def test_forces_are_minus_energy_gradient_multispecies(ho_basis):
    atoms = water_box(6)
    assert fd_check_forces(ho_basis, atoms, [0, 1, 7]) < 1e-6


@pytest.mark.parametrize("structure", ["si", "water_box"])
def test_virials_are_finite_strain_derivatives(structure, si_basis, ho_basis):
    basis, atoms = {"si": (si_basis, rattled_si(7)), "water_box": (ho_basis, water_box(8))}[structure]
    _, _, W = basis.evaluate(atoms)
    h = 1e-5
    comps = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]

    def strained(eps):
        out = atoms.copy()
        out.set_cell(atoms.cell @ (np.eye(3) + eps), scale_atoms=True)
        return out

    for k, (p, q) in enumerate(comps):
        eps = np.zeros((3, 3))
        eps[p, q] = eps[q, p] = h if p == q else h / 2
        fd = -(basis.evaluate(strained(eps))[0] - basis.evaluate(strained(-eps))[0]) / (2 * h)
        scale = np.maximum(np.abs(fd), 1e-3 * np.abs(W).max(axis=0) + 1e-12)
        assert (np.abs(fd - W[k]) / scale).max() < 1e-6


def test_atomic_base_table_runs_and_restriction(ho_basis):
    table = ho_basis.table
    e = table.entries
    np.testing.assert_array_equal(table.index(e["species"], e["degree"], e["lm"]),
                                  np.arange(table.num_a))
    assert np.all(e["lm"] < (table.degree_lmax[e["species"], e["degree"]] + 1) ** 2)
    run = e["species"] * table.n_radial + e["degree"]
    assert np.all(np.diff(run) >= 0)  # runs of species, then degree; lm inside
    # the factors of every product term are the table entries of the spec's (n, l, m)
    mb = ho_basis.mb
    a_op = np.repeat(np.arange(len(mb.op)), 2 * mb.op[:, 1] + 1)
    n, l_a = mb.op[a_op, 0] - 1, mb.op[a_op, 1]
    entry = table.index(n % 2, n // 2, l_a * l_a + np.arange(mb.num_a) - mb.a_offset[a_op])
    assert np.all(entry >= 0)
    expected = np.sort(np.where(mb.term_a >= 0, entry[mb.term_a], table.num_a), axis=1)
    np.testing.assert_array_equal(np.where(expected == table.num_a, -1, expected),
                                  ho_basis.term_entries)
    used = np.flatnonzero((e["degree"] == 1) & (e["lm"] % 3 == 1))  # leaves holes to pad
    small, remap = table.restrict(used)
    assert small.num_a < table.num_a and np.all(remap[used] >= 0)
    for key in ("species", "degree", "lm"):
        np.testing.assert_array_equal(small.entries[key][remap[used]], e[key][used])
    kept = remap >= 0
    assert np.all(np.diff(remap[kept]) > 0)  # order preserved
    with pytest.raises(Exception):
        table.r0 = None  # frozen


def test_product_dag_nodes_are_prefixes_and_reproduce_the_products(si_basis):
    products = si_basis.term_entries
    dag, node = build_dag(products)
    np.testing.assert_array_equal(dag.products()[node], products)  # every product is its node
    nodes = dag.products()
    order = (nodes >= 0).sum(axis=1)
    assert len(np.unique(nodes, axis=0)) == len(dag)  # each product once
    assert np.all(np.diff(order) >= 0) and set(order) == {1, 2, 3, 4}  # parents come first
    for k in (2, 3, 4):  # the parent of an order-k node is its (k-1)-prefix
        of_k = np.flatnonzero(order == k)
        np.testing.assert_array_equal(nodes[dag.parent[of_k], : k - 1], nodes[of_k, : k - 1])
        assert np.all(dag.factor[of_k] == nodes[of_k, k - 1])
    assert np.all(dag.parent[order == 1] == -1)
    # only the products and their prefixes: nothing else
    prefixes = {tuple(row[:k]) for row in products for k in range(1, (row >= 0).sum() + 1)}
    assert len(prefixes) == len(dag)
    with pytest.raises(ValueError, match="sorted"):
        build_dag([[3, 1, -1, -1]])


def test_shared_parents_are_sub_products_and_need_fewer_nodes(si_basis):
    """shared=True (models): every node's parent is the node with one of its factors dropped,
    every product is its node, and the DAG of a support has fewer nodes than with prefixes."""
    products = si_basis.term_entries[: len(si_basis.term_entries) // 2]
    dag, node = build_dag(products, shared=True)
    nodes = dag.products()
    np.testing.assert_array_equal(nodes[node], products)
    assert len(np.unique(nodes, axis=0)) == len(dag)
    order = (nodes >= 0).sum(axis=1)
    for k in (2, 3, 4):
        of_k = np.flatnonzero(order == k)
        assert np.all(order[dag.parent[of_k]] == k - 1)
        joined = np.sort(np.column_stack([nodes[dag.parent[of_k], : k - 1], dag.factor[of_k]]),
                         axis=1)
        np.testing.assert_array_equal(joined, nodes[of_k, :k])
    prefix, _ = build_dag(products)
    shared_sizes, prefix_sizes = np.diff(dag.order_ptr), np.diff(prefix.order_ptr)
    assert shared_sizes[2] == prefix_sizes[2]  # the order-3 products themselves
    assert shared_sizes[1] < 0.9 * prefix_sizes[1]  # fewer intermediate products


def test_subset_evaluation_equals_columns(ho_basis):
    atoms = water_box(9)
    E, F, W = ho_basis.evaluate(atoms)
    subset = RNG.choice(len(ho_basis), 40, replace=False)
    Es, Fs, Ws = ho_basis.evaluate(atoms, subset=subset)
    np.testing.assert_array_equal(Es, E[subset])
    np.testing.assert_array_equal(Fs, F[:, :, subset])
    np.testing.assert_array_equal(Ws, W[:, subset])


# ----------------------------------------------------------------------------- cutoff
def test_value_and_gradient_vanish_continuously_at_cutoff(ho_basis):
    rc = ho_basis.cutoff
    previous = None
    for delta in (1e-1, 1e-2, 1e-3):
        dimer = Atoms("OH", positions=[[0, 0, 0], [rc - delta, 0, 0]])
        E, F, _ = ho_basis.evaluate(dimer)
        size = (np.abs(E).max(), np.abs(F).max())
        if previous is not None:  # polynomial envelope: E ~ delta^2, F ~ delta
            assert size[0] < previous[0] * 0.02
            assert size[1] < previous[1] * 0.2
        previous = size
    assert previous[0] < 1e-4 and previous[1] < 1e-2
    beyond = Atoms("OH", positions=[[0, 0, 0], [rc + 1e-9, 0, 0]])
    E, F, W = ho_basis.evaluate(beyond)
    assert not E.any() and not F.any() and not W.any()


# ----------------------------------------------------------------------------- independence
@pytest.mark.parametrize("elements,order,degree", [(["Si"], 4, 14), (["O", "H"], 4, 9)])
def test_manybody_functions_linearly_independent(elements, order, degree):
    """Per centre species and order, single-site functions on random environments have full rank."""
    basis = ACEBasis(elements, order, degree)
    t = basis.factor_table
    rng = np.random.default_rng(7)
    for centre in range(basis.nspecies):
        for nu in range(1, order + 1):
            cols = np.flatnonzero((t["centre"] == centre) & (t["order"] == nu) & (t["kind"] == 0))
            rows = []
            while len(rows) < 3 * len(cols):
                # one centre at the origin with random neighbours inside the cutoff; only the
                # centre carries the centre species' functions when neighbours are another species
                nneigh = rng.integers(4, 12)
                directions = rng.normal(size=(nneigh, 3))
                directions /= np.linalg.norm(directions, axis=1)[:, None]
                radii = rng.uniform(0.35, 0.95, nneigh) * basis.cutoff
                neigh_species = rng.integers(0, basis.nspecies, nneigh)
                positions = np.vstack([[0, 0, 0], directions * radii[:, None]])
                species = np.concatenate([[centre], neigh_species])
                first = np.zeros(nneigh, dtype=np.int64)
                order_ = np.argsort(neigh_species, kind="stable")
                second = (np.arange(1, nneigh + 1))[order_]
                pair_ptr = np.array([0, nneigh] + [nneigh] * nneigh, dtype=np.int64)
                rij = positions[second] - positions[first]
                E, _, _ = basis.rows_from_pairs(species.astype(np.int64), pair_ptr, second, rij,
                                                subset=cols)
                rows.append(E)
            M = np.array(rows)
            M = M / np.linalg.norm(M, axis=0)
            s = np.linalg.svd(M, compute_uv=False)
            assert s[-1] / s[0] > 1e-8, (elements, centre, nu, s[-1] / s[0])


# ----------------------------------------------------------------------------- layering
REPO = Path(__file__).resolve().parents[1]
PRIVATE = re.compile(r"(?<![\w.])(?:def|class)\s+(_[A-Za-z]\w*)|self\.(_[A-Za-z]\w*)\s*[:=]"
                     r"|^(_[A-Za-z]\w*)\s*[:=]", re.M)


def private_names(paths) -> set[str]:
    """Names with one leading underscore that the files define (functions, classes, methods,
    attributes, module variables)."""
    return {name for path in paths for match in PRIVATE.findall(path.read_text())
            for name in match if name}


def test_no_private_reach_through():
    """No module outside basis/ uses a private name of basis/, none outside model.py one of the
    model (src/ and workflow/)."""
    src = REPO / "src" / "sparseace"
    owners = {"basis/": private_names((src / "basis").glob("*.py")),
              "model.py": private_names([src / "model.py"])}
    files = [*src.rglob("*.py"), *(REPO / "workflow").rglob("*.py"),
             *(REPO / "workflow").rglob("*.smk"), REPO / "Snakefile"]
    offences = []
    for path in files:
        text = path.read_text()
        used = set(re.findall(r"(?<![\w])(_[A-Za-z]\w*)", text)) - private_names([path])
        for owner, names in owners.items():
            if not str(path.relative_to(REPO)).startswith(f"src/sparseace/{owner}"):
                offences += [f"{path.relative_to(REPO)}: {n}" for n in sorted(used & names)]
    assert not offences


@pytest.mark.parametrize("elements, order, degree, options", [
    (["Si"], 3, 10, {}), (["H", "O"], 4, [3, 6, 5, 4.5], {}), (["Li", "Mo", "Cu"], 2, 6, {}),
    (["Si"], 4, 9, {"wL": 2.0, "pair_degree": 4})])
def test_basis_size_counts_what_the_basis_builds(elements, order, degree, options):
    n = len(ACEBasis(elements, order, degree, **options))
    assert basis_size(elements, order, degree, **options) == n
    assert basis_size(elements, order, degree, limit=n, **options) == n
    assert basis_size(elements, order, degree, limit=n // 2, **options) > n // 2


@pytest.mark.parametrize("args, options, message", [
    ((["Si"], 0, 10), {}, "order (the correlation order) must be an integer from 2 to 4, got 0"),
    ((["Si"], 3, float("inf")), {}, "totaldegree must be finite and positive, got [inf, inf, inf]"),
    ((["Si"], 3, float("nan")), {}, "totaldegree must be finite and positive"),
    ((["Si"], 3, -3), {}, "totaldegree must be finite and positive, got [-3, -3, -3]"),
    ((["Si"], 3, 0.5), {}, "totaldegree [0.5, 0.5, 0.5] admits no many-body function: the "
                           "lowest level of order nu is nu/1"),
    ((["Si"], 3, 8), {"rcut": -1.0}, "rcut (the cutoff, Å) must be a finite number above rin"),
    ((["Si"], 3, 8), {"rcut": float("nan")}, "rcut (the cutoff, Å) must be a finite number"),
    ((["Si"], 3, 8), {"r0": {"Si": -1.0}}, "r0 (bond lengths, Å) must be finite and positive"),
    ((["Si"], 3, 8), {"wL": 0.0}, "wL must be a finite positive number, got 0.0"),
])
def test_impossible_basis_parameters_are_named(args, options, message):
    for make in (ACEBasis, basis_size):
        with pytest.raises(ValueError) as err:
            make(*args, **options)
        assert message in str(err.value)


@pytest.mark.parametrize("degrees,about,size", [([20, 16, 12], 300, 319),
                                                ([25, 21, 17], 1000, 1041)])
def test_per_order_degrees_of_52s_zuo_models(degrees, about, size):
    """[52]'s Zuo models (ACEworkflows Zuo2020Benchmark/ACEpotentials_paper.jl: totaldegree
    [20, 16, 12], "~ 300 basis functions", and [25, 21, 17], "~ 1000"): order nu's functions
    are those of a one-degree basis at degrees[nu-1]; the pair basis has degrees[0] functions."""
    basis = ACEBasis(["Ni"], 3, degrees)
    sizes = basis.size_table().set_index(["kind", "order"])["functions"]
    assert sizes[("pair", 1)] == degrees[0]
    for nu in (2, 3):
        alone = ACEBasis(["Ni"], 3, degrees[nu - 1]).size_table().set_index(["kind", "order"])
        assert sizes[("manybody", nu)] == alone["functions"][("manybody", nu)]
    # the script's "~ 300" / "~ 1000"; exactly: pair degrees[0] + orders 1..3 (order 1 counts
    # degrees[0] functions too, as ACEpotentials 0.8.6 keeps them: docs/conventions.md)
    assert len(basis) == size and abs(size - about) <= 0.07 * about
