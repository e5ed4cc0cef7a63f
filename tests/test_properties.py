"""Silicon properties through ASE against the same properties computed directly in LAMMPS,
for Stillinger-Weber silicon (small cells in CI)."""

import numpy as np
import pytest
from ase.io import write

from sparseace._lammps import import_lammps, lammps_potentials_dir, new_lammps
from sparseace.properties import defect_cells, silicon_properties, surface_slab, _settings

SETTINGS = {"supercell": 2, "slab_layers": 4, "fmax": 1e-4}
PAIR = ["pair_style sw", f"pair_coeff * * {lammps_potentials_dir()}/Si.sw Si"]


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
