"""Shared pieces of the benchmarks: data from the mirror, peak memory, isolated workers."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def mirror() -> Path:
    return Path(os.environ.get("SPARSEACE_MIRROR", REPO.parent / "shared" / "data"))


def zuo_frames(element: str, split: str = "train", limit: int | None = None):
    """Canonical frames (REF_energy, REF_forces) of a Zuo 2020 file from the dataset mirror."""
    import ase.io

    path = mirror() / "zuo2020" / "xyz" / f"{element}_{split}.xyz.xz"
    if not path.exists():
        sys.exit(f"benchmark data not found: {path} (set SPARSEACE_MIRROR)")
    frames = ase.io.read(path, f":{limit or ''}")
    for atoms in frames:
        atoms.info["REF_energy"] = atoms.calc.get_potential_energy()
        atoms.arrays["REF_forces"] = atoms.arrays.pop("force")
        atoms.calc = None
    return frames


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_worker(script: str, *args: str) -> dict | None:
    """Run ``script --worker ...`` in a fresh process (own peak RSS); parse its last JSON line."""
    out = subprocess.run([sys.executable, script, "--worker", *args], capture_output=True,
                         text=True, cwd=REPO)
    if out.returncode:
        print(f"worker {args} failed:\n{out.stderr[-2000:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])
