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
    """Peak resident memory of this process (MB).  On Linux from /proc (VmHWM): getrusage's
    maxrss of a worker also counts its parent's peak before the fork (kept across exec), e.g.
    the parent's generating a benchmark system."""
    peak = _peak_rss_of(os.getpid())
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _peak_rss_of(pid: int) -> float | None:
    """Peak resident memory (MB) of a running process, from /proc (Linux); None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def run_worker(script: str, *args: str, timeout: float | None = None) -> dict | None:
    """Run ``script --worker ...`` in a fresh process (own peak RSS); parse its last JSON line.
    A worker still running after ``timeout`` seconds is stopped and reported as
    {"timeout": True, "seconds": timeout, "peak_rss_mb": its peak so far}."""
    proc = subprocess.Popen([sys.executable, script, "--worker", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        peak = _peak_rss_of(proc.pid)
        proc.kill()
        proc.communicate()
        return {"timeout": True, "seconds": timeout, "peak_rss_mb": peak}
    if proc.returncode:
        print(f"worker {args} failed:\n{stderr[-2000:]}")
        return None
    return json.loads(stdout.strip().splitlines()[-1])
