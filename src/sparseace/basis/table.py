"""The evaluation table of a basis: what the kernels and the LAMMPS exporter need.

The atomic base of a centre atom i is A[v] = sum over neighbours j of species s_v of
R_{deg_v}(r_ij) Y_{lm_v}(r_ij / |r_ij|): many-body radial functions R (``radial.py``, Jacobi(4,4)
recurrence) times real spherical harmonics Y (``harmonics.py``, flat index lm = l^2 + l + m).
Its entries are stored in runs: for neighbour species s, then radial degree n, the angular
indices lm = 0 .. (degree_lmax[s, n] + 1)^2 - 1, so that a neighbour adds R_n times a
contiguous block of its harmonics to each run.
The pair basis of a (centre, neighbour) species pair is P_q(r), q < pair_degree (Legendre
recurrence times the repulsive envelope).  Both use the Agnesi distance transform with the
bond length r0 of the species pair.  Distances in Å.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class AtomicBaseTable:
    """Radial and angular layout of the atomic base A and of the pair basis.

    elements : species order of every species index.
    r0 : (NZ, NZ) bond length of each (centre, neighbour) species pair (Å).
    rin, rcut : inner and outer cutoff (Å).
    transform, pair_transform : Agnesi (p, q, a) of the many-body and of the pair radial basis.
    radial_recurrence : (n_radial, 3) rows (rec0, rec1, norm) of the Jacobi(4,4) polynomials.
    pair_recurrence : (pair_degree, 3) the same for the Legendre polynomials of the pair basis.
    degree_lmax : (NZ, n_radial) largest l of the run of neighbour species s and radial degree n
        (-1: no run).
    """

    elements: tuple[str, ...]
    r0: np.ndarray
    rin: float
    rcut: float
    transform: tuple[float, float, float]
    pair_transform: tuple[float, float, float]
    radial_recurrence: np.ndarray
    pair_recurrence: np.ndarray
    degree_lmax: np.ndarray

    @property
    def nspecies(self) -> int:
        return len(self.elements)

    @property
    def lmax(self) -> int:
        return max(int(self.degree_lmax.max(initial=0)), 0)

    @property
    def n_radial(self) -> int:
        return len(self.radial_recurrence)

    @property
    def pair_degree(self) -> int:
        return len(self.pair_recurrence)

    @cached_property
    def run_start(self) -> np.ndarray:
        """(NZ * n_radial + 1,) first entry of the run of (species s, degree n) at s * n_radial + n."""
        sizes = (self.degree_lmax.ravel() + 1) ** 2
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    @property
    def num_a(self) -> int:
        """Number of atomic-base entries."""
        return int(self.run_start[-1])

    @cached_property
    def entries(self) -> dict[str, np.ndarray]:
        """Per atomic-base entry: neighbour species, radial degree (0-based) and lm."""
        run = np.repeat(np.arange(len(self.run_start) - 1), np.diff(self.run_start))
        return {"species": run // self.n_radial, "degree": run % self.n_radial,
                "lm": np.arange(self.num_a) - self.run_start[run]}

    def index(self, species, degree, lm) -> np.ndarray:
        """Entry index of (neighbour species, radial degree, lm); -1 where the table lacks it."""
        species, degree, lm = (np.asarray(x, dtype=np.int64) for x in (species, degree, lm))
        ok = degree < self.n_radial
        run = species * self.n_radial + np.where(ok, degree, 0)
        ok &= lm < (self.degree_lmax.ravel()[run] + 1) ** 2
        return np.where(ok, self.run_start[run] + lm, -1)

    def restrict(self, used) -> tuple["AtomicBaseTable", np.ndarray]:
        """The table of the runs holding the entries ``used`` (each run cut after the highest l
        used in it) and the map old entry -> new entry (-1 for dropped entries)."""
        e = self.entries
        used = np.unique(np.asarray(used, dtype=np.int64))
        lmax = -np.ones_like(self.degree_lmax)
        np.maximum.at(lmax, (e["species"][used], e["degree"][used]),
                      np.floor(np.sqrt(e["lm"][used])).astype(np.int64))
        n_radial = max(int(np.flatnonzero(lmax.max(axis=0) >= 0).max(initial=0)) + 1, 1)
        table = replace(self, degree_lmax=lmax[:, :n_radial],
                        radial_recurrence=self.radial_recurrence[:n_radial])
        return table, table.index(e["species"], e["degree"], e["lm"])

    def kernel_geometry(self) -> tuple:
        """(r0, scalars, radial_recurrence, pair_recurrence) as the numba kernels take them;
        scalars = rin, rcut, transform p q a, pair_transform p q a."""
        scalars = np.array([self.rin, self.rcut, *self.transform, *self.pair_transform], dtype=float)
        return (np.ascontiguousarray(self.r0, dtype=float), scalars,
                np.ascontiguousarray(self.radial_recurrence), np.ascontiguousarray(self.pair_recurrence))
