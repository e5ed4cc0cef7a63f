"""Benchmark: MD steps per second on 64-atom diamond Si, one core.

    python benchmarks/md.py [--steps N] [--drift-steps M] [--no-external] [--profile]
                            [--fitted [300=MODEL.json 1000=MODEL.json]]
    python benchmarks/md.py --mpi [--seconds S] [--rounds R] [--no-campaign]
                                                    (MPI speed-up, the study's MD campaign)

Same cell, 300 K velocities, NVE, 1 fs.  Baselines: LAMMPS' own `pair_style sw` (Si.sw) and
`pair_style snap` (twojmax 8, rc 4.68 Å, 56 coefficients).  sparseace models with 300 and 1000
active functions of the Zuo basis (Si, order 3, total degree 25; the lowest-level functions,
small coefficients plus the repulsive pair functions) through both engines of
`sparseace.md.run_md`: `native` (`pair_style sparseace`, the C++ plugin) and `external`
(`fix external` calling the numba evaluation).  Prints steps/s (the median of 5 windows of
the timed run), the projected wall time of the
study's 1 ns run at 5 fs (200,000 steps; the bar is 30 minutes = 111 steps/s), ratios to sw, snap
(targets: 22x for 300 functions, 9x for 1000) and fix external, and the energy drift of the
native NVE runs continued to 10^4 steps at 1 fs (with the highest temperature reached: the
synthetic models are not trained, and one that collapses heats up).

--fitted: also the paper config's fitted models, the Zuo Si OMP models of 300 and 1000 functions
of split seed 1 (``fitted_models``: fitted on first use, a few CPU minutes, and cached), or the
given model files; targets (issue 25): 20x snap for 300 functions, 8x for 1000.  --profile: the
share of each phase of the pair style's compute() on those models (timers of
``$SPARSEACE_PROFILE``, in separate runs).

--mpi (issue 16): the native pair style on 1 and 2 MPI ranks (`mpiexec -n R`, LAMMPS' domain
decomposition): steps/s on a 512-atom diamond Si cell with the 1000-function model (target,
issue 25: 2 ranks 1.8x one rank) beside two independent one-rank runs at once (their summed rate
over one run's: what the machine's two cores give with no communication at all, the ceiling of
the 2-rank speed-up; twice the slower of the two: the ceiling of ranks that wait for each other
every step), in R rounds of the three (default 3; the median ratios: this machine's speed drifts
by 20 % over minutes), with LAMMPS' timing breakdown of the 2-rank runs (seconds in the pair
style on each rank, share of communication and waiting), and the projected wall time of the
study's MD campaign (config/paper.yaml md: every model of md.runs at its size, each temperature
and start, at its dataset's time step and length) on a 64-core node. Models cost per function
what fitted supports of the basis cost (``fitted_like_model``: every Zuo dataset the support of
the Zuo Si OMP model of its size; GAP-Si and water functions drawn with the level distribution
of that support); each is timed on its dataset's start cell: Zuo, the first start of the
mirror's test set (sparseace.md.start_configurations, md.min_atoms); water, a 192-atom frame of
the mirror's water data (every configuration of the study's water set has 64 molecules); GAP-Si
(its database is not in the mirror), a 216-atom diamond cell, the size of its largest liquid and
amorphous cells. Rates are the best of 3 timed runs (MPI ranks wait for the slowest, so other
load on a shared machine hurts 2 ranks most). A run takes its steps at the rate measured on that
cell (every start of a Zuo test set has the size of the first; assumed for GAP-Si and water);
the node runs the jobs longest first, each on the next free core (or pair of cores at 2 ranks).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, mirror, run_worker, zuo_frames

os.environ.setdefault("OMP_NUM_THREADS", "1")

BAR_STEPS_PER_S = 200000 / 1800
SNAP_TARGET = {300: 22, 1000: 9}  # issue 16: steps/s of the native pair style over snap's
FITTED_SNAP_TARGET = {300: 20, 1000: 8}  # issue 25: the same for the fitted OMP models


def diamond_cell(lmp) -> None:
    lmp.commands_string("\n".join([
        "units metal", "atom_style atomic", "lattice diamond 5.431",
        "region box block 0 2 0 2 0 2", "create_box 1 box", "create_atoms 1 box",
        "mass 1 28.0855"]))


#: timed windows of an NVE run: its rate is their median (a disturbance of a shared machine
#: during one window, a second or less for the fast models, moved single-window rates by 20-50 %)
WINDOWS = 5


def timed_nve(lmp, pair: list[str], steps: int) -> dict:
    """Steps/s of an NVE run of ``steps`` steps after a 10-step warm-up, the median over
    ``WINDOWS`` consecutive windows of equal length (one run: ``run N pre no post no``), and the
    total-energy drift (meV/atom)."""
    lmp.commands_string("\n".join([
        *pair, "velocity all create 300 1", "fix 1 all nve", "timestep 0.001",
        "thermo_style custom step temp pe etotal", "run 10"]))
    e0 = lmp.get_thermo("etotal")
    window, rates = max(1, steps // WINDOWS), []
    for _ in range(WINDOWS):
        start = time.perf_counter()
        lmp.command(f"run {window} pre no post no")
        rates.append(window / (time.perf_counter() - start))
    return {"rate": statistics.median(rates), "rates": rates, "steps": window * WINDOWS,
            "drift_meV_per_atom": 1000 * (lmp.get_thermo("etotal") - e0) / 64, "etotal0": e0}


def nve_drift(lmp, e0: float, steps: int) -> dict:
    """Continue the NVE run by ``steps`` steps in 10 legs: total-energy drift from e0 (meV/atom)
    and the highest temperature at the end of a leg (K; a model that collapses heats up)."""
    t_max = lmp.get_thermo("temp")
    for _ in range(10):
        lmp.command(f"run {steps // 10}")
        t_max = max(t_max, lmp.get_thermo("temp"))
    return {"drift_meV_per_atom": 1000 * (lmp.get_thermo("etotal") - e0) / 64, "t_max": t_max}


def lammps_native(style: str, steps: int) -> dict:
    from sparseace._lammps import lammps_potentials_dir, new_lammps

    tmp = tempfile.mkdtemp()
    if style == "sw":
        pair = ["pair_style sw", f"pair_coeff * * {lammps_potentials_dir()}/Si.sw Si"]
    else:
        with open(f"{tmp}/Si.snapparam", "w") as fh:
            fh.write("rcutfac 4.67637\ntwojmax 8\nrfac0 0.99363\nrmin0 0\nbzeroflag 0\n"
                     "quadraticflag 0\n")
        with open(f"{tmp}/Si.snapcoeff", "w") as fh:
            fh.write("# benchmark\n\n1 56\nSi 0.5 1.0\n" + "0.0\n" * 56)
        pair = ["pair_style snap", f"pair_coeff * * {tmp}/Si.snapcoeff {tmp}/Si.snapparam Si"]
    lmp = new_lammps()
    diamond_cell(lmp)
    return timed_nve(lmp, pair, steps)


def sparseace_model(size: int):
    import numpy as np

    from sparseace.basis import ACEBasis
    from sparseace.model import ACEPotential

    basis = ACEBasis(["Si"], 3, 25)
    pair = np.flatnonzero(basis.factor_table["kind"] == 1)
    manybody = [k for k in basis.level_order() if k not in set(pair)][: size - len(pair)]
    active = np.concatenate([manybody, pair])
    rng = np.random.default_rng(0)
    coefs = np.concatenate([1e-3 * rng.normal(size=len(manybody)), np.full(len(pair), 0.05)])
    return ACEPotential(basis, active, coefs)


FITTED_CACHE = Path.home() / ".cache" / "sparseace" / "benchmarks"


def fitted_models() -> dict[str, str]:
    """The paper config's Zuo Si OMP models of 300 and 1000 functions (split seed 1), as the
    workflow fits them (config/paper.yaml: datasets.zuo_Si, fits.zuo_Si, solvers.omp): fitted
    here if absent (minutes of CPU) and cached under ~/.cache/sparseace/benchmarks, keyed by
    those settings.  Returns {"300": path, "1000": path}."""
    import hashlib

    from sparseace.basis import ACEBasis
    from sparseace.fitting import reduce_design, select_model, solve, training_factor
    from sparseace.io import read_source_file
    from sparseace.solvers import FitSpec
    from sparseace.split import split_indices

    config = paper_config()
    ds, fit, options = (config["datasets"]["zuo_Si"], config["fits"]["zuo_Si"],
                        config["solvers"]["omp"])
    key = hashlib.sha256(json.dumps([ds, fit, options], sort_keys=True).encode()).hexdigest()[:12]
    paths = {str(n): FITTED_CACHE / f"zuo_Si-omp-{n}-seed1-{key}.json" for n in fit["models"]}
    if all(p.exists() for p in paths.values()):
        return {n: str(p) for n, p in paths.items()}
    print(f"fitting the paper config's Zuo Si OMP models into {FITTED_CACHE} (once)", flush=True)
    frames = {part: [atoms for ref in ds["files"][part] for atoms in read_source_file(
        mirror() / config["sources"][ref["source"]]["mirror"], ds["reader"], "zuo_Si",
        ref.get("member"), ds["elements"])] for part in ("train", "test")}
    pool = frames["train"] + frames["test"]
    s = ds["split"]
    parts = split_indices(s["method"], [a.info["config_type"] for a in pool],
                          len(frames["train"]), 1, s["val_fraction"], s["test_fraction"], s["drop"])
    basis = ACEBasis(ds["elements"], fit["order"], fit["totaldegree"],
                     **fit.get("basis_options", {}))
    train, val = (reduce_design(basis, [pool[i] for i in parts[k]], ds["eref"], ds["weights"])
                  for k in ("train", "val"))
    checkpoints = solve(basis, training_factor(train, val, fit["train_on"]), val, fit["prior"],
                        "omp", FitSpec.from_settings(fit, basis.level_order()), options)
    FITTED_CACHE.mkdir(parents=True, exist_ok=True)
    for n, path in paths.items():
        select_model(checkpoints, f"{fit['selection']} {n}", basis, ds["eref"],
                     {"dataset": "zuo_Si", "split_seed": 1}).save(path)
    return {n: str(p) for n, p in paths.items()}


def sparseace_native(size: int, steps: int, drift_steps: int, model_file: str = "") -> dict:
    """Steps/s over ``steps`` steps; the run then continues to ``drift_steps`` steps in all for
    the energy drift.  ``model_file``: a fitted Si model of ``size`` functions instead of the
    synthetic one."""
    from sparseace._lammps import lammps_quote, new_lammps
    from sparseace.lammps_plugin import build_plugin, export_model
    from sparseace.model import ACEPotential

    model = ACEPotential.load(model_file) if model_file else sparseace_model(size)
    if len(model) != size:
        raise ValueError(f"{model_file}: {len(model)} active functions, not {size}")
    path = export_model(model, os.path.join(tempfile.mkdtemp(), "model.sace"))
    lmp = new_lammps()
    diamond_cell(lmp)
    out = timed_nve(lmp, [f"plugin load {lammps_quote(build_plugin())}", "pair_style sparseace",
                          f"pair_coeff * * {lammps_quote(path)} Si"], steps)
    return {**out, **nve_drift(lmp, out["etotal0"], drift_steps - out["steps"])}


def sparseace_profile(model_file: str, steps: int) -> dict:
    """Seconds per phase of the pair style's compute() (``$SPARSEACE_PROFILE``) over an NVE run
    of ``steps`` steps with the model file (a separate run: the timers cost time)."""
    from sparseace._lammps import lammps_quote, new_lammps
    from sparseace.lammps_plugin import build_plugin, export_model
    from sparseace.model import ACEPotential

    tmp = tempfile.mkdtemp()
    path = export_model(ACEPotential.load(model_file), os.path.join(tmp, "model.sace"))
    os.environ["SPARSEACE_PROFILE"] = os.path.join(tmp, "profile.txt")
    lmp = new_lammps()
    diamond_cell(lmp)
    timed_nve(lmp, [f"plugin load {lammps_quote(build_plugin())}", "pair_style sparseace",
                    f"pair_coeff * * {lammps_quote(path)} Si"], steps)
    lmp.close()  # the pair style writes the profile
    with open(os.environ.pop("SPARSEACE_PROFILE")) as fh:
        return {name: float(value) for name, value in (line.split() for line in fh)}


def print_profile(label: str, prof: dict) -> None:
    """Phases of compute(): microseconds per atom and step, share of the pair style's time."""
    centres = prof.pop("centres")
    total = sum(prof.values())
    print(f"{label} profile (us per atom-step, share): " + ", ".join(
        f"{name} {1e6 * t / centres:.2f} ({100 * t / total:.0f}%)" for name, t in prof.items())
        + f"; total {1e6 * total / centres:.2f}", flush=True)


def sparseace_external(size: int, steps: int) -> dict:
    """fix external through the study's driver (Langevin NVT; the thermostat costs ~nothing)."""
    from ase.build import bulk

    from sparseace.md import run_md

    model = sparseace_model(size)
    atoms = bulk("Si", "diamond", 5.431, cubic=True) * (2, 2, 2)
    settings = {"timestep_fs": 1.0, "min_distance": 0.5, "max_temperature_factor": 100.0,
                "engine": "external"}
    run_md(model, atoms, {**settings, "length_ps": 0.01, "chunk_steps": 10})  # compile
    start = time.perf_counter()
    run_md(model, atoms, {**settings, "length_ps": steps / 1000, "chunk_steps": steps})
    return {"rate": steps / (time.perf_counter() - start)}


NODE_CORES = 64


def paper_config() -> dict:
    from sparseace.config import load_config

    return load_config(REPO / "config" / "paper.yaml")


LEVEL_BINS = 20


def level_bins(basis, functions):
    """Bin of each of the many-body ``functions``: its level relative to the highest level of
    the basis' many-body functions (LEVEL_BINS bins)."""
    import numpy as np

    t = basis.factor_table
    rel = t["level"][functions] / t["level"][t["kind"] == 0].max()
    return np.minimum((rel * LEVEL_BINS).astype(int), LEVEL_BINS - 1)


def fitted_like_model(config: dict, dataset: str, size: int):
    """``size`` functions of the paper's basis of ``dataset`` that cost what fitted supports
    cost, with zero coefficients (free atoms: a random model, even with coefficients of 1e-4,
    blows a water cell apart within the timed steps; the cost does not depend on the values:
    the model file holds every product of the functions).  A basis of the same functions as the
    Zuo Si one (every Zuo element): the support of the Zuo Si OMP model of that size
    (``fitted_models``).  Other bases: all pair functions, and many-body functions drawn (seed 0)
    with the distribution of the Zuo Si OMP support (of 300 functions for models up to 300, else
    of 1000) over relative level (``level_bins``), uniformly within a bin; such draws share
    fewer products than a fit's support (on the Zuo Si basis 1.1x the DAG nodes of the OMP-1000
    model, 1.6x those of the OMP-300), so their cost is an upper estimate."""
    import numpy as np

    from sparseace.basis import ACEBasis
    from sparseace.model import ACEPotential

    fit = config["fits"][dataset]
    basis = ACEBasis(config["datasets"][dataset]["elements"], fit["order"], fit["totaldegree"],
                     **fit.get("basis_options", {}))
    ref = ACEPotential.load(fitted_models()["300" if size <= 300 else "1000"])
    same = (basis.nspecies, basis.order, basis.totaldegree, len(basis)) == \
        (1, ref.basis.order, ref.basis.totaldegree, len(ref.basis))
    if same and len(ref) == size:
        return ACEPotential(basis, ref.active, np.zeros(size))
    kind = ref.basis.factor_table["kind"]
    target = np.bincount(level_bins(ref.basis, ref.active[kind[ref.active] == 0]),
                         minlength=LEVEL_BINS)
    kind = basis.factor_table["kind"]
    manybody, pair = np.flatnonzero(kind == 0), np.flatnonzero(kind == 1)
    b = level_bins(basis, manybody)
    weight = target[b] / np.bincount(b)[b]
    rng = np.random.default_rng(0)
    drawn = np.sort(rng.choice(manybody, size - len(pair), replace=False, p=weight / weight.sum()))
    return ACEPotential(basis, np.concatenate([drawn, pair]), np.zeros(size))


def campaign_cell(config: dict, dataset: str):
    """The start cell a dataset's runs are timed on (see the module docstring)."""
    import ase.io
    from ase.build import bulk

    from sparseace.md import start_configurations, supercell

    if dataset.startswith("zuo_"):
        frames = zuo_frames(config["datasets"][dataset]["elements"][0], "test")
        start = start_configurations(frames, 1, config["seed"])[0][1]
        return supercell(start, config["md"]["min_atoms"])[0]
    if dataset == "water":
        return ase.io.read(mirror() / "water_cheng2019" /
                           "PARTIAL_val_water_1000_eVAng.xyz.xz", 0)
    if dataset == "gap_si":
        return bulk("Si", "diamond", 5.43, cubic=True).repeat(3)
    raise ValueError(f"no start cell for dataset {dataset!r}")


def timed_native(model, atoms, steps: str, repeats: int = 3) -> dict:
    """Steps/s of the study's MD (sparseace.md set-up: NVT, Langevin, 300 K; 0.5 fs) with
    pair_style sparseace on this process' MPI ranks: the best of ``repeats`` timed runs (other
    processes on a shared machine slow some runs, and MPI ranks wait for the slowest).
    ``steps``: a number, or "auto:S" (one rank only) for runs of about S seconds sized by a
    5-step probe."""
    from sparseace._lammps import new_lammps
    from sparseace.lammps_plugin import build_plugin, export_model
    from sparseace.md import _setup

    species = sorted(set(atoms.get_chemical_symbols()), key=atoms.get_chemical_symbols().index)
    workdir = tempfile.mkdtemp()
    path = export_model(model, os.path.join(workdir, "model.sace"))
    log_path = os.path.join(workdir, "log.lammps")  # written by rank 0
    lmp = new_lammps("-log", log_path)
    settings = {"engine": "native", "temperature": 300.0, "seed": 1, "timestep_fs": 0.5,
                "damping_fs": 100.0, "thermo_every": 1000}
    _setup(lmp, (build_plugin(), path), atoms, species, None, settings)
    lmp.command("run 5")
    if steps.startswith("auto:"):
        start = time.perf_counter()
        lmp.command("run 5")
        steps = str(max(10, round(float(steps[5:]) * 5 / (time.perf_counter() - start))))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        lmp.command(f"run {steps}")
        rates.append(int(steps) / (time.perf_counter() - start))
    lmp.close()
    return {"rate": max(rates), "rates": rates, "steps": int(steps), "atoms": len(atoms),
            "load": os.getloadavg()[0],
            "breakdown": loop_breakdown(log_path) if os.path.exists(log_path) else None}


def loop_breakdown(log_path: str) -> dict:
    """The last run's timing breakdown in a LAMMPS log: its loop time (s) and the [min, avg,
    max] over the ranks of the seconds in the pair style and in communication (which includes
    waiting for the slowest rank)."""
    text = Path(log_path).read_text()
    loop = re.findall(r"^Loop time of (\S+) on", text, re.M)[-1]
    sections = {name: [float(v) for v in re.findall(
        rf"^{name}\s*\|\s*(\S+)\s*\|\s*(\S+)\s*\|\s*(\S+)", text, re.M)[-1]]
        for name in ("Pair", "Comm")}
    return {"loop": float(loop), **sections}


def mpi_worker(kind: str, steps: str) -> dict:
    """``mpi512``: the 1000-function model of the one-core rows on 512-atom diamond Si;
    ``campaign:<dataset>:<size>``: a paper-basis model on its dataset's start cell."""
    if kind == "mpi512":
        from ase.build import bulk

        return timed_native(sparseace_model(1000),
                            bulk("Si", "diamond", 5.431, cubic=True).repeat(4), steps)
    _, dataset, size = kind.split(":")
    config = paper_config()
    return timed_native(fitted_like_model(config, dataset, int(size)),
                        campaign_cell(config, dataset), steps)


def run_ranks(ranks: int, kind: str, steps: str, copies: int = 1) -> dict | list | None:
    """``mpi_worker`` on ``ranks`` MPI processes; rank 0's result.  ``copies`` > 1: that many
    independent runs at once, a list of their results."""
    from sparseace.md import mpiexec_command

    procs = [subprocess.Popen([*mpiexec_command(ranks), sys.executable, __file__, "--worker",
                               kind, steps, "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
             for _ in range(copies)]
    outputs = [proc.communicate() for proc in procs]  # every copy ends before any is read
    results = []
    for proc, (stdout, stderr) in zip(procs, outputs):
        if proc.returncode:
            print(f"{kind} on {ranks} ranks failed:\n{(stdout + stderr)[-2000:]}")
            return None
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results[0] if copies == 1 else results


def makespan(jobs: list[tuple[float, int]], cores: int) -> float:
    """Wall time (h) of independent jobs (hours, ranks) on ``cores`` cores: longest first, each
    started when its ranks' cores are free."""
    free = [0.0] * cores
    for hours, ranks in sorted(jobs, reverse=True):
        start = max(heapq.heappop(free) for _ in range(ranks))
        for _ in range(ranks):
            heapq.heappush(free, start + hours)
    return max(free)


def mpi_main(seconds: float, rounds: int, campaign: bool) -> None:
    steps = f"auto:{seconds}"
    speedups, ceilings, lockstep, pair_split, comm_share = [], [], [], [], []
    for k in range(1, rounds + 1):  # rounds in turn: a slow phase of the machine hits all three
        one = run_ranks(1, "mpi512", steps)
        steps = str(one["steps"]) if one else steps
        two = one and run_ranks(2, "mpi512", steps)
        pair = two and run_ranks(1, "mpi512", steps, copies=2)
        if not pair:
            return
        speedups.append(two["rate"] / one["rate"])
        ceilings.append(sum(r["rate"] for r in pair) / one["rate"])
        lockstep.append(2 * min(r["rate"] for r in pair) / one["rate"])
        b = two["breakdown"]
        pair_split.append(b["Pair"][2] / b["Pair"][0])
        comm_share.append(b["Comm"][0] / b["loop"])
        print(f"round {k}: 1 rank {one['rate']:.1f} steps/s; 2 ranks {two['rate']:.1f} steps/s "
              f"(x{speedups[-1]:.2f}; pair style {b['Pair'][0]:.2f} and {b['Pair'][2]:.2f} s on "
              f"the two ranks, communication {100 * comm_share[-1]:.1f} % of the loop on the "
              f"rank that waits least); two one-rank runs at once {pair[0]['rate']:.1f} + "
              f"{pair[1]['rate']:.1f} steps/s (x{ceilings[-1]:.2f}; twice the slower: "
              f"x{lockstep[-1]:.2f}); load average "
              f"{one['load']:.1f}, {two['load']:.1f}", flush=True)
    print(f"512-atom diamond Si, 1000 functions, median of {rounds} rounds: 2 ranks "
          f"x{statistics.median(speedups):.2f} one rank (target 1.8); two independent one-rank "
          f"runs at once x{statistics.median(ceilings):.2f}: what this machine's two cores give "
          "without any communication; twice the slower of the two "
          f"x{statistics.median(lockstep):.2f}: what ranks in step with each other reach at "
          "most when the cores' speeds differ.  Medians: the slower rank "
          f"spends {statistics.median(pair_split):.3f}x the faster one's time in the pair style "
          "(with 256 atoms each: the two cores' speeds differ), and "
          f"{100 * statistics.median(comm_share):.1f} % of the loop in communication, most of it "
          "waiting for the other rank within a step", flush=True)
    if not campaign:
        return
    config = paper_config()
    md, measured = config["md"], {}
    plans = {"every run on 1 rank": [], "every run on 2 ranks": [], "md.jobs ranks": []}
    runs_per_model = len(md["temperatures"]) * md["starts"]
    for dataset, models in md["runs"].items():
        settings = {**md["settings"], **md.get("per_dataset", {}).get(dataset, {})}
        steps = round(settings["length_ps"] * 1000 / settings["timestep_fs"])
        ranks = md.get("jobs", {}).get(dataset, {}).get("ranks", 1)
        for model in models:
            size = model.rsplit("-", 1)[-1]
            if not size.isdigit():
                print(f"{dataset} {model}: no size in the model id, left out")
                continue
            kind = f"campaign:{dataset}:{size}"
            if kind not in measured:
                r1 = run_ranks(1, kind, f"auto:{seconds}")
                measured[kind] = (r1, r1 and run_ranks(2, kind, str(r1["steps"])))
            r1, r2 = measured[kind]
            if not r2:
                continue
            h1, h2 = (steps / r["rate"] / 3600 for r in (r1, r2))
            plans["every run on 1 rank"] += [(h1, 1)] * runs_per_model
            plans["every run on 2 ranks"] += [(h2, 2)] * runs_per_model
            plans["md.jobs ranks"] += [(h1, 1) if ranks == 1 else (h2, 2)] * runs_per_model
            print(f"{dataset:>7} {model:>10}: {r1['atoms']:4d} atoms, {steps:8d} steps; 1 rank "
                  f"{r1['rate']:8.1f} steps/s = {h1:6.2f} h per run; 2 ranks {r2['rate']:8.1f} "
                  f"steps/s (x{r2['rate'] / r1['rate']:.2f}) = {h2:6.2f} h; {runs_per_model} runs"
                  f"; md.jobs: {ranks} rank{'s' * (ranks > 1)}; load {r1['load']:.1f}, "
                  f"{r2['load']:.1f}", flush=True)
    if any(r > 2 for job in md.get("jobs", {}).values() for r in [job.get("ranks", 1)]):
        print("md.jobs asks for more than 2 ranks: projected at the 2-rank rate (measured here)")
    single = plans["every run on 1 rank"]
    print(f"campaign: {len(single)} runs, {sum(h for h, _ in single):.0f} core-hours on 1 rank; "
          f"longest run {max(h for h, _ in single):.1f} h on 1 rank, "
          f"{max(h for h, _ in plans['every run on 2 ranks']):.1f} h on 2 ranks")
    for name, jobs in plans.items():
        print(f"{NODE_CORES}-core node, {name}: {makespan(jobs, NODE_CORES):.1f} h")


def worker(kind: str, steps: int, drift_steps: int) -> dict:
    if kind in ("sw", "snap"):
        return lammps_native(kind, steps)
    engine, size = kind.split("-", 1)
    size, _, model_file = size.partition(":")
    if engine == "profile":
        return sparseace_profile(model_file, steps)
    if engine == "native":
        return sparseace_native(int(size), steps, drift_steps, model_file)
    return sparseace_external(int(size), steps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--fitted", nargs="*", default=None, metavar="SIZE=MODEL.json",
                        help="also time fitted Si models of 300 or 1000 functions (their NVE "
                             "drift is that of a trained potential; the synthetic ones heat up); "
                             "without files the paper config's Zuo Si OMP models")
    parser.add_argument("--drift-steps", type=int, default=10000,
                        help="length of the native runs, over which their NVE drift is taken")
    parser.add_argument("--no-external", action="store_true",
                        help="skip the fix external runs")
    parser.add_argument("--profile", action="store_true",
                        help="also time the phases of the pair style on the fitted models "
                             "(separate runs of --steps / 4 steps)")
    parser.add_argument("--mpi", action="store_true",
                        help="MPI speed-up and the projected wall time of the study's MD campaign")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="--mpi: seconds of each of the 3 timed one-rank runs per model")
    parser.add_argument("--rounds", type=int, default=3,
                        help="--mpi: rounds of the 512-atom runs (1 rank, 2 ranks, two 1-rank "
                             "runs at once), the median speed-up reported")
    parser.add_argument("--no-campaign", action="store_true",
                        help="--mpi: the 512-atom rounds only, not the campaign projection")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    fitted = {}
    for spec in args.fitted or []:
        size, _, path = spec.partition("=")
        if size not in ("300", "1000") or not os.path.isfile(path):
            parser.error(f"--fitted {spec!r}: expected 300=MODEL.json or 1000=MODEL.json with an "
                         "existing model file")
        fitted[size] = path
    if args.fitted == []:  # --fitted alone: the paper config's models
        fitted = fitted_models()
    if args.worker:
        kind, steps, drift_steps = args.worker
        mpi = kind == "mpi512" or kind.startswith("campaign:")
        result = mpi_worker(kind, steps) if mpi else worker(kind, int(steps), int(drift_steps))
        if os.environ.get("PMI_RANK", "0") == "0":  # rank 0 of an MPI worker reports
            print(json.dumps(result))
        return
    if args.mpi:
        mpi_main(args.seconds, args.rounds, not args.no_campaign)
        return
    from sparseace.lammps_plugin import build_plugin

    start = time.perf_counter()
    print(f"plugin: {build_plugin()} ({time.perf_counter() - start:.1f} s incl. any build)")
    runs = [("sw", 20 * args.steps), ("snap", args.steps)]
    if not args.no_external:
        runs += [("external-300", args.steps // 4), ("external-1000", args.steps // 4)]
    runs += [("native-300", args.steps), ("native-1000", args.steps)]
    runs += [(f"native-{size}:{path}", args.steps) for size, path in fitted.items()]
    results = {}
    for size, path in fitted.items() if args.profile else ():
        prof = run_worker(__file__, f"profile-{size}:{path}", str(args.steps // 4), "0")
        if prof:
            print_profile(f"fitted-{size}", prof)
    for kind, steps in runs:
        r = run_worker(__file__, kind, str(steps), str(args.drift_steps))
        if r is None:
            continue
        results[kind] = r["rate"]
        drift = (f"; NVE drift over {args.drift_steps} steps {r['drift_meV_per_atom']:+.3f} "
                 f"meV/atom (highest T {r['t_max']:.0f} K)" if kind.startswith("native") else "")
        label = kind.split(":")[0].replace("native", "fitted") if ":" in kind else kind
        print(f"{label:>14} ({steps:6d} steps): {r['rate']:9.1f} steps/s; 200,000 steps in "
              f"{200000 / r['rate'] / 60:7.1f} min{drift}", flush=True)
    for size in (300, 1000):
        rate = results.get(f"native-{size}")
        if rate is None:
            continue
        ratios = [f"native / {base} = {rate / results[base]:.2f}" for base in ("sw", "snap")
                  if base in results]
        if "snap" in results:
            ratios[-1] += f" (target >= {SNAP_TARGET[size]})"
        if f"external-{size}" in results:
            ratios.append(f"native / fix external = {rate / results[f'external-{size}']:.2f}")
        verdict = "meets" if rate >= BAR_STEPS_PER_S else "MISSES"
        print(f"{size} functions: " + "; ".join(ratios) + f"; {verdict} the 30 min bar")
    for size, path in fitted.items():
        rate = results.get(f"native-{size}:{path}")
        if rate is not None and "snap" in results:
            print(f"fitted {size} functions: native / snap = {rate / results['snap']:.2f} "
                  f"(target >= {FITTED_SNAP_TARGET[int(size)]})")


if __name__ == "__main__":
    main()
