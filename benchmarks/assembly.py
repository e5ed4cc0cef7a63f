"""Benchmark: chunked assembly of the weighted design system, reduced by streaming QR.

    python benchmarks/assembly.py [--structures N] [--skip-full] [--skip-scaling]

1. Full run: the Zuo Cu training set (262 configurations, 27,416 atoms, 82,510 rows) at the
   study's Zuo settings (order 3, total degree 25: 5,317 functions), split into 4 chunks, each
   reduced by its own process, then a gather process combines the chunk files (as the
   workflow's jobs do).  Reports wall time and peak resident memory per job, next to the
   memory of the dense weighted design matrix (the baseline: the reference implementation
   holds it whole).
2. Scaling: the same data replicated 1x, 3x and 10x (up to 825,100 rows) at a reduced basis
   (order 3, total degree 15) in one chunk each: wall time grows with the rows, peak memory
   must not.
Data from the dataset mirror (SPARSEACE_MIRROR, default ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import peak_rss_mb, run_worker, zuo_frames


def worker(task: str, degree: int, replicas: int, chunks: int, structures: int | None, tmp: str):
    """task "chunk<i>": reduce chunk i to a factor file; "gather": combine the chunk files."""
    from sparseace.basis import ACEBasis
    from sparseace.design import assemble, chunk_bounds, combine

    frames = zuo_frames("Cu", "train", structures) * replicas
    basis = ACEBasis(["Cu"], 3, degree)
    files = [Path(tmp) / f"chunk{i}.npz" for i in range(chunks)]
    start = time.perf_counter()
    if task == "gather":
        factor = combine(files)
        result = {"rows": factor.nrows, "atoms": sum(len(a) for a in frames)}
    else:
        i = int(task[5:])
        a, b = chunk_bounds(len(frames), chunks)[i]
        basis.evaluate(frames[a])  # numba compilation / cache load outside the timing
        start = time.perf_counter()
        assemble(basis, frames[a:b], {"Cu": 0.0}).save(files[i])
        result = {}
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb(),
                      "functions": len(basis), **result}))


def run_case(degree: int, replicas: int, chunks: int, limit: list[str]) -> dict | None:
    """Chunk jobs then the gather job, each in its own process, as the workflow runs them."""
    with tempfile.TemporaryDirectory() as tmp:
        common = [str(degree), str(replicas), str(chunks), tmp, *limit]
        parts = [run_worker(__file__, f"chunk{i}", *common) for i in range(chunks)]
        gather = run_worker(__file__, "gather", *common)
    if gather is None or None in parts:
        return None
    return {"degree": degree, "replicas": replicas, "chunks": chunks, "rows": gather["rows"],
            "atoms": gather["atoms"], "functions": gather["functions"],
            "assemble_s": sum(p["seconds"] for p in parts), "gather_s": gather["seconds"],
            "chunk_rss_mb": max(p["peak_rss_mb"] for p in parts),
            "gather_rss_mb": gather["peak_rss_mb"],
            "dense_mb": gather["rows"] * (gather["functions"] + 1) * 8 / 2**20}


def report(r):
    peak = max(r["chunk_rss_mb"], r["gather_rss_mb"])
    print(f"  degree {r['degree']:>2}, {r['replicas']:>2}x data, {r['chunks']} chunk(s): "
          f"{r['atoms']} atoms, {r['rows']} rows x {r['functions']} functions; chunk jobs "
          f"{r['assemble_s']:.1f} s in all, gather {r['gather_s']:.1f} s; peak RSS per job: chunk "
          f"{r['chunk_rss_mb']:.0f} MB, gather {r['gather_rss_mb']:.0f} MB; the dense [W A | W y] "
          f"would be {r['dense_mb']:.0f} MB ({r['dense_mb'] / peak:.1f}x the peak)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--structures", type=int, default=None, help="limit (default: all 262)")
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    limit = ["--structures", str(args.structures)] if args.structures else []
    if args.worker:
        task, degree, replicas, chunks, tmp = args.worker
        worker(task, int(degree), int(replicas), int(chunks), args.structures, tmp)
        return
    if not args.skip_full:
        print("Zuo Cu training set, study settings (order 3, total degree 25):")
        r = run_case(25, 1, 4, limit)
        if r:
            report(r)
    if not args.skip_scaling:
        print("scaling with replicated data (order 3, total degree 15, one chunk):")
        results = [run_case(15, k, 1, limit) for k in (1, 3, 10)]
        for r in filter(None, results):
            report(r)
        if all(results):
            print(f"  rows x{results[-1]['rows'] / results[0]['rows']:.0f}: time "
                  f"x{results[-1]['assemble_s'] / results[0]['assemble_s']:.1f}, peak RSS "
                  f"x{results[-1]['chunk_rss_mb'] / results[0]['chunk_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
