"""SNAP baseline: a linear SNAP potential fitted with this package's dense solvers to the
bispectrum rows of LAMMPS' ``compute snap``, written as ``pair_style snap`` files.

Descriptors: ``compute snap`` (LAMMPS ML-SNAP) on each configuration, one element radius 0.5
and weight 1 per species (cutoff rcut = rcutfac for every pair: a species-blind neighbour
density with a coefficient set per centre species), ``bzeroflag 0``, ``switchflag 1``.  Rows
are weighted as ours (``sparseace.design.weighted_rows``): the total-energy row (per
species the atom count and the summed bispectrum of its atoms; target E - sum Eref) by
wE / sqrt(N), the 3N force rows by wF (weights per config_type); virials are not fitted.  The
per-species constant beta_0 + Eref goes to the coefficient file, so that LAMMPS' energies are
total energies.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._lammps import lammps_quote, new_lammps
from .design import DesignFactor, TriangularAccumulator, weighted_rows
from .md import create_structure
from .provenance import atomic_path
from .solvers.dense import BLR, RRQR
from .solvers.system import LstsqSystem

RFAC0 = 0.99363  # LAMMPS' and FitSNAP's usual value (examples/snap, the Zuo 2020 files)
SOLVERS = {"rrqr": RRQR, "blr": BLR}


@dataclass
class SnapModel:
    """A linear SNAP potential: ``coefficients[s]`` = (beta_0 + Eref, beta_1 .. beta_K) of
    ``species[s]`` (eV), K bispectrum components of ``twojmax``; cutoff ``rcut`` (Å)."""

    species: tuple[str, ...]
    twojmax: int
    rcut: float
    coefficients: np.ndarray
    rfac0: float = RFAC0
    rmin0: float = 0.0

    def write(self, stem) -> tuple[Path, Path]:
        """Write ``<stem>.snapcoeff`` and ``<stem>.snapparam`` (atomically); their paths."""
        coeff, param = Path(f"{stem}.snapcoeff"), Path(f"{stem}.snapparam")
        k = self.coefficients.shape[1]
        lines = ["# linear SNAP fitted by sparseace.snap", "", f"{len(self.species)} {k}"]
        for s, beta in zip(self.species, self.coefficients):
            lines += [f"{s} 0.5 1.0", *(repr(float(b)) for b in beta)]
        with atomic_path(coeff) as tmp:
            tmp.write_text("\n".join(lines) + "\n")
        with atomic_path(param) as tmp:
            tmp.write_text(f"rcutfac {self.rcut!r}\ntwojmax {self.twojmax}\nrfac0 {self.rfac0!r}\n"
                           f"rmin0 {self.rmin0!r}\nswitchflag 1\nbzeroflag 0\nquadraticflag 0\n")
        return coeff, param


def snap_pair(coeff, param, species) -> list[str]:
    """LAMMPS commands of ``pair_style snap`` from a coefficient and a parameter file."""
    return ["pair_style snap",
            f"pair_coeff * * {lammps_quote(coeff)} {lammps_quote(param)} {' '.join(species)}"]


def snap_file_sizes(coeff, param) -> tuple[int, int]:
    """(coefficients in all, twojmax) of a ``pair_style snap`` coefficient and parameter file."""
    def entries(path):
        lines = (line.split("#")[0].split() for line in Path(path).read_text().splitlines())
        return [fields for fields in lines if fields]

    nelements, ncoeff = map(int, entries(coeff)[0][:2])
    twojmax = next(int(f[1]) for f in entries(param) if f[0] == "twojmax")
    return nelements * ncoeff, twojmax


def snap_rows(frames, species, twojmax: int, rcut: float, rfac0: float = RFAC0,
              rmin0: float = 0.0, source: str = "<frames>"):
    """Per configuration, in turn: (energy row, force rows (3N, C)) of ``compute snap``,
    C = S (K + 1) columns: per species s (order of ``species``) its atom count (energy row; 0
    in force rows) then its K bispectrum columns (energy: summed over its atoms; forces: the
    force components of atoms 1..N, x y z each, per unit coefficient)."""
    if twojmax < 0 or twojmax % 2:
        raise ValueError(f"twojmax must be an even non-negative integer, got {twojmax!r}")
    S = len(species)
    radii, weights = " ".join(["0.5"] * S), " ".join(["1.0"] * S)
    with closing(new_lammps()) as lmp:
        for index, atoms in enumerate(frames):
            unknown = sorted(set(atoms.get_chemical_symbols()) - set(species))
            if unknown:
                raise ValueError(f"{source}, frame {index}: elements {unknown} are not among the "
                                 f"SNAP species {list(species)}")
            lmp.command("clear")
            create_structure(lmp, atoms, species)
            lmp.commands_string(f"""
pair_style zero {rcut!r}
pair_coeff * *
compute snap all snap {rcut!r} {rfac0!r} {twojmax} {radii} {weights} &
    rmin0 {rmin0!r} bzeroflag 0 switchflag 1
thermo_style custom step pe
run 0
""")
            N = len(atoms)
            A = np.array(lmp.numpy.extract_compute("snap", 0, 2), dtype=float)
            K = (A.shape[1] - 1) // S  # bispectrum components per species
            if A.shape != (1 + 3 * N + 6, S * K + 1) or not np.all(np.isfinite(A)):
                raise RuntimeError(f"{source}, frame {index}: compute snap gave {A.shape} rows x "
                                   f"columns (non-finite: {np.count_nonzero(~np.isfinite(A))}) "
                                   f"for {N} atoms and {S} species")
            counts = np.array([atoms.get_chemical_symbols().count(s) for s in species], float)
            energy = np.zeros(S * (K + 1))
            forces = np.zeros((3 * N, S * (K + 1)))
            for s in range(S):
                energy[s * (K + 1)] = counts[s]
                energy[s * (K + 1) + 1:(s + 1) * (K + 1)] = A[0, s * K:(s + 1) * K]
                forces[:, s * (K + 1) + 1:(s + 1) * (K + 1)] = A[1:1 + 3 * N, s * K:(s + 1) * K]
            yield energy, forces


def fit_snap(frames, species, eref: dict, twojmax: int, rcut: float, weights: dict | None = None,
             solver: str = "rrqr", options: dict | None = None, source: str = "<frames>"
             ) -> SnapModel:
    """A linear SNAP fitted to the energies and forces of ``frames`` (weights and targets as
    our fits', see the module docstring) by ``solver`` (rrqr or blr, with ``options``)."""
    if solver not in SOLVERS:
        raise ValueError(f"SNAP solver {solver!r}: one of {sorted(SOLVERS)}")
    rows = snap_rows(frames, species, twojmax, rcut, source=source)
    acc = None  # the weighted rows streamed into a triangular factor, a configuration at a time
    for index, (atoms, (energy, forces)) in enumerate(zip(frames, rows)):
        A, y, _ = weighted_rows(atoms, energy, forces, None, eref, weights,
                                f"{source}, frame {index}")
        if acc is None:
            acc = TriangularAccumulator(A.shape[1])
        acc.add(A, y)
    if acc is None:
        raise ValueError(f"{source}: no configurations to fit a SNAP to")
    system = LstsqSystem.from_factor(DesignFactor(acc.factor(), acc.nrows, ones=acc.ones()))
    coef = SOLVERS[solver](**(options or {})).fit_system(system).coef_
    beta = coef.reshape(len(species), -1).copy()
    beta[:, 0] += [eref[s] for s in species]
    return SnapModel(tuple(species), twojmax, float(rcut), beta)
