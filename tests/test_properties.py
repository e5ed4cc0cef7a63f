"""Silicon properties through ASE against the same properties computed directly in LAMMPS,
for Stillinger-Weber silicon (small cells in CI)."""

import numpy as np
import pytest
from ase.io import write
from threadpoolctl import threadpool_limits

from sparseace._lammps import import_lammps, lammps_potentials_dir, lammps_quote, new_lammps
from sparseace.properties import defect_cells, silicon_properties, surface_slab, _settings

SETTINGS = {"supercell": 2, "slab_layers": 4, "fmax": 1e-4}
PAIR = ["pair_style sw", f"pair_coeff * * {lammps_quote(lammps_potentials_dir() / 'Si.sw')} Si"]


@pytest.fixture(scope="module")
def values():
    import_lammps()
    from ase.calculators.lammpslib import LAMMPSlib

    calc = LAMMPSlib(lmpcmds=PAIR, atom_types={"Si": 1}, log_file=None)
    return silicon_properties(calc, SETTINGS)


def lammps(commands):
    lmp = new_lammps()
    lmp.commands_string("\n".join(["units metal", "atom_style atomic", *commands]))
    return lmp


def bulk_lammps(a, extra=()):
    return lammps([f"lattice diamond {a}", "region box block 0 1 0 1 0 1",
                   "create_box 1 box", "create_atoms 1 box", "mass 1 28.0855", *PAIR,
                   "thermo_style custom step pe lx pxx pyy pzz pxy", *extra, "run 0"])


def lammps_relaxed_energy(atoms, tmp_path, name):
    path = tmp_path / f"{name}.data"
    write(path, atoms, format="lammps-data", masses=True)
    lmp = lammps([f"read_data {path}", *PAIR, "minimize 0 1e-6 10000 100000"])
    return lmp.get_thermo("pe")


def test_lattice_and_elastic_constants_match_lammps(values):
    lmp = bulk_lammps(5.43, ["fix r all box/relax iso 0.0", "minimize 0 1e-12 10000 100000"])
    a0 = lmp.get_thermo("lx")
    assert values["a0"] == pytest.approx(a0, abs=1e-4)
    d = 1e-3

    def stress(commands, relax):  # GPa, tensile positive (LAMMPS pressure is in bar)
        lmp = bulk_lammps(a0, ["change_box all triclinic", *commands,
                               *(["minimize 0 1e-10 10000 100000"] if relax else []), "run 0"])
        return {k: -lmp.get_thermo(k) * 1e-4 for k in ("pxx", "pyy", "pxy")}

    plus = stress([f"change_box all x scale {1 + d} remap"], False)
    minus = stress([f"change_box all x scale {1 - d} remap"], False)
    assert values["C11"] == pytest.approx((plus["pxx"] - minus["pxx"]) / (2 * d), abs=1.0)
    assert values["C12"] == pytest.approx((plus["pyy"] - minus["pyy"]) / (2 * d), abs=1.0)
    for key, relax in (("C44", True), ("C44_unrelaxed", False)):
        sp = stress([f"change_box all xy final {d * a0} remap units box"], relax)
        sm = stress([f"change_box all xy final {-d * a0} remap units box"], relax)
        assert values[key] == pytest.approx((sp["pxy"] - sm["pxy"]) / (2 * d), abs=1.0), key
    assert values["bulk_modulus"] == pytest.approx((values["C11"] + 2 * values["C12"]) / 3)
    # a cubic crystal at equilibrium: B from E(V) = (C11 + 2 C12) / 3 (SW: 101.4 GPa)
    assert values["bulk_modulus_eos"] == pytest.approx(values["bulk_modulus"], abs=1.5)
    # Stillinger-Weber anchors (Stillinger & Weber 1985; Cowley 1988): a0 5.431 Å, C11 151.4,
    # C12 76.4, C44 56.4 GPa
    assert a0 == pytest.approx(5.431, abs=1e-3)
    assert values["C44"] == pytest.approx(56.4, abs=1.5)


def test_defects_and_surfaces_match_lammps_minimisation(values, tmp_path):
    s = _settings(SETTINGS)
    a0 = values["a0"]
    cells = defect_cells(a0, s["supercell"])
    e_bulk = lammps_relaxed_energy(cells["bulk"], tmp_path, "bulk")
    N = len(cells["bulk"])
    for name, atoms in cells.items():
        if name == "bulk":
            continue
        if name != "interstitial_hexagonal":
            atoms.rattle(s["rattle"], seed=s["seed"])
        e = lammps_relaxed_energy(atoms, tmp_path, name)
        assert values[name] == pytest.approx(e - e_bulk * len(atoms) / N, abs=2e-3), name
    e_atom = values["energy_per_atom"]
    for name, miller in (("surface_111", (1, 1, 1)), ("surface_110", (1, 1, 0)),
                         ("surface_100", (1, 0, 0))):
        slab = surface_slab(a0, miller, s)
        area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
        e = lammps_relaxed_energy(slab, tmp_path, name)
        assert values[name] == pytest.approx((e - len(slab) * e_atom) / (2 * area) * 16.0217662,
                                             abs=2e-3), name
    # SW (111) unreconstructed: one broken bond of 2.1683 eV per 12.77 Å^2 -> 1.36 J/m^2
    assert values["surface_111"] == pytest.approx(1.36, abs=0.05)


def test_unknown_settings_rejected():
    with pytest.raises(ValueError):
        _settings({"supercel": 3})


def test_a_collapsed_defect_is_recorded_not_fatal():
    """A model whose relaxation of one defect brings atoms together (ClosePairError) leaves that
    property None with the reason, computes the others, and raises without a failures dict."""
    from ase.calculators.calculator import Calculator

    from sparseace.calculator import ClosePairError
    from sparseace.properties import point_defects

    class CollapsesVacancy(Calculator):
        implemented_properties = ["energy", "forces"]

        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            super().calculate(atoms, properties, system_changes)
            if len(self.atoms) == 63:  # the vacancy of the 2x2x2 cubic cell (64 atoms)
                raise ClosePairError("atoms 3 (Si) and 7 (Si) are 0.1 Å apart")
            self.results = {"energy": -4.0 * len(self.atoms),
                            "forces": np.zeros((len(self.atoms), 3))}

    failures = {}
    out = point_defects(CollapsesVacancy(), 5.43, SETTINGS, failures)
    assert out["vacancy"] is None and "0.1 Å apart" in failures["vacancy"]
    assert set(failures) == {"vacancy"}
    assert out["interstitial_tetrahedral"] == pytest.approx(0.0, abs=1e-12)  # E per atom alike
    with pytest.raises(ClosePairError):
        point_defects(CollapsesVacancy(), 5.43, SETTINGS)


def test_notebook_start_geometries():
    """The study notebook's cells (Silicon/test.ipynb): 3 x 3 x 3 at the fixed a = 5.44 Å, its
    interstitial starts (the hexagonal one at the centre of a six-ring), slabs of repeats."""
    from sparseace.properties import NOTEBOOK, notebook_defect_cells, notebook_surface_cells

    a = NOTEBOOK["a"]
    cells = notebook_defect_cells(a)
    assert np.allclose(cells["bulk"].cell, np.diag([3 * a] * 3)) and len(cells["bulk"]) == 216
    assert {k: len(v) for k, v in cells.items()} == {
        "bulk": 216, "interstitial_tetrahedral": 217, "interstitial_hexagonal": 217,
        "interstitial_dumbbell": 217, "vacancy": 215}
    assert np.allclose(cells["interstitial_tetrahedral"].positions[-1], (0.001, 0.002, 2.723))
    hexa = cells["interstitial_hexagonal"]
    d = hexa.get_distances(216, range(216), mic=True)
    assert np.allclose(np.sort(d)[:6], np.sort(d)[0]) and np.sort(d)[6] > np.sort(d)[0] + 0.1
    moved = cells["interstitial_dumbbell"].positions[149] - cells["bulk"].positions[149]
    assert np.allclose(moved, (-1.0, 1.0, -0.5))
    for miller, atoms in (("100", 8), ("110", 4), ("111", 12)):  # per oriented diamond cell
        cell, slab = notebook_surface_cells(a, miller, 8)
        assert len(cell) == len(slab) == 8 * atoms
        assert np.allclose(slab.cell[0], 2 * cell.cell[0]) and np.allclose(slab.cell[1:], cell.cell[1:])


def test_notebook_protocol_settings_are_checked():
    from sparseace.properties import silicon_properties

    with pytest.raises(ValueError, match=r"property settings \['fmax'\] are not used by protocol "
                                         "study_notebook"):
        silicon_properties(None, {"fmax": 1e-3}, protocol="study_notebook")
    with pytest.raises(ValueError, match="protocol study_notebook needs supercell 3"):
        silicon_properties(None, {"supercell": 2}, protocol="study_notebook")
    with pytest.raises(ValueError, match="unknown property protocol 'mine'"):
        silicon_properties(None, protocol="mine")


def test_notebook_protocol_on_stillinger_weber():
    """The notebook protocol applied: a fixed at 5.44 Å, only clamped-ion elastic constants
    (Stillinger-Weber's C44 drops by tens of GPa when the internal coordinates relax), every
    defect and surface computed."""
    import_lammps()
    from ase.calculators.lammpslib import LAMMPSlib

    from sparseace.properties import elastic_constants

    calc = LAMMPSlib(lmpcmds=PAIR, atom_types={"Si": 1}, log_file=None)
    with threadpool_limits(1):  # BFGS on 217 atoms: 40x slower with two BLAS threads on a busy machine
        values = silicon_properties(calc, {"slab_layers": 2}, protocol="study_notebook")
    assert values["a0"] == 5.44 and "C44" not in values
    both = elastic_constants(calc, 5.44, {})
    assert values["C44_unrelaxed"] == pytest.approx(both["C44_unrelaxed"], rel=1e-9)
    assert values["C11"] == pytest.approx(both["C11"], rel=1e-3)
    assert values["C44_unrelaxed"] - both["C44"] > 20
    keys = ["vacancy", "interstitial_tetrahedral", "interstitial_hexagonal",
            "interstitial_dumbbell", "surface_111", "surface_110", "surface_100"]
    assert all(np.isfinite(values[k]) and values[k] > 0 for k in keys), values
