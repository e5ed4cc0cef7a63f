"""Model files, the ASE calculator and error tables."""

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from sparseace.basis import ACEBasis
from sparseace.calculator import SparseACECalculator
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
    ]:
        broken = json.loads(json.dumps(data))
        mutate(broken)
        path = tmp_path / "m.json"
        path.write_text(json.dumps(broken))
        with pytest.raises(ValueError, match=message):
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
