"""Benchmark: MD steps per second on 64-atom diamond Si, one core.

    python benchmarks/md.py [--steps N]

LAMMPS-native baselines on the same cell: `pair_style sw` (Si.sw) and `pair_style snap`
(twojmax 8, rc 4.68 Å, 56 coefficients), against sparseace models driving LAMMPS through
`fix external` (sparseace.md.run_md) with 300 and 1000 active functions of the Zuo basis
(Si, order 3, total degree 25; the lowest-level functions, small coefficients plus the
repulsive pair functions).  Prints steps/s, ratios to sw, and the projected wall time of the
study's 1 ns run at 5 fs (200,000 steps); the bar is 30 minutes (111 steps/s).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from _common import run_worker

os.environ.setdefault("OMP_NUM_THREADS", "1")


def native(style: str, steps: int) -> float:
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
    lmp.commands_string("\n".join([
        "units metal", "atom_style atomic", "lattice diamond 5.431",
        "region box block 0 2 0 2 0 2", "create_box 1 box", "create_atoms 1 box",
        "mass 1 28.0855", *pair, "velocity all create 300 1", "fix 1 all nve",
        "timestep 0.001", "run 10"]))
    start = time.perf_counter()
    lmp.command(f"run {steps}")
    return steps / (time.perf_counter() - start)


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


def ours(size: int, steps: int) -> float:
    from ase.build import bulk

    from sparseace.md import run_md

    model = sparseace_model(size)
    atoms = bulk("Si", "diamond", 5.431, cubic=True) * (2, 2, 2)
    run_md(model, atoms, {"length_ps": 0.01, "timestep_fs": 1.0, "chunk_steps": 10})  # compile
    start = time.perf_counter()
    run_md(model, atoms, {"length_ps": steps / 1000, "timestep_fs": 1.0, "chunk_steps": steps,
                          "min_distance": 0.5, "max_temperature_factor": 100.0})
    return steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, steps = args.worker
        rate = native(kind, int(steps)) if kind in ("sw", "snap") else ours(int(kind), int(steps))
        print(json.dumps({"rate": rate}))
        return
    results = {}
    for kind, steps in (("sw", 20 * args.steps), ("snap", args.steps), ("300", args.steps),
                        ("1000", args.steps)):
        r = run_worker(__file__, kind, str(steps))
        if r is None:
            continue
        results[kind] = r["rate"]
        label = kind if kind in ("sw", "snap") else f"sparseace {kind} functions (fix external)"
        print(f"{label:>40}: {r['rate']:9.1f} steps/s; 200,000 steps in "
              f"{200000 / r['rate'] / 60:7.1f} min", flush=True)
    if "sw" in results:
        for kind, rate in results.items():
            print(f"  sw / {kind}: x{results['sw'] / rate:.1f}")


if __name__ == "__main__":
    main()
