"""Native LAMMPS pair style ``sparseace`` for linear ACE models, loaded as a LAMMPS plugin.

Usage::

    path = build_plugin()                      # compiled once, cached
    export_model(model, "model.sace")          # model: ACEPotential
    lmp.command(f"plugin load {path}")
    lmp.command("pair_style sparseace")
    lmp.command("pair_coeff * * model.sace Si")   # one element (or NULL) per atom type

Units metal (eV, Å); needs ``newton pair on`` (the default).  Energy, forces, global and
per-atom energy and virial agree with ``ACEPotential.evaluate`` (the C++ ports
``kernels.site_energies``, ``radial.py`` and ``harmonics.py``).

Model file format (text, whitespace separated, ``#`` starts a comment; version 1)::

    sparseace-lammps-model 1
    elements NZ  El_1 ... El_NZ              # species order of every index below
    eref  E_1 ... E_NZ                       # isolated-atom energies (eV), added per atom
    transform  rin rcut p q a                # many-body Agnesi transform (Å); rcut = cutoff
    pair_transform  p q a                    # pair-basis Agnesi transform
    r0  NZ*NZ values                         # r0[z_centre, z_neighbour] (Å), row-major
    radial  n_radial   n_radial rows of (rec0 rec1 norm)       # Jacobi(4,4) recurrence
    pair_radial  pair_degree   pair_degree rows of (rec0 rec1 norm)   # Legendre recurrence
    lmax  L
    atomic_base  num_a   num_a rows of (species degree lm)  # A_a = sum_j R_deg Y_lm, j of species
    pair_weights  NZ*NZ*pair_degree values   # w[z_centre, z_neighbour, q]
    products  T
    c_ptr  NZ+1 values                       # products of centre species z: c_ptr[z]:c_ptr[z+1]
    T rows of (coef a0 a1 a2 a3)             # coef * prod A[a_k], indices padded with -1
    end

The site energy of atom i (species z) is
``Eref[z] + sum_t coef_t prod_k A[a_tk] + sum_j sum_q w[z, z_j, q] P_q(r_ij)``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from ..provenance import atomic_path

FILE_MAGIC = "sparseace-lammps-model"
FILE_VERSION = 1
SOURCES = ("pair_sparseace.h", "pair_sparseace.cpp", "plugin.cpp")
CXXFLAGS = ("-std=c++17", "-O3", "-fPIC", "-shared", "-DLAMMPS_SMALLBIG")


def _floats(values) -> str:
    return " ".join(repr(float(v)) for v in np.ravel(values))


def _ints(values) -> str:
    return " ".join(str(int(v)) for v in np.ravel(values))


def export_model(model, path) -> Path:
    """Write ``model`` (an ``ACEPotential``) as a ``pair_style sparseace`` file (atomic write)."""
    basis, c = model.basis, model._contracted
    r0, scalars = basis._geom
    rin, rcut, p, q, a, pp, pq, pa = (float(s) for s in scalars)
    nz, n_radial = basis.nspecies, c["n_radial"]
    pair_degree = basis.options["pair_degree"]
    lines = [
        f"{FILE_MAGIC} {FILE_VERSION}",
        f"# {len(model)} active functions of {basis!r}",
        f"elements {nz} " + " ".join(basis.elements),
        "eref " + _floats([model.eref[e] for e in basis.elements]),
        "transform " + _floats([rin, rcut, p, q, a]),
        "pair_transform " + _floats([pp, pq, pa]),
        "r0 " + _floats(r0),
        f"radial {n_radial}",
        *(_floats(row) for row in basis._rec_mb[:n_radial]),
        f"pair_radial {pair_degree}",
        *(_floats(row) for row in basis._rec_pair[:pair_degree]),
        f"lmax {c['lmax']}",
        f"atomic_base {c['num_a']}",
        *(f"{s} {d} {lm}" for s, d, lm in zip(c["a_species"], c["a_deg"], c["a_lm"])),
        "pair_weights " + _floats(c["pair_weights"]),
        f"products {len(c['c_coef'])}",
        "c_ptr " + _ints(c["c_ptr"]),
        *(f"{coef!r} {_ints(idx)}" for coef, idx in zip(c["c_coef"].tolist(), c["c_a"])),
        "end",
    ]
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path


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


def build_plugin(build_dir=None, cxx: str | None = None) -> Path:
    """Compile the plugin (cached) and return the path of the shared object.

    Rebuilds only when the sources, flags, compiler or LAMMPS version change.  Build directory:
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
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((src / name).read_bytes())
    h.update(repr((CXXFLAGS, compiler, version, str(pkg))).encode())
    target = build_dir / f"sparseace-{h.hexdigest()[:16]}.so"
    if target.exists():
        return target
    build_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, ".so") as tmp:
        cmd = [compiler, *CXXFLAGS, f'-DLAMMPS_VERSION="{version}"',
               f"-I{pkg / 'include' / 'lammps'}", f"-I{mpi_include}",
               *(str(src / n) for n in SOURCES if n.endswith(".cpp")),
               "-o", str(tmp), f"-L{pkg}", "-llammps", f"-Wl,-rpath,{pkg}"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"building the sparseace LAMMPS plugin failed:\n{' '.join(cmd)}\n"
                               f"{out.stderr[-4000:]}")
    return target
