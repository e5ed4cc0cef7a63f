"""Molecular-dynamics stability runs in LAMMPS with forces from a fitted model.

LAMMPS integrates; the forces come from one of two engines:

* ``native`` (default): ``pair_style sparseace``, this project's C++ pair style compiled as a
  LAMMPS plugin (``sparseace.lammps_plugin``), reading the model exported from an
  ``ACEPotential``.  This is the engine of the study's 1 ns runs.
* ``external``: ``fix external`` (pf/callback) calls ``model.evaluate(atoms) -> (energy eV,
  forces (N, 3) eV/Å, virial (3, 3) eV, ...)`` on the positions LAMMPS passes; any object with
  that method can drive a run.

Protocol (conventions §5): NVT with a Langevin thermostat (fix nve + fix langevin, damping
``damping_fs``), chosen because it thermalises any start quickly and needs no chain
parameters; velocities and thermostat noise are seeded from the settings (LAMMPS' spatial
atom sorting is off, so the noise reaches the same atoms in every run).  The run proceeds in
chunks; between chunks it checks finite energy and forces, the shortest interatomic distance
against a floor and the temperature against bounds, on the positions and forces LAMMPS holds.
A run is stable when all chunks pass; an error LAMMPS raises during a chunk (lost atoms, say)
makes it unstable with LAMMPS' message as the reason.  An exception or a non-finite value
inside the ``external`` callback (which LAMMPS would swallow) is recorded, halts LAMMPS through
``fix halt`` on an internal variable, and is raised as ``ForceEvaluationError`` naming the step.
"""

from __future__ import annotations

import logging
import math
import tempfile
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from ase.geometry import cell_to_cellpar, cellpar_to_cell
from ase.io import write

from ._lammps import new_lammps
from .model import ACEPotential
from .provenance import atomic_path

log = logging.getLogger(__name__)

DEFAULTS = {
    "temperature": 300.0,      # K
    "length_ps": 1.0,
    "timestep_fs": 5.0,
    "chunk_steps": 500,
    "damping_fs": 100.0,
    "min_distance": 1.0,       # Å: closer pairs make the run unstable
    "max_temperature_factor": 3.0,  # unstable above this multiple of the target temperature
    "thermo_every": 50,
    "seed": 1,
    "engine": "native",        # "native": pair_style sparseace; "external": fix external
}
ENGINES = ("native", "external")


class ForceEvaluationError(RuntimeError):
    """The model failed (exception or non-finite result) while LAMMPS was running."""


@dataclass
class Verdict:
    stable: bool
    time_ps: float
    steps: int
    reason: str = ""
    thermo: list = field(default_factory=list)


def start_configuration(frames) -> Atoms:
    """The start structure taken from a test set: the periodic configuration with the most
    atoms (first such in file order) — the largest cell has the smallest finite-size effects
    and samples the most environments."""
    periodic = [a for a in frames if all(a.pbc) and a.cell.rank == 3]
    if not periodic:
        raise ValueError("the test set has no periodic configuration to start MD from")
    return max(periodic, key=len).copy()


def _cell(lmp) -> np.ndarray:
    """LAMMPS' (lower-triangular) simulation cell as ASE cell rows (Å)."""
    lo, hi, xy, yz, xz, _, _ = lmp.extract_box()
    lx, ly, lz = np.subtract(hi, lo)
    return np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])


def _snapshot(lmp, numbers_by_type) -> tuple[Atoms, np.ndarray]:
    """Atoms (ordered by LAMMPS id) and the total force on each (eV/Å) of a one-process run."""
    n = lmp.get_natoms()
    order = np.argsort(lmp.numpy.extract_atom("id")[:n])
    types = lmp.numpy.extract_atom("type")[:n][order]
    atoms = Atoms(numbers=numbers_by_type[types], positions=lmp.numpy.extract_atom("x")[:n][order],
                  cell=_cell(lmp), pbc=True)
    return atoms, np.array(lmp.numpy.extract_atom("f")[:n][order])


class _Callback:
    """fix external callback: positions from LAMMPS -> model -> forces, energy, virial."""

    def __init__(self, lmp, model, numbers_by_type):
        self.lmp, self.model, self.numbers_by_type = lmp, model, numbers_by_type
        self.error: str | None = None

    def __call__(self, caller, step, nlocal, tag, x, f):
        if self.error is not None:
            f[:] = 0.0
            return
        try:
            types = self.lmp.numpy.extract_atom("type")[:nlocal]
            atoms = Atoms(numbers=self.numbers_by_type[types], positions=np.array(x[:nlocal]),
                          cell=_cell(self.lmp), pbc=True)
            energy, forces, virial = self.model.evaluate(atoms)[:3]
            if not (np.isfinite(energy) and np.all(np.isfinite(forces))
                    and np.all(np.isfinite(virial))):
                raise FloatingPointError("non-finite energy, forces or virial")
            f[:nlocal] = forces
            self.lmp.fix_external_set_energy_global("ext", float(energy))
            self.lmp.fix_external_set_virial_global(
                "ext", [virial[0, 0], virial[1, 1], virial[2, 2], virial[0, 1], virial[0, 2],
                        virial[1, 2]])
        except Exception as err:  # LAMMPS would swallow it: record, halt, raise after the run
            self.error = f"step {step}: {type(err).__name__}: {err}"
            f[:] = 0.0
            self.lmp.set_internal_variable("sparseace_failed", 1.0)


def _setup(lmp, model, atoms, species, numbers_by_type, s, workdir) -> _Callback | None:
    """Cell, atoms, forces (per engine), seeded velocities and thermostat; the fix external
    callback when the engine is ``external``."""
    atoms = atoms.copy()  # rotate rigidly to LAMMPS' lower-triangular cell
    atoms.set_cell(cellpar_to_cell(cell_to_cellpar(atoms.cell)), scale_atoms=True)
    atoms.wrap()
    cell = atoms.cell.array
    lx, ly, lz = cell[0, 0], cell[1, 1], cell[2, 2]
    xy, xz, yz = cell[1, 0], cell[2, 0], cell[2, 1]
    lmp.commands_string(f"""
units metal
atom_style atomic
atom_modify map yes sort 0 0.0
boundary p p p
region box prism 0 {lx} 0 {ly} 0 {lz} {xy} {xz} {yz} units box
create_box {len(species)} box
""")
    types = np.array([species.index(e) + 1 for e in atoms.get_chemical_symbols()])
    lmp.create_atoms(len(atoms), None, types.tolist(), atoms.positions.ravel().tolist())
    for t, e in enumerate(species, start=1):
        lmp.command(f"mass {t} {atomic_masses[atomic_numbers[e]]}")
    if s["engine"] == "native":
        from .lammps_plugin import build_plugin, export_model

        path = export_model(model, Path(workdir) / "model.sace")
        lmp.commands_string(f"""
plugin load {build_plugin()}
pair_style sparseace
pair_coeff * * {path} {' '.join(species)}
""")
    T, seed = s["temperature"], int(s["seed"])
    lmp.commands_string(f"""
timestep {s['timestep_fs'] / 1000.0}
velocity all create {T} {seed} dist gaussian mom yes rot yes
fix nve all nve
fix thermostat all langevin {T} {T} {s['damping_fs'] / 1000.0} {seed + 1} zero yes
thermo_style custom step time temp pe etotal press
thermo {s['thermo_every']}
""")
    if s["engine"] != "external":
        return None
    lmp.commands_string("""
fix ext all external pf/callback 1 1
fix_modify ext energy yes virial yes
variable sparseace_failed internal 0
fix stop all halt 1 v_sparseace_failed > 0.5 error soft message no
""")
    callback = _Callback(lmp, model, numbers_by_type)
    lmp.set_fix_external_callback("ext", callback, lmp)
    return callback


def run_md(model, atoms: Atoms, settings=None, trajectory=None) -> Verdict:
    """NVT stability run of ``model`` from ``atoms``; ``trajectory`` (extxyz path) receives a
    snapshot at the end of every chunk.  Returns the verdict with the thermo log rows.

    ``settings["engine"]``: ``"native"`` computes forces in LAMMPS with ``pair_style sparseace``
    (``ACEPotential`` models); ``"external"`` calls ``model.evaluate`` from ``fix external``
    (any model)."""
    s = {**DEFAULTS, **(settings or {})}
    unknown = set(s) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown MD settings {sorted(unknown)}")
    if s["engine"] not in ENGINES:
        raise ValueError(f"unknown MD engine {s['engine']!r}: one of {ENGINES}")
    species = sorted(set(atoms.get_chemical_symbols()), key=lambda e: atomic_numbers[e])
    if s["engine"] == "native":
        if not isinstance(model, ACEPotential):
            raise TypeError(f"engine 'native' runs ACEPotential models, got "
                            f"{type(model).__name__}; use engine 'external' for other models")
        missing = sorted(set(species) - set(model.species))
        if missing:
            raise ValueError(f"the model has no functions for elements {missing} of the structure")
    numbers_by_type = np.array([0] + [atomic_numbers[e] for e in species])
    dt_ps = s["timestep_fs"] / 1000.0
    total = int(round(s["length_ps"] / dt_ps))
    thermo, done, verdict = [], 0, None
    with tempfile.TemporaryDirectory(prefix="sparseace-md-") as workdir, \
            closing(new_lammps()) as lmp, \
            (atomic_path(trajectory, ".xyz") if trajectory else nullcontext()) as traj:
        callback = _setup(lmp, model, atoms, species, numbers_by_type, s, workdir)
        lmp.command("run 0")
        while done < total and verdict is None:
            n = min(s["chunk_steps"], total - done)
            try:
                lmp.command(f"run {n}")
            except Exception as err:  # e.g. lost atoms: the dynamics left the physical regime
                done = int(lmp.extract_global("ntimestep"))
                if callback is not None and callback.error is not None:
                    break
                message = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
                verdict = Verdict(False, 0, 0, f"LAMMPS stopped at step {done}: {message}")
                break
            done = int(lmp.get_thermo("step"))
            row = {k: lmp.get_thermo(k) for k in ("step", "time", "temp", "pe", "etotal", "press")}
            thermo.append(row)
            log.info("step %d of %d (%.2f ps): T %.0f K, pe %.4f eV, press %.0f bar", done, total,
                     done * dt_ps, row["temp"], row["pe"], row["press"])
            if callback is not None and callback.error is not None:
                break
            snapshot, forces = _snapshot(lmp, numbers_by_type)
            verdict = _check(snapshot, forces, row, s)
            if traj is not None:
                write(traj, snapshot, format="extxyz", append=True)
        if callback is not None and callback.error is not None:
            raise ForceEvaluationError(f"model evaluation failed at {callback.error}")
    if verdict is None:
        verdict = Verdict(True, 0, 0)
    verdict.time_ps, verdict.steps, verdict.thermo = done * dt_ps, done, thermo
    log.info("%s after %.2f ps%s", "stable" if verdict.stable else "UNSTABLE", verdict.time_ps,
             f": {verdict.reason}" if verdict.reason else "")
    return verdict


def _check(atoms, forces, row, s) -> Verdict | None:
    """An unstable verdict, or None when the chunk passed the checks."""
    from matscipy.neighbours import neighbour_list

    if not all(math.isfinite(row[k]) for k in ("pe", "etotal", "temp")):
        return Verdict(False, 0, 0, "non-finite energy or temperature")
    if not np.all(np.isfinite(forces)):
        return Verdict(False, 0, 0, "non-finite forces")
    if not np.all(np.isfinite(atoms.positions)):
        return Verdict(False, 0, 0, "non-finite positions")
    d = neighbour_list("d", atoms, s["min_distance"])
    if len(d):
        return Verdict(False, 0, 0, f"atoms closer than {s['min_distance']} Å "
                                    f"(shortest {d.min():.3f} Å)")
    if row["temp"] > s["max_temperature_factor"] * s["temperature"]:
        return Verdict(False, 0, 0, f"temperature {row['temp']:.0f} K above "
                                    f"{s['max_temperature_factor']} x {s['temperature']} K")
    return None
