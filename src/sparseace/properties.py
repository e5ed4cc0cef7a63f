"""Properties of diamond silicon for any ASE calculator (the study's out-of-distribution tests).

Conventions (silicon-testing-framework, GAP-Si 2018):
- lattice constant a0 (Å): minimum of the energy per atom of the diamond cell;
- elastic constants C11, C12, C44 (GPa) from stress-strain fits (matscipy
  ``fit_elastic_constants``, cubic symmetry) with internal relaxation ("relaxed-ion") and C44
  also without it ("clamped-ion", ``C44_unrelaxed``); bulk modulus B = (C11 + 2 C12) / 3 (the
  framework's ``diamond_bulk_modulus`` is exactly this) and, separately, ``bulk_modulus_eos``
  from a Birch-Murnaghan fit (ASE ``EquationOfState``) to the energy of the diamond cell at 11
  volumes from 0.90 to 1.10 V0, the range of the framework's own E(V) points;
- point defects in an n x n x n cubic supercell (216 atoms for n = 3), positions relaxed at fixed
  cell: E_f(vacancy) = E - E_bulk (N - 1)/N, E_f(interstitial) = E - E_bulk (N + 1)/N.
  Defect starts are rattled (seeded, 0.02 Å) so that relaxations can leave symmetric saddles,
  except the hexagonal interstitial.  Start geometries: tetrahedral site (1/2, 1/2, 1/2) a, hexagonal site (5/8, 5/8, 5/8) a (the
  midpoint of two tetrahedral sites; it is kept by the symmetry of the start, as the forces on
  the interstitial vanish by symmetry; a potential for which it is unstable may still relax it
  away, which the result's ``hexagonal_displacement`` reports), <110> split dumbbell replacing
  the atom at the origin by two atoms at -+0.25 a (1, 1, 0)/sqrt(2);
- unreconstructed (111), (110), (100) surfaces: slabs from ASE's ``surface`` with vacuum
  (singly bonded atoms removed: the (111) surface keeps one dangling bond per atom), atoms
  relaxed, gamma = (E_slab - N E_bulk/atom) / (2 A), J/m^2.
"""

from __future__ import annotations

import logging

import numpy as np
from ase.build import bulk, surface
from ase.optimize import BFGS
from ase.units import GPa
from scipy.optimize import minimize_scalar

log = logging.getLogger(__name__)

J_PER_M2 = 16.021766208  # 1 eV/Å^2 in J/m^2
DEFAULTS = {
    "a_guess": 5.43,           # Å
    "supercell": 3,            # n x n x n cubic cells for defects (216 atoms)
    "fmax": 1e-3,              # eV/Å, relaxation tolerance
    "max_steps": 2000,
    "strain": 1e-3,            # largest strain of the elastic fits
    "strain_steps": 5,
    "slab_layers": 8,          # cubic-cell layers along the surface normal
    "vacuum": 10.0,            # Å on each side
    "rattle": 0.02,            # Å, seeded displacement breaking the symmetry of defect starts
    "seed": 1,
}


def _settings(settings):
    unknown = set(settings or {}) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown property settings {sorted(unknown)}")
    return {**DEFAULTS, **(settings or {})}


def _energy(atoms, calc):
    atoms.calc = calc
    return atoms.get_potential_energy()


def _relax(atoms, calc, s):
    atoms.calc = calc
    opt = BFGS(atoms, logfile=None)
    converged = opt.run(fmax=s["fmax"], steps=s["max_steps"])
    if not converged:
        log.warning("relaxation of %s did not reach fmax %g", atoms.get_chemical_formula(),
                    s["fmax"])
    return atoms.get_potential_energy()


def lattice_constant(calc, settings=None) -> tuple[float, float]:
    """(a0 Å, energy per atom eV) minimising the diamond cell's energy."""
    s = _settings(settings)
    res = minimize_scalar(lambda a: _energy(bulk("Si", "diamond", a), calc) / 2,
                          bracket=(s["a_guess"] * 0.97, s["a_guess"] * 1.03),
                          options={"xtol": 1e-10})
    return float(res.x), float(res.fun)


def elastic_constants(calc, a0: float, settings=None) -> dict:
    """C11, C12, C44 (relaxed-ion), C44 unrelaxed and B in GPa."""
    from matscipy.elasticity import fit_elastic_constants

    s = _settings(settings)
    out = {}
    for label, optimizer in (("relaxed", BFGS), ("unrelaxed", None)):
        atoms = bulk("Si", "diamond", a0, cubic=True)
        atoms.calc = calc
        kwargs = {"fmax": s["fmax"]} if optimizer else {}
        C, _ = fit_elastic_constants(atoms, symmetry="cubic", N_steps=s["strain_steps"],
                                     delta=s["strain"], optimizer=optimizer, verbose=False,
                                     **kwargs)
        C = C / GPa
        if label == "relaxed":
            out.update(C11=float(C[0, 0]), C12=float(C[0, 1]), C44=float(C[3, 3]),
                       bulk_modulus=float((C[0, 0] + 2 * C[0, 1]) / 3))
        else:
            out["C44_unrelaxed"] = float(C[3, 3])
    return out


def bulk_modulus_eos(calc, a0: float, settings=None) -> float:
    """Bulk modulus (GPa) from a Birch-Murnaghan fit to E(V) of the diamond cell around a0."""
    from ase.eos import EquationOfState

    volumes, energies = [], []
    for v in np.linspace(0.90, 1.10, 11):
        atoms = bulk("Si", "diamond", a0 * v ** (1 / 3))
        volumes.append(atoms.get_volume())
        energies.append(_energy(atoms, calc))
    return float(EquationOfState(volumes, energies, eos="birchmurnaghan").fit()[2] / GPa)


def defect_cells(a0: float, n: int) -> dict:
    """Start geometries of the bulk supercell and the four point defects."""
    cell = bulk("Si", "diamond", a0, cubic=True) * (n, n, n)
    cells = {"bulk": cell}
    vac = cell.copy()
    del vac[0]
    cells["vacancy"] = vac
    for name, frac in (("interstitial_tetrahedral", 0.5), ("interstitial_hexagonal", 0.625)):
        c = cell.copy()
        c.append("Si")
        c.positions[-1] = np.full(3, frac * a0)
        cells[name] = c
    db = cell.copy()
    offset = 0.25 * a0 * np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    db.positions[0] = -offset
    db.append("Si")
    db.positions[-1] = offset
    db.wrap()
    cells["interstitial_dumbbell"] = db
    return cells


def point_defects(calc, a0: float, settings=None) -> dict:
    """Relaxed formation energies (eV) of the vacancy and three interstitials."""
    s = _settings(settings)
    cells = defect_cells(a0, s["supercell"])
    e_bulk = _energy(cells["bulk"], calc)
    N = len(cells["bulk"])
    out = {}
    for name, atoms in cells.items():
        if name == "bulk":
            continue
        start = atoms.positions[-1].copy()
        if name != "interstitial_hexagonal":  # the hexagonal site is kept by its symmetry
            atoms.rattle(s["rattle"], seed=s["seed"])
        energy = _relax(atoms, calc, s)
        out[name] = float(energy - e_bulk * len(atoms) / N)
        if name == "interstitial_hexagonal":
            out["hexagonal_displacement"] = float(np.linalg.norm(atoms.positions[-1] - start))
    return out


def surface_slab(a0: float, miller, s):
    """Slab with vacuum along z; atoms left with a single bond (three dangling bonds, as a cut
    through a (111) bilayer leaves them) are removed, so every surface atom keeps the fewest
    dangling bonds of its orientation."""
    from ase.neighborlist import neighbor_list

    slab = surface(bulk("Si", "diamond", a0, cubic=True), miller, s["slab_layers"],
                   vacuum=s["vacuum"])
    slab.pbc = True
    bonds = np.bincount(neighbor_list("i", slab, 1.1 * a0 * np.sqrt(3) / 4), minlength=len(slab))
    del slab[bonds < 2]
    return slab


def surface_energies(calc, a0: float, e_atom: float, settings=None) -> dict:
    """Relaxed, unreconstructed surface energies (J/m^2) of (111), (110), (100)."""
    s = _settings(settings)
    out = {}
    for name, miller in (("surface_111", (1, 1, 1)), ("surface_110", (1, 1, 0)),
                         ("surface_100", (1, 0, 0))):
        slab = surface_slab(a0, miller, s)
        area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
        energy = _relax(slab, calc, s)
        out[name] = float((energy - len(slab) * e_atom) / (2 * area) * J_PER_M2)
    return out


def silicon_properties(calc, settings=None) -> dict:
    """All properties (eV, GPa, J/m^2, Å) with the keys of literature_values.yaml."""
    a0, e_atom = lattice_constant(calc, settings)
    log.info("a0 = %.5f Å", a0)
    values = {"a0": a0, "energy_per_atom": e_atom}
    values.update(elastic_constants(calc, a0, settings))
    values["bulk_modulus_eos"] = bulk_modulus_eos(calc, a0, settings)
    values.update(point_defects(calc, a0, settings))
    values.update(surface_energies(calc, a0, e_atom, settings))
    return values
