"""Benchmark: sparse paths (ASP, OMP) against scikit-learn's lars_path_gram (lasso) and
orthogonal_mp_gram on the same reduced systems.

    python benchmarks/solvers.py [--quick] [--skip-zuo] [--skip-synthetic] [--skip-lars]
                                 [--water] [--timeout S]

1. Zuo Mo at the study's settings (order 3, total degree 25: 5,317 functions; prior p = 4):
   the training factor is assembled from the mirror (cached in benchmarks/out/), paths to
   1000 active functions.
2. Synthetic: an upper-triangular R (n x n, from the QR of a Gaussian matrix with column scales
   decaying over 4 decades) with n = 13,718 columns (GAP-Si), paths to 5000 active (--quick:
   n = 3000 to 1000).
3. --water: ours only, on a synthetic 17,634-column system to 12,000 active (the study's water
   size).
Each side starts from R and z and forms what it needs inside the timing (scikit-learn: the Gram
matrix R^T R and R^T z); lars_path_gram runs for the same number of iterations as ASP.  Each
method runs in a fresh process: wall time and peak RSS, and the ratios baseline / ours
(orthogonal_mp_gram is the baseline of both ASP and OMP; --skip-lars leaves lars_path_gram out:
on the synthetic systems it does not finish in an hour).  A method still running after
--timeout seconds (default 1 h) is stopped; its ratios are then lower bounds (">"), and for ours
the time to the full path is projected from the progress it reported (active set size k and
elapsed time) by the per-iterate cost model k (n - k) + k^2 / 2 (the pass over the inactive
part of the factor's rows, the triangular solve).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from _common import REPO, peak_rss_mb, run_worker, zuo_frames

OUT = REPO / "benchmarks" / "out"


def zuo_mo_system() -> Path:
    path = OUT / "zuo_Mo_order3_deg25_train.npz"
    if not path.exists():
        from sparseace.basis import ACEBasis
        from sparseace.design import assemble, smoothness_prior

        basis = ACEBasis(["Mo"], 3, 25)
        factor = assemble(basis, zuo_frames("Mo", "train"), {"Mo": 0.0})
        P = smoothness_prior(basis, 4)
        OUT.mkdir(parents=True, exist_ok=True)
        np.savez(path, R=factor.R / P[None, :], z=factor.z, nrows=factor.nrows)
    return path


def synthetic_system(n: int) -> Path:
    path = OUT / f"synthetic_{n}.npz"
    if not path.exists():
        from scipy.linalg import qr

        rng = np.random.default_rng(0)
        A = rng.normal(size=(n + n // 5, n)) * np.geomspace(1, 1e-4, n)[rng.permutation(n)]
        R = qr(A, mode="r", overwrite_a=True)[0][:n]
        z = R @ (rng.normal(size=n) * (rng.random(n) < 0.2)) + 1e-3 * rng.normal(size=n)
        OUT.mkdir(parents=True, exist_ok=True)
        np.savez(path, R=R, z=z, nrows=n + n // 5)
    return path


class _Progress(logging.Handler):
    """Keeps the path's latest progress report (k active, seconds since the start) in a file,
    for the projection when the run is stopped."""

    def __init__(self, path: Path, start: float):
        super().__init__()
        self.file, self.start = path, start

    def emit(self, record):
        if record.args and len(record.args) >= 2:
            progress = {"active": int(record.args[1]), "seconds": time.perf_counter() - self.start}
            self.file.write_text(json.dumps(progress))


def progress_file(method: str, system: str) -> Path:
    return OUT / f"progress_{method}_{Path(system).stem}.json"


def worker(method: str, system: str, k: int, iterations: int):
    with np.load(system) as d:
        R, z, m = d["R"], d["z"], int(d["nrows"])
    start = time.perf_counter()
    if method in ("asp", "omp"):
        from sparseace.solvers import asp_path, omp_path, paths

        paths.log.setLevel(logging.INFO)
        paths.log.addHandler(_Progress(progress_file(method, system), start))
        path = (asp_path if method == "asp" else omp_path)(R, z, max_active=k)
        result = {"iterations": len(path), "active": int(path.sizes[-1]),
                  "stop_reason": path.stop_reason, "excluded": path.settings["n_excluded"]}
    else:
        from sklearn.linear_model import lars_path_gram, orthogonal_mp_gram

        G, Atb = R.T @ R, R.T @ z
        if method == "lars_path_gram":
            _, active, coefs = lars_path_gram(Atb, G, n_samples=m, method="lasso",
                                              max_iter=iterations)
            result = {"iterations": coefs.shape[1] - 1, "active": int(np.sum(coefs[:, -1] != 0))}
        else:
            coef = orthogonal_mp_gram(G, Atb, n_nonzero_coefs=k)
            result = {"iterations": k, "active": int(np.sum(coef != 0))}
    print(json.dumps({"method": method, "seconds": time.perf_counter() - start,
                      "peak_rss_mb": peak_rss_mb(), **result}))


def projected_seconds(method: str, system: Path, n: int, k: int) -> str:
    """The full path's time from a stopped run's last progress report (see the docstring)."""
    try:
        progress = json.loads(progress_file(method, system).read_text())
    except (OSError, ValueError):
        return ""
    work = (lambda a: n * a ** 2 / 2 - a ** 3 / 3 + a ** 3 / 6)  # sum of k (n - k) + k^2 / 2
    reached = progress["active"]
    if reached < 100:
        return ""
    total = progress["seconds"] * work(k) / work(reached)
    return f"; {reached} active after {progress['seconds']:.0f} s, projected {total:.0f} s"


METHODS = ("asp", "lars_path_gram", "omp", "orthogonal_mp_gram")


def compare(name: str, system: Path, n: int, k: int, timeout: float, methods=METHODS):
    print(f"{name}: paths to {k} active")
    rows = {}
    for method in methods:
        iterations = "0"
        if method == "lars_path_gram":  # as many iterations as ASP did
            if "asp" not in rows or rows["asp"].get("timeout"):
                continue
            iterations = str(rows["asp"]["iterations"])
        progress_file(method, system).unlink(missing_ok=True)
        r = run_worker(__file__, method, str(system), str(k), iterations, timeout=timeout)
        if r is None:
            continue
        rows[method] = r
        if r.get("timeout"):
            projection = projected_seconds(method, system, n, k)
            print(f"  {method:>18}: not finished in {r['seconds']:.0f} s, peak RSS so far "
                  f"{r['peak_rss_mb'] or float('nan'):6.0f} MB{projection}", flush=True)
        else:
            stop = f", stop {r['stop_reason']}, {r['excluded']} excluded" if "stop_reason" in r \
                else ""
            print(f"  {method:>18}: {r['seconds']:8.1f} s, peak RSS {r['peak_rss_mb']:6.0f} MB, "
                  f"{r['iterations']} iterations, {r['active']} active{stop}", flush=True)
    for ours, base in (("asp", "lars_path_gram"), ("asp", "orthogonal_mp_gram"),
                       ("omp", "orthogonal_mp_gram")):
        if ours in rows and base in rows and not rows[ours].get("timeout"):
            o, b = rows[ours], rows[base]
            bound = ">" if b.get("timeout") else ""
            memory = (f"x{bound}{b['peak_rss_mb'] / o['peak_rss_mb']:.2f}"
                      if b["peak_rss_mb"] else "unknown")
            print(f"  {base} / {ours}: time x{bound}{b['seconds'] / o['seconds']:.2f}, "
                  f"peak memory {memory}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-zuo", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-lars", action="store_true",
                        help="leave scikit-learn's lars_path_gram out")
    parser.add_argument("--water", action="store_true",
                        help="also ours on a 17,634-column system to 12,000 active")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="stop a method after this many seconds (default 3600)")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        method, system, k, iterations = args.worker
        worker(method, system, int(k), int(iterations))
        return
    methods = tuple(m for m in METHODS if not (args.skip_lars and m == "lars_path_gram"))
    if not args.skip_zuo:
        compare("Zuo Mo, order 3, total degree 25 (5,317 functions)", zuo_mo_system(), 5317,
                1000, args.timeout, methods)
    if not args.skip_synthetic:
        n, k = (3000, 1000) if args.quick else (13718, 5000)
        compare(f"synthetic, {n} columns", synthetic_system(n), n, k, args.timeout, methods)
    if args.water:
        compare("synthetic, 17,634 columns (water)", synthetic_system(17634), 17634, 12000,
                args.timeout, methods=("asp", "omp"))


if __name__ == "__main__":
    main()
