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

Protocol ``study_notebook`` (the study's own, tinatorabi/ACEselect @ 61fc68a,
``Silicon/test.ipynb``; ``silicon_properties(..., protocol="study_notebook")``):
- the lattice constant is fixed at a = 5.44 Å (the notebook never relaxes it);
- C11, C12, C44 from one clamped-ion fit (matscipy ``fit_elastic_constants``, no optimizer,
  strain 1e-3, 5 steps) of the cubic cell at a; B = (C11 + 2 C12)/3 of that fit; the E(V) bulk
  modulus as above (the notebook has none);
- defects in the 3 x 3 x 3 cell of ``ase.lattice.cubic.Diamond`` at a (216 atoms), E_bulk of
  that cell unrelaxed: interstitials from the notebook's starts (tetrahedral (0.001, 0.002,
  a/2 + 0.003); dumbbell: an atom at (-0.5, 0.5, a/2 + 1) and atom 149 moved by (-1, 1, -0.5);
  hexagonal: the mean of atoms 83, 101, 105, 106, 108, 176), not rattled, relaxed by BFGS to
  fmax 0.05 eV/Å (the notebook's rotation of the hexagonal cell is rigid and its
  ``move_mask_3`` array is read by no ASE optimizer: both are left out); vacancy: the atom
  nearest the centre of the 3 x 3 x 3 ``ase.build.bulk`` cell removed, rattled 0.01 Å (ASE's
  default seed), relaxed by ``PreconLBFGS`` to 1e-6 eV/Å, E_f = E - N_vac E_bulk/atom;
- surfaces: 8 repeats of the oriented diamond cell along the normal (x), vacuum by doubling
  the cell along x, bulk and slab relaxed by ``PreconLBFGS`` to 1e-6 eV/Å, gamma =
  (E_slab - E_bulk) / (2 A).

A model may collapse a defect or a surface (its relaxation brings two atoms closer than the
calculator's floor, ``ClosePairError``): given a ``failures`` dict, that property is None and
the reason is recorded there; without one, the error propagates.
"""

from __future__ import annotations

import logging

import numpy as np
from ase.build import bulk, surface
from ase.optimize import BFGS
from ase.units import GPa
from scipy.optimize import minimize_scalar

from .calculator import ClosePairError

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


PROTOCOLS = ("testing_framework", "study_notebook")
#: fixed by the study's notebook (Silicon/test.ipynb, cells 6, 9, 13, 14, 17)
NOTEBOOK = {"a": 5.44, "interstitial_fmax": 0.05, "vacancy_fmax": 1e-6, "vacancy_rattle": 0.01,
            "surface_fmax": 1e-6}
#: settings the study_notebook protocol takes (supercell only as 3: its starts name atoms of it)
NOTEBOOK_SETTINGS = ("supercell", "slab_layers", "max_steps", "strain", "strain_steps")


def _settings(settings):
    unknown = set(settings or {}) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown property settings {sorted(unknown)}")
    return {**DEFAULTS, **(settings or {})}


def _energy(atoms, calc):
    atoms.calc = calc
    return atoms.get_potential_energy()


def _relax(atoms, calc, s, fmax=None, optimizer=BFGS):
    """Relax the positions (cell fixed) to ``fmax`` (default: the settings') in at most
    max_steps steps; returns the energy (eV)."""
    fmax = s["fmax"] if fmax is None else fmax
    atoms.calc = calc
    opt = optimizer(atoms, logfile=None)
    converged = opt.run(fmax=fmax, steps=s["max_steps"])
    if not converged:
        log.warning("relaxation of %s did not reach fmax %g", atoms.get_chemical_formula(),
                    fmax)
    return atoms.get_potential_energy()


def _record(out: dict, name: str, compute, failures: dict | None) -> None:
    """out[name] = compute(), or None with the reason in failures[name] when the model collapses
    the structure and a ``failures`` dict is given."""
    try:
        out[name] = compute()
    except ClosePairError as err:
        if failures is None:
            raise
        log.warning("%s not computed: %s", name, err)
        out[name], failures[name] = None, str(err)


def lattice_constant(calc, settings=None) -> tuple[float, float]:
    """(a0 Å, energy per atom eV) minimising the diamond cell's energy."""
    s = _settings(settings)
    res = minimize_scalar(lambda a: _energy(bulk("Si", "diamond", a), calc) / 2,
                          bracket=(s["a_guess"] * 0.97, s["a_guess"] * 1.03),
                          options={"xtol": 1e-10})
    return float(res.x), float(res.fun)


def elastic_constants(calc, a0: float, settings=None, relaxed_ion: bool = True) -> dict:
    """C11, C12, C44 (relaxed-ion), C44 unrelaxed and B in GPa; with ``relaxed_ion=False``
    only the clamped-ion fit: C11, C12, C44_unrelaxed and B of it."""
    from matscipy.elasticity import fit_elastic_constants

    s = _settings(settings)
    out = {}
    fits = (("relaxed", BFGS), ("unrelaxed", None)) if relaxed_ion else (("unrelaxed", None),)
    for label, optimizer in fits:
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
            if not relaxed_ion:
                out.update(C11=float(C[0, 0]), C12=float(C[0, 1]),
                           bulk_modulus=float((C[0, 0] + 2 * C[0, 1]) / 3))
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


def point_defects(calc, a0: float, settings=None, failures: dict | None = None) -> dict:
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
        _record(out, name, lambda: float(_relax(atoms, calc, s) - e_bulk * len(atoms) / N),
                failures)
        if name == "interstitial_hexagonal" and out[name] is not None:
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


def surface_energies(calc, a0: float, e_atom: float, settings=None,
                     failures: dict | None = None) -> dict:
    """Relaxed, unreconstructed surface energies (J/m^2) of (111), (110), (100)."""
    s = _settings(settings)
    out = {}
    for name, miller in (("surface_111", (1, 1, 1)), ("surface_110", (1, 1, 0)),
                         ("surface_100", (1, 0, 0))):
        slab = surface_slab(a0, miller, s)
        area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
        _record(out, name, lambda: float((_relax(slab, calc, s) - len(slab) * e_atom)
                                          / (2 * area) * J_PER_M2), failures)
    return out


def _notebook_settings(settings) -> dict:
    unused = sorted(set(settings or {}) - set(NOTEBOOK_SETTINGS))
    if unused:
        raise ValueError(f"property settings {unused} are not used by protocol study_notebook "
                         f"(it fixes a = {NOTEBOOK['a']} Å and the notebook's tolerances); it "
                         f"takes {list(NOTEBOOK_SETTINGS)}")
    s = _settings(settings)
    if s["supercell"] != 3:
        raise ValueError(f"protocol study_notebook needs supercell 3 (its dumbbell and hexagonal "
                         f"starts name atoms of the 3 x 3 x 3 cell), got {s['supercell']}")
    return s


def notebook_defect_cells(a: float) -> dict:
    """The notebook's start geometries: bulk and interstitials in the 3 x 3 x 3 cell of
    ``ase.lattice.cubic.Diamond`` (whose atom order its indices use), the vacancy in that of
    ``ase.build.bulk`` with the atom nearest the centre removed (not yet rattled)."""
    from ase.lattice.cubic import Diamond

    cell = Diamond(symbol="Si", latticeconstant=a) * (3, 3, 3)
    cells = {"bulk": cell}
    tet = cell.copy()
    tet.append("Si")
    tet.positions[-1] = (0.001, 0.002, a / 2 + 0.003)
    cells["interstitial_tetrahedral"] = tet
    hexa = cell.copy()
    hexa.append("Si")
    hexa.positions[-1] = cell.positions[[83, 101, 105, 106, 108, 176]].mean(axis=0)
    cells["interstitial_hexagonal"] = hexa
    db = cell.copy()
    db.append("Si")
    db.positions[-1] = (-0.5, 0.5, a / 2 + 1.0)
    db.positions[149] += (-1.0, 1.0, -0.5)
    cells["interstitial_dumbbell"] = db
    vac = bulk("Si", "diamond", a, cubic=True) * (3, 3, 3)
    del vac[int(((vac.positions - np.diag(vac.cell) / 2) ** 2).sum(axis=1).argmin())]
    cells["vacancy"] = vac
    return cells


def notebook_surface_cells(a: float, miller: str, repeats: int):
    """(bulk, slab) of the notebook's ``find_surface_energy``: ``repeats`` oriented diamond
    cells along the normal x (the (111) cell shifted as there), the slab's cell doubled along x."""
    from ase.lattice.cubic import Diamond

    directions = {"100": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "110": [[1, 1, 0], [-1, 1, 0], [0, 0, 1]],
                  "111": [[1, 1, 1], [-2, 1, 1], [0, -1, 1]]}[miller]
    cell = Diamond(directions=directions, size=(repeats, 1, 1), symbol="Si", latticeconstant=a,
                   pbc=True)
    if miller == "111":
        sx, sy, sz = cell.cell.diagonal()
        cell.translate([sx / (6 * repeats), sy / 4, sz / 12])
        cell.set_scaled_positions(cell.get_scaled_positions() % 1.0)
    slab = cell.copy()
    slab.set_cell(np.diag([2, 1, 1]) @ cell.cell)
    return cell, slab


def notebook_properties(calc, settings=None, failures: dict | None = None) -> dict:
    """All properties (eV, GPa, J/m^2, Å) by the study's notebook protocol (module docstring)."""
    from ase.optimize.precon import PreconLBFGS

    s = _notebook_settings(settings)
    a = NOTEBOOK["a"]
    values = {"a0": a, "energy_per_atom": _energy(bulk("Si", "diamond", a), calc) / 2}
    values.update(elastic_constants(calc, a, s, relaxed_ion=False))
    values["bulk_modulus_eos"] = bulk_modulus_eos(calc, a, s)
    cells = notebook_defect_cells(a)
    e_bulk = _energy(cells["bulk"], calc)
    N = len(cells["bulk"])
    for name in ("interstitial_tetrahedral", "interstitial_hexagonal", "interstitial_dumbbell"):
        atoms = cells[name]
        _record(values, name, lambda: float(_relax(atoms, calc, s, NOTEBOOK["interstitial_fmax"])
                                            - e_bulk * (N + 1) / N), failures)
    vac = cells["vacancy"]
    vac.rattle(NOTEBOOK["vacancy_rattle"])
    _record(values, "vacancy", lambda: float(
        _relax(vac, calc, s, NOTEBOOK["vacancy_fmax"], PreconLBFGS)
        - values["energy_per_atom"] * len(vac)), failures)
    for miller in ("111", "110", "100"):
        cell, slab = notebook_surface_cells(a, miller, s["slab_layers"])

        def gamma():
            e_cell = _relax(cell, calc, s, NOTEBOOK["surface_fmax"], PreconLBFGS)
            e_slab = _relax(slab, calc, s, NOTEBOOK["surface_fmax"],
                            lambda atoms, logfile: PreconLBFGS(atoms, use_armijo=False,
                                                               logfile=logfile))
            area = np.linalg.norm(np.cross(slab.cell[1], slab.cell[2]))
            return float((e_slab - e_cell) / (2 * area) * J_PER_M2)

        _record(values, f"surface_{miller}", gamma, failures)
    return values


def silicon_properties(calc, settings=None, failures: dict | None = None,
                       protocol: str = "testing_framework") -> dict:
    """All properties (eV, GPa, J/m^2, Å) with the keys of literature_values.yaml; defects and
    surfaces the model collapses are None with the reason in ``failures`` when it is given.
    ``protocol``: "testing_framework" (default) or "study_notebook" (module docstring)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown property protocol {protocol!r} (known: {list(PROTOCOLS)})")
    if protocol == "study_notebook":
        return notebook_properties(calc, settings, failures)
    a0, e_atom = lattice_constant(calc, settings)
    log.info("a0 = %.5f Å", a0)
    values = {"a0": a0, "energy_per_atom": e_atom}
    values.update(elastic_constants(calc, a0, settings))
    values["bulk_modulus_eos"] = bulk_modulus_eos(calc, a0, settings)
    values.update(point_defects(calc, a0, settings, failures))
    values.update(surface_energies(calc, a0, e_atom, settings, failures))
    return values
