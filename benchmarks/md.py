"""Benchmark: MD steps per second on 64-atom diamond Si, one core.

    python benchmarks/md.py [--steps N] [--drift-steps M] [--no-external]

Same cell, 300 K velocities, NVE, 1 fs.  Baselines: LAMMPS' own `pair_style sw` (Si.sw) and
`pair_style snap` (twojmax 8, rc 4.68 Å, 56 coefficients).  sparseace models with 300 and 1000
active functions of the Zuo basis (Si, order 3, total degree 25; the lowest-level functions,
small coefficients plus the repulsive pair functions) through both engines of
`sparseace.md.run_md`: `native` (`pair_style sparseace`, the C++ plugin) and `external`
(`fix external` calling the numba evaluation).  Prints steps/s, the projected wall time of the
study's 1 ns run at 5 fs (200,000 steps; the bar is 30 minutes = 111 steps/s), ratios to sw, snap
(targets: 22x for 300 functions, 9x for 1000) and fix external, and the energy drift of the
native NVE runs continued to 10^4 steps at 1 fs (with the highest temperature reached: the
synthetic models are not trained, and one that collapses heats up).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from _common import run_worker

os.environ.setdefault("OMP_NUM_THREADS", "1")

BAR_STEPS_PER_S = 200000 / 1800
SNAP_TARGET = {300: 22, 1000: 9}  # issue 16: steps/s of the native pair style over snap's


def diamond_cell(lmp) -> None:
    lmp.commands_string("\n".join([
        "units metal", "atom_style atomic", "lattice diamond 5.431",
        "region box block 0 2 0 2 0 2", "create_box 1 box", "create_atoms 1 box",
        "mass 1 28.0855"]))


def timed_nve(lmp, pair: list[str], steps: int) -> dict:
    """Steps/s of an NVE run after a 10-step warm-up, and the total-energy drift (meV/atom)."""
    lmp.commands_string("\n".join([
        *pair, "velocity all create 300 1", "fix 1 all nve", "timestep 0.001",
        "thermo_style custom step temp pe etotal", "run 10"]))
    e0 = lmp.get_thermo("etotal")
    start = time.perf_counter()
    lmp.command(f"run {steps}")
    rate = steps / (time.perf_counter() - start)
    return {"rate": rate, "drift_meV_per_atom": 1000 * (lmp.get_thermo("etotal") - e0) / 64,
            "etotal0": e0}


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


def sparseace_native(size: int, steps: int, drift_steps: int) -> dict:
    """Steps/s over ``steps`` steps; the run then continues to ``drift_steps`` steps in all for
    the energy drift."""
    from sparseace._lammps import new_lammps
    from sparseace.lammps_plugin import build_plugin, export_model

    path = export_model(sparseace_model(size), os.path.join(tempfile.mkdtemp(), "model.sace"))
    lmp = new_lammps()
    diamond_cell(lmp)
    out = timed_nve(lmp, [f"plugin load {build_plugin()}", "pair_style sparseace",
                          f"pair_coeff * * {path} Si"], steps)
    return {**out, **nve_drift(lmp, out["etotal0"], drift_steps - steps)}


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


def worker(kind: str, steps: int, drift_steps: int) -> dict:
    if kind in ("sw", "snap"):
        return lammps_native(kind, steps)
    engine, size = kind.split("-")
    if engine == "native":
        return sparseace_native(int(size), steps, drift_steps)
    return sparseace_external(int(size), steps)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--drift-steps", type=int, default=10000,
                        help="length of the native runs, over which their NVE drift is taken")
    parser.add_argument("--no-external", action="store_true",
                        help="skip the fix external runs")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))))
        return
    from sparseace.lammps_plugin import build_plugin

    start = time.perf_counter()
    print(f"plugin: {build_plugin()} ({time.perf_counter() - start:.1f} s incl. any build)")
    runs = [("sw", 20 * args.steps), ("snap", args.steps)]
    if not args.no_external:
        runs += [("external-300", args.steps // 4), ("external-1000", args.steps // 4)]
    runs += [("native-300", args.steps), ("native-1000", args.steps)]
    results = {}
    for kind, steps in runs:
        r = run_worker(__file__, kind, str(steps), str(args.drift_steps))
        if r is None:
            continue
        results[kind] = r["rate"]
        drift = (f"; NVE drift over {args.drift_steps} steps {r['drift_meV_per_atom']:+.3f} "
                 f"meV/atom (highest T {r['t_max']:.0f} K)" if kind.startswith("native") else "")
        print(f"{kind:>14} ({steps:6d} steps): {r['rate']:9.1f} steps/s; 200,000 steps in "
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


if __name__ == "__main__":
    main()
