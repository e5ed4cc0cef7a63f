"""A linear combination of basis functions contracted onto the product (AA) basis.

sum_k c_k B_k over many-body functions B_k = sum_t coef_t prod A becomes, per centre species,
one weighted sum over distinct products of A, evaluated through a ``ProductDAG``; the pair
functions become weights per (centre, neighbour) species pair.  Cost of an evaluation scales
with the products the combination needs, not with the basis it was selected from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import kernels
from .dag import ProductDAG, build_dag
from .table import AtomicBaseTable


@dataclass(frozen=True)
class Contraction:
    """table : the atomic-base layout restricted to the entries the products use.
    dags, coefs : per centre species, the DAG of its products and the coefficient of each node
    (eV; zero for nodes needed only as parents).
    pair_weights : (NZ centre, NZ neighbour, pair_degree) coefficients of the pair basis (eV).

    Site energy of atom i of species z: sum_n coefs[z][n] AA_n + sum_j sum_q w[z, z_j, q] P_q(r_ij).
    """

    table: AtomicBaseTable
    dags: tuple[ProductDAG, ...]
    coefs: tuple[np.ndarray, ...]
    pair_weights: np.ndarray

    @cached_property
    def _kernel_dag(self):
        offsets = np.cumsum([0] + [len(d) for d in self.dags])
        parent = np.concatenate([np.where(d.parent >= 0, d.parent + o, -1)
                                 for d, o in zip(self.dags, offsets)]).astype(np.int64)
        factor = np.concatenate([d.factor for d in self.dags]).astype(np.int64)
        order_ptr = np.array([d.order_ptr + o for d, o in zip(self.dags, offsets)], dtype=np.int64)
        return (parent, factor, order_ptr), np.concatenate(self.coefs)

    def site_energies(self, centre_species, pair_ptr, pair_species, rij):
        """Site energies (eV) and pair gradients dE_i/dr_ij (eV/Å); pairs sorted by centre
        (neighbours of centre i: pair_ptr[i]:pair_ptr[i+1]), rij = r_j - r_i (Å)."""
        dag, coef = self._kernel_dag
        E_site = np.zeros(len(centre_species))
        dE = np.zeros((len(pair_species), 3))
        kernels.site_energies(centre_species, pair_ptr, pair_species, rij,
                              self.table.kernel_geometry(), self.table.run_start, self.table.lmax,
                              dag, coef, self.pair_weights, E_site, dE)
        return E_site, dE


def _ranges(starts, counts) -> np.ndarray:
    """Concatenation of the integer ranges starts[k] : starts[k] + counts[k]."""
    return (np.repeat(starts - np.cumsum(counts) + counts, counts)
            + np.arange(int(np.sum(counts)))).astype(np.int64)


def contract(basis, active, coefficients) -> Contraction:
    """Contraction of sum_k coefficients[k] B_{active[k]} (``ACEBasis.contract``)."""
    active = np.asarray(active, dtype=np.int64)
    coefficients = np.asarray(coefficients, dtype=float)
    mb, nz, nmb, npair = basis.mb, basis.nspecies, basis.n_manybody, basis.n_pair
    is_mb = active < nz * nmb
    centre, local, c = active[is_mb] // nmb, active[is_mb] % nmb, coefficients[is_mb]
    products, weights = [], []
    for z in range(nz):
        f = local[centre == z]
        counts = mb.term_ptr[f + 1] - mb.term_ptr[f]
        terms = _ranges(mb.term_ptr[f], counts)
        products.append(basis.term_entries[terms])
        weights.append(np.repeat(c[centre == z], counts) * mb.term_coef[terms])
    every = np.concatenate(products)
    table, remap = basis.table.restrict(every[every >= 0])
    dags, coefs = [], []
    for entries, w in zip(products, weights):
        dag, node = build_dag(np.where(entries >= 0, remap[entries], -1), shared=True)
        dags.append(dag)
        coefs.append(np.bincount(node, weights=w, minlength=len(dag)))
    pair_weights = np.zeros((nz, nz, basis.n_pair // nz))
    rel = active[~is_mb] - nz * nmb
    pc, pl = rel // npair, rel % npair
    np.add.at(pair_weights, (pc, pl % nz, pl // nz), coefficients[~is_mb])
    return Contraction(table, tuple(dags), tuple(coefs), pair_weights)
