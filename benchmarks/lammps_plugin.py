"""Benchmark: MD steps per second of the native `pair_style sparseace` (LAMMPS plugin), one core.

    python benchmarks/lammps_plugin.py [--steps N] [--no-external]

64-atom diamond Si, 300 K velocities, NVE, 1 fs.  Baselines on the same cell: LAMMPS' own
`pair_style sw` and `pair_style snap` (twojmax 8), and the same sparseace models driven through
`fix external` (benchmarks/md.py: `native`, `sparseace_model`, `ours`, reused here).  Models:
300 and 1000 active functions of the Zuo basis (Si, order 3, total degree 25).  Prints steps/s,
ratios to sw and to fix external, the projected wall time of the study's 1 ns run at 5 fs
(200,000 steps; bar: 30 min = 111 steps/s) and the energy drift of the native run.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

from _common import run_worker
from md import native, ours, sparseace_model

os.environ.setdefault("OMP_NUM_THREADS", "1")


def plugin_rate(size: int, steps: int) -> dict:
    from sparseace._lammps import new_lammps
    from sparseace.lammps_plugin import build_plugin, export_model

    so = build_plugin()
    path = export_model(sparseace_model(size), os.path.join(tempfile.mkdtemp(), "model.sace"))
    lmp = new_lammps()
    lmp.commands_string("\n".join([
        "units metal", "atom_style atomic", "lattice diamond 5.431",
        "region box block 0 2 0 2 0 2", "create_box 1 box", "create_atoms 1 box",
        "mass 1 28.0855", f"plugin load {so}", "pair_style sparseace",
        f"pair_coeff * * {path} Si", "velocity all create 300 1", "fix 1 all nve",
        "timestep 0.001", "thermo_style custom step temp pe etotal", "run 10"]))
    e0 = lmp.get_thermo("etotal")
    start = time.perf_counter()
    lmp.command(f"run {steps}")
    rate = steps / (time.perf_counter() - start)
    return {"rate": rate, "drift_meV_per_atom": 1000 * (lmp.get_thermo("etotal") - e0) / 64,
            "temp": lmp.get_thermo("temp")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--no-external", action="store_true",
                        help="skip the (slow) fix external baselines")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, steps = args.worker[0], int(args.worker[1])
        if kind in ("sw", "snap"):
            out = {"rate": native(kind, steps)}
        elif kind.startswith("external"):
            out = {"rate": ours(int(kind.split("-")[1]), steps)}
        else:
            out = plugin_rate(int(kind.split("-")[1]), steps)
        print(json.dumps(out))
        return
    from sparseace.lammps_plugin import build_plugin

    start = time.perf_counter()
    print(f"plugin: {build_plugin()} ({time.perf_counter() - start:.1f} s incl. any build)")
    runs = [("sw", 20 * args.steps), ("snap", args.steps)]
    if not args.no_external:
        runs += [("external-300", 300), ("external-1000", 200)]
    runs += [("native-300", args.steps), ("native-1000", args.steps)]
    results = {}
    for kind, steps in runs:
        r = run_worker(__file__, kind, str(steps))
        if r is None:
            continue
        results[kind] = r["rate"]
        extra = (f"; drift {r['drift_meV_per_atom']:+.3f} meV/atom, T {r['temp']:.0f} K"
                 if "drift_meV_per_atom" in r else "")
        print(f"{kind:>14} ({steps:6d} steps): {r['rate']:9.1f} steps/s; 200,000 steps in "
              f"{200000 / r['rate'] / 60:7.1f} min{extra}", flush=True)
    for size in (300, 1000):
        rate = results.get(f"native-{size}")
        if rate is None:
            continue
        ratios = [f"{base} / native = {results[base] / rate:.2f}" for base in ("sw", "snap")
                  if base in results]
        if f"external-{size}" in results:
            ratios.append(f"native / fix external = {rate / results[f'external-{size}']:.1f}")
        verdict = "meets" if rate >= 200000 / 1800 else "MISSES"
        print(f"{size} functions: " + "; ".join(ratios) + f"; {verdict} the 30 min bar")


if __name__ == "__main__":
    main()
