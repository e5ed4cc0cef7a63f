"""Model files, the ASE calculator and error tables."""

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from sparseace.basis import ACEBasis
from sparseace.basis.harmonics import harmonics_workspace, real_harmonics
from sparseace.basis.radial import (ENVELOPE_PAIR, ENVELOPE_POLY, agnesi_a, jacobi_recurrence,
                                    radial_functions)
from sparseace.calculator import SparseACECalculator
from sparseace.io import DataError
from sparseace.metrics import error_table, model_errors, per_config_errors
from sparseace.model import ACEPotential, load_model

RNG = np.random.default_rng(5)
EREF = {"H": -187.6043857100553, "O": -93.80219285502734}


@pytest.fixture(scope="module")
def model():
    basis = ACEBasis(["H", "O"], 3, 6)
    active = np.sort(RNG.choice(len(basis), 70, replace=False))
    # include some pair functions so the repulsive pair part is exercised
    active = np.union1d(active, np.arange(len(basis) - 8, len(basis)))
    coefficients = RNG.normal(size=len(active)) * 0.1
    return ACEPotential(basis, active, coefficients, EREF, {"solver": "test"})


def water_box(seed):
    """8 water molecules at random places: atoms of different molecules may be 0.3 Å apart
    (below the calculator's default min_distance)."""
    rng = np.random.default_rng(seed)
    positions, symbols = [], []
    for _ in range(8):
        c = rng.uniform(0, 6.0, 3)
        positions += [c, c + [0.96, 0, 0], c + [-0.24, 0.93, 0]]
        symbols += ["O", "H", "H"]
    atoms = Atoms(symbols, positions=positions, cell=[6.3, 6.1, 6.6], pbc=True)
    atoms.rattle(0.05, seed=seed)
    atoms.wrap()
    return atoms


def test_evaluation_equals_design_rows_times_coefficients(model):
    atoms = water_box(1)
    E_rows, F_rows, W_rows = model.basis.evaluate(atoms, model.active)
    energy, forces, virial, energies = model.evaluate(atoms)
    e0 = sum(EREF[s] for s in atoms.get_chemical_symbols())
    assert energy == pytest.approx(E_rows @ model.coefficients + e0, rel=1e-12)
    np.testing.assert_allclose(forces, F_rows @ model.coefficients, atol=1e-11)
    w = W_rows @ model.coefficients
    expected = np.array([[w[0], w[5], w[4]], [w[5], w[1], w[3]], [w[4], w[3], w[2]]])
    np.testing.assert_allclose(virial, expected, atol=1e-11)
    assert energies.sum() == pytest.approx(energy, rel=1e-12)


def reference_rows(basis, atoms, functions):
    """Energy (K,), force (N, 3, K) and virial (6, K) rows of the basis functions ``functions``
    straight from the definitions, independent of the package's kernels, DAG and contraction:
    A_v = sum_j R_n(r_ij) Y_lm(r_ij) per centre, every product term of every function with the
    product rule, pair functions P_q(r_ij); numpy loops over atoms and neighbours."""
    mb, nz, opts = basis.mb, basis.nspecies, basis.options
    op = mb.op
    a_op = np.repeat(np.arange(len(op)), 2 * op[:, 1] + 1)
    l = op[a_op, 1]
    a_lm = l * l + l + np.arange(mb.num_a) - mb.a_offset[a_op] - l
    a_species, a_deg = (op[a_op, 0] - 1) % nz, (op[a_op, 0] - 1) // nz
    lmax, n_rad, n_pair = int(op[:, 1].max()), int(a_deg.max()) + 1, opts["pair_degree"]
    rec, pair_rec = jacobi_recurrence(4.0, n_rad), jacobi_recurrence(0.0, n_pair)
    (p, q), (pp, pq) = opts["transform"], opts["pair_transform"]
    r0 = {(a, b): 0.5 * (opts["r0"][ea] + opts["r0"][eb])
          for a, ea in enumerate(basis.elements) for b, eb in enumerate(basis.elements)}
    functions = np.asarray(functions)
    K, N = len(functions), len(atoms)
    E, F, W = np.zeros(K), np.zeros((N, 3, K)), np.zeros((6, K))
    species, ptr, second, rij = basis.neighbours(atoms)
    work = harmonics_workspace(lmax)
    for i in range(N):
        zi, nb = species[i], range(ptr[i], ptr[i + 1])
        phi, dphi = np.zeros((mb.num_a, len(nb))), np.zeros((mb.num_a, len(nb), 3))
        pair, dpair = np.zeros((nz, n_pair, len(nb))), np.zeros((nz, n_pair, len(nb), 3))
        for t, k in enumerate(nb):
            zj, d = species[second[k]], np.linalg.norm(rij[k])
            R, dR, P, dP = np.zeros(n_rad), np.zeros(n_rad), np.zeros(n_pair), np.zeros(n_pair)
            Y, dY = np.zeros((lmax + 1) ** 2), np.zeros(((lmax + 1) ** 2, 3))
            radial_functions(d, r0[zi, zj], opts["rin"], opts["rcut"], p, q, agnesi_a(p, q), rec,
                             n_rad, ENVELOPE_POLY, R, dR)
            radial_functions(d, r0[zi, zj], opts["rin"], opts["rcut"], pp, pq, agnesi_a(pp, pq),
                             pair_rec, n_pair, ENVELOPE_PAIR, P, dP)
            real_harmonics(rij[k] / d, lmax, Y, dY, 1.0 / d, work)
            mine = a_species == zj
            phi[mine, t] = R[a_deg[mine]] * Y[a_lm[mine]]
            dphi[mine, t] = (dR[a_deg[mine], None] * Y[a_lm[mine], None] * rij[k] / d
                             + R[a_deg[mine], None] * dY[a_lm[mine]])
            pair[zj, :, t], dpair[zj, :, t] = P, dP[:, None] * rij[k] / d
        A = phi.sum(axis=1)
        for col, fn in enumerate(functions):
            if fn >= nz * len(mb):  # pair function: centre, then interleaved (species, degree)
                centre, local = divmod(fn - nz * len(mb), basis.n_pair)
                value = pair[local % nz, local // nz].sum()
                G = dpair[local % nz, local // nz]  # (neighbours, 3): dE_i/dr_ij
            else:
                centre, local = divmod(fn, len(mb))
                dB = np.zeros(mb.num_a)
                value = 0.0
                for term in range(mb.term_ptr[local], mb.term_ptr[local + 1]):
                    factors = [a for a in mb.term_a[term] if a >= 0]
                    value += mb.term_coef[term] * np.prod(A[factors])
                    for s, a in enumerate(factors):
                        dB[a] += mb.term_coef[term] * np.prod(A[factors[:s] + factors[s + 1:]])
                G = np.einsum("v,vtc->tc", dB, dphi)
            if centre != zi:
                continue
            E[col] += value
            np.subtract.at(F[:, :, col], second[ptr[i]:ptr[i + 1]], G)
            F[i, :, col] += G.sum(axis=0)
            r = rij[ptr[i]:ptr[i + 1]]
            W[:, col] -= [r[:, 0] @ G[:, 0], r[:, 1] @ G[:, 1], r[:, 2] @ G[:, 2],
                          r[:, 1] @ G[:, 2], r[:, 0] @ G[:, 2], r[:, 0] @ G[:, 1]]
    return E, F, W


def random_sparse_model(basis, n_active, seed):
    """Random active functions of every order (pair = order 1) and centre species."""
    rng = np.random.default_rng(seed)
    active = np.sort(rng.choice(len(basis), n_active, replace=False))
    t = basis.factor_table
    assert set(t["order"][active]) == set(range(1, basis.order + 1))
    assert len(set(t["centre"][active])) == basis.nspecies
    return ACEPotential(basis, active, rng.normal(size=n_active) * 0.1)


@pytest.mark.parametrize("seed", [0, 1])
def test_dag_evaluation_equals_reference_on_random_sparse_models(seed):
    """Energies, forces and virials of the model and of its design rows equal a direct
    evaluation of the definitions to 1e-10: pair and many-body orders 2..4, two species."""
    model = random_sparse_model(ACEBasis(["H", "O"], 4, 7), 60, seed)
    atoms = water_box(20 + seed)
    E, F, W = reference_rows(model.basis, atoms, model.active)
    energy, forces, virial, _ = model.evaluate(atoms)
    c = model.coefficients
    assert energy == pytest.approx(E @ c, rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(forces, F @ c, rtol=0, atol=1e-10 * np.abs(F @ c).max())
    w = W @ c
    expected = np.array([[w[0], w[5], w[4]], [w[5], w[1], w[3]], [w[4], w[3], w[2]]])
    np.testing.assert_allclose(virial, expected, rtol=0, atol=1e-10 * np.abs(w).max())
    rows = model.basis.evaluate(atoms, model.active)
    for got, want in zip(rows, (E, F, W)):
        scale = np.abs(want).reshape(-1, len(c)).max(axis=0)  # per function
        assert np.all(np.abs(got - want).reshape(-1, len(c)) <= 1e-10 * scale)


def test_contraction_scales_with_the_support():
    """The evaluation of a model needs only what its functions use: fewer functions, fewer
    atomic-base entries and products (what the evaluation costs)."""
    basis = ACEBasis(["Si"], 3, 16)
    order = basis.level_order()
    sizes = {}
    for n in (100, 400):
        c = ACEPotential(basis, order[:n], np.ones(n)).contraction
        sizes[n] = (c.table.num_a, len(c.dags[0]))
    assert sizes[100][0] < sizes[400][0] < basis.table.num_a
    assert 2 * sizes[100][1] < sizes[400][1]


def test_calculator_forces_and_stress_are_derivatives(model):
    atoms = water_box(2)
    atoms.calc = SparseACECalculator(model)
    forces = atoms.get_forces()
    stress = atoms.get_stress(voigt=False)
    h = 1e-5
    for a in (0, 4, 13):
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.calc = minus.calc = SparseACECalculator(model)
            plus.positions[a, c] += h
            minus.positions[a, c] -= h
            fd = -(plus.get_potential_energy() - minus.get_potential_energy()) / (2 * h)
            assert fd == pytest.approx(forces[a, c], abs=1e-6 * max(1.0, np.abs(forces).max()))
    V = atoms.get_volume()
    for p, q in [(0, 0), (1, 2), (0, 1)]:
        eps = np.zeros((3, 3))
        eps[p, q] = eps[q, p] = h if p == q else h / 2
        energies = []
        for sign in (1, -1):
            strained = atoms.copy()
            strained.set_cell(atoms.cell @ (np.eye(3) + sign * eps), scale_atoms=True)
            strained.calc = SparseACECalculator(model)
            energies.append(strained.get_potential_energy())
        assert (energies[0] - energies[1]) / (2 * h) / V == pytest.approx(stress[p, q], abs=1e-8)


def test_site_model_interface(model):
    atoms = water_box(3)
    species, ptr, second, rij = model.basis.neighbours(atoms)
    first = np.repeat(np.arange(len(atoms)), np.diff(ptr))
    E_site, dE = model.site_energies_and_gradients(species, first, species[second], rij)
    assert E_site.shape == (len(atoms),) and dE.shape == rij.shape
    energy = model.evaluate(atoms)[0]
    eref = sum(EREF[s] for s in atoms.get_chemical_symbols())
    assert E_site.sum() + eref == pytest.approx(energy, rel=1e-12)
    assert model.species == ("H", "O") and model.cutoff == model.basis.cutoff
    with pytest.raises(ValueError, match="sorted"):
        model.site_energies_and_gradients(species, first[::-1], species[second], rij)


def test_model_file_round_trip(tmp_path, model):
    path = tmp_path / "model.json"
    model.save(path)
    data = json.loads(path.read_text())
    assert data["metadata"]["solver"] == "test"
    assert "numpy" in data["metadata"]["versions"] and "created" in data["metadata"]
    again = load_model(path)
    atoms = water_box(4)
    assert again.evaluate(atoms)[0] == model.evaluate(atoms)[0]
    calc = SparseACECalculator(str(path), min_distance=0.25)
    atoms.calc = calc
    assert atoms.get_potential_energy() == pytest.approx(model.evaluate(atoms)[0], rel=1e-14)


def test_model_file_errors(tmp_path, model):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        load_model(bad)
    data = model.to_dict()
    for mutate, message in [
        (lambda d: d.update(format="other"), "not a sparseace model file"),
        (lambda d: d.pop("coefficients"), r"lacks the field\(s\) \['coefficients'\]"),
        (lambda d: d["basis"].update(fingerprint="0" * 64), "fingerprint mismatch"),
        (lambda d: d.update(coefficients=[float("nan")] * len(d["active"])), "finite"),
        (lambda d: d.update(format_version=99), "field format_version is 99; this sparseace reads "
                                                "version 1 only"),
        (lambda d: d.pop("format_version"), r"lacks the field\(s\) \['format_version'\]"),
        (lambda d: d["basis"].pop("fingerprint"), r"basis lacks the field\(s\) \['fingerprint'\]"),
        (lambda d: d["basis"]["options"].update(rcut=4.0), "fingerprint mismatch"),
        (lambda d: d.update(eref=None), "field eref must give the isolated-atom energy"),
        (lambda d: d["eref"].pop("H"), "field eref must give the isolated-atom energy"),
        (lambda d: d.update(active=1.5), "field active must be a list of integer"),
        (lambda d: d.update(active=[i + 0.5 for i in d["active"]]), "field active must be a list"),
        (lambda d: d.update(coefficients=["x"] * len(d["active"])), "coefficients must be numbers"),
        # issue 23 §4: values Python would convert (a bool is an int, "1.5" a float) are refused
        (lambda d: d.update(coefficients=["0.5"] * len(d["active"])),
         r"m.json: field coefficients must be numbers \(a list of eV values, one per active "
         r"function\), got \['0.5', "),
        (lambda d: d.update(coefficients=[True] * len(d["active"])),
         r"m.json: field coefficients must be numbers .*got \[True, "),
        (lambda d: d.update(coefficients="1.0"), "m.json: field coefficients must be numbers"),
        (lambda d: d.update(format_version=True), "m.json: field format_version is True; this "
                                                  "sparseace reads version 1 only"),
        (lambda d: d.update(format_version=1.0), "m.json: field format_version is 1.0"),
    ]:
        broken = json.loads(json.dumps(data))
        mutate(broken)
        path = tmp_path / "m.json"
        path.write_text(json.dumps(broken))
        with pytest.raises(ValueError, match=message):
            load_model(path)
    for raw, message in [
            (bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)),
             "binary data"),
            (bytes(range(256)), "binary data"),
            (json.dumps(data).encode("utf-16"), "UTF-16 text"),
            (json.dumps(data).encode("utf-16-le"), "UTF-16 text")]:
        path.write_bytes(raw)
        with pytest.raises(ValueError, match=rf"m.json: not a sparseace model file: not UTF-8 "
                                             rf"text \({message}\? "):
            load_model(path)
    path.write_text(json.dumps([data]))
    with pytest.raises(ValueError, match=r"m.json: not a sparseace model file \(a JSON list"):
        load_model(path)
    with pytest.raises(ValueError, match="outside the basis"):
        ACEPotential(model.basis, [len(model.basis)], [1.0])
    with pytest.raises(ValueError, match="active indices must be integers"):
        ACEPotential(model.basis, [1.5], [1.0])
    with pytest.raises(ValueError, match="Eref"):
        ACEPotential(model.basis, [0], [1.0], {"Si": 1.0})


def test_stress_requires_periodic_cell(model):
    atoms = water_box(5)
    atoms.pbc = False
    atoms.calc = SparseACECalculator(model)
    atoms.get_potential_energy()
    with pytest.raises(Exception):
        atoms.get_stress()


def test_error_tables(model):
    frames = []
    for seed in range(4):
        atoms = water_box(10 + seed)
        energy, forces, virial, _ = model.evaluate(atoms)
        atoms.info["REF_energy"] = energy + 0.01 * len(atoms) * (seed - 1.5)
        atoms.arrays["REF_forces"] = forces + 0.1
        atoms.info["REF_virial"] = virial.ravel()
        atoms.info["config_type"] = "a" if seed < 2 else "b"
        frames.append(atoms)
    table = model_errors(model, frames)
    assert list(table.index) == ["a", "b", "all"]
    # energy errors are 10 meV/atom * (seed - 1.5): |.| = 15, 5, 5, 15
    assert table.loc["all", "E_MAE_meV_per_atom"] == pytest.approx(10.0)
    assert table.loc["a", "E_MAE_meV_per_atom"] == pytest.approx(10.0)
    assert table.loc["all", "E_RMSE_meV_per_atom"] == pytest.approx(np.sqrt((225 + 25) / 2))
    assert table.loc["all", "F_MAE_eV_per_A"] == pytest.approx(0.1)
    assert table.loc["all", "F_RMSE_eV_per_A"] == pytest.approx(0.1)
    assert table.loc["all", "V_MAE_meV_per_atom"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["all", "configs"] == 4
    # an ASE calculator gives the same table
    table2 = model_errors(SparseACECalculator(model, min_distance=0.25), frames)
    np.testing.assert_allclose(table2.to_numpy(dtype=float), table.to_numpy(dtype=float),
                               rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError):
        error_table(per_config_errors(model, []))
    # a structure the model cannot evaluate is named by source and frame (issue 23 §4)
    flat = frames[2].copy()
    flat.cell[2] = [0, 0, 0]
    with pytest.raises(DataError, match=r"w.xyz, frame 2: periodic structure \(pbc T T T\) "
                                        "with a degenerate cell"):
        model_errors(model, [*frames[:2], flat], "w.xyz")


# ----------------------------------------------------------------------------- hostile structures
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_position_names_the_atom(model, bad):
    atoms = water_box(6)
    atoms.positions[4, 1] = bad
    atoms.calc = SparseACECalculator(model)
    with pytest.raises(ValueError, match=r"atom 4 \(H\) has a non-finite position"):
        atoms.get_potential_energy()
    with pytest.raises(ValueError, match=r"atom 4 \(H\) has a non-finite position"):
        model.basis.evaluate(atoms)


@pytest.mark.parametrize("offset", [0.0, 1e-6])
def test_coincident_atoms_name_the_pair(model, offset):
    atoms = water_box(7)
    atoms.positions[5] = atoms.positions[3] + [offset, 0, 0]
    for evaluate in (SparseACECalculator(model, close_pairs="warn").get_potential_energy,
                     model.evaluate, model.basis.evaluate):
        with pytest.raises(ValueError, match=r"atoms 3 \(O\) and 5 \(H\) are .* coincident"):
            evaluate(atoms)


def test_pair_closer_than_the_floor_raises_or_warns(model):
    atoms = water_box(8)
    atoms.positions[5] = atoms.positions[3] + [0.3, 0, 0]
    atoms.calc = SparseACECalculator(model)
    with pytest.raises(ValueError, match=r"atoms 3 \(O\) and 5 \(H\) are 0.3 Å apart, closer than "
                                         r"min_distance=0.5"):
        atoms.get_potential_energy()
    atoms.calc = SparseACECalculator(model, close_pairs="warn")
    with pytest.warns(RuntimeWarning, match=r"atoms 3 \(O\) and 5 \(H\) are 0.3 Å apart"):
        energy = atoms.get_potential_energy()
    assert energy == model.evaluate(atoms)[0]
    atoms.calc = SparseACECalculator(model, min_distance=0.2)
    assert atoms.get_potential_energy() == energy


def test_empty_structure_has_zero_energy_and_no_forces(model):
    for atoms in (Atoms(), Atoms(cell=[5, 5, 5], pbc=True)):
        atoms.calc = SparseACECalculator(model)
        assert atoms.get_potential_energy() == 0.0
        assert atoms.get_forces().shape == (0, 3) and atoms.get_potential_energies().shape == (0,)
    np.testing.assert_array_equal(atoms.get_stress(), np.zeros(6))


@pytest.mark.parametrize("bad", [float("nan"), -0.5, float("inf"), "0.5"])
def test_calculator_refuses_an_impossible_min_distance(model, bad):
    with pytest.raises(ValueError, match="min_distance must be a finite non-negative number"):
        SparseACECalculator(model, min_distance=bad)
