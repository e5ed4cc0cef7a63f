"""Export of an ``ACEPotential`` as a model file of the ``pair_style sparseace`` plugin.

Model file format (text, whitespace separated, ``#`` starts a comment; version 2)::

    sparseace-lammps-model 2
    elements NZ  El_1 ... El_NZ              # species order of every index below
    eref  E_1 ... E_NZ                       # isolated-atom energies (eV), added per atom
    transform  rin rcut p q a                # many-body Agnesi transform (Å); rcut = cutoff
    pair_transform  p q a                    # pair-basis Agnesi transform
    r0  NZ*NZ values                         # r0[z_centre, z_neighbour] (Å), row-major
    radial  n_radial   n_radial rows of (rec0 rec1 norm)       # Jacobi(4,4) recurrence
    pair_radial  pair_degree   pair_degree rows of (rec0 rec1 norm)   # Legendre recurrence
    lmax  L
    degree_lmax  NZ*n_radial values          # L[s, n], row-major (-1: no entries; see below)
    pair_weights  NZ*NZ*pair_degree values   # w[z_centre, z_neighbour, q]
    dag z  n1 n2 n3 n4                       # for z = 0 .. NZ-1: nodes of order 1 .. 4, then
    n1+n2+n3+n4 rows of (parent factor coef) # one row per node, in that order
    end

Atomic base of a centre: for neighbour species s, radial degree n < n_radial, lm = l^2 + l + m
(|m| <= l <= L[s, n]), in that order, A = sum_{j of species s} R_n(r_ij) Y_lm(r_ij).  DAG of
centre species z: node k (0-based within z) is the product AA_k = AA_parent * A[factor] with
parent a node of one order less (-1 for order 1: AA_k = A[factor]).  The site energy of atom i
(species z) is ``Eref[z] + sum_k coef_k AA_k + sum_j sum_q w[z, z_j, q] P_q(r_ij)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..provenance import atomic_path

FILE_MAGIC = "sparseace-lammps-model"
FILE_VERSION = 2


def _floats(values) -> str:
    return " ".join(repr(float(v)) for v in np.ravel(values))


def export_model(model, path) -> Path:
    """Write ``model`` (an ``ACEPotential``) as a ``pair_style sparseace`` file (atomic write)."""
    c = model.contraction
    t = c.table
    lines = [
        f"{FILE_MAGIC} {FILE_VERSION}",
        f"# {len(model)} active functions of {model.basis!r}",
        f"elements {t.nspecies} " + " ".join(t.elements),
        "eref " + _floats([model.eref[e] for e in t.elements]),
        "transform " + _floats([t.rin, t.rcut, *t.transform]),
        "pair_transform " + _floats(t.pair_transform),
        "r0 " + _floats(t.r0),
        f"radial {t.n_radial}",
        *(_floats(row) for row in t.radial_recurrence),
        f"pair_radial {t.pair_degree}",
        *(_floats(row) for row in t.pair_recurrence),
        f"lmax {t.lmax}",
        "degree_lmax " + " ".join(str(int(n)) for n in t.degree_lmax.ravel()),
        "pair_weights " + _floats(c.pair_weights),
    ]
    for z, (dag, coef) in enumerate(zip(c.dags, c.coefs)):
        lines.append(f"dag {z} " + " ".join(str(int(n)) for n in np.diff(dag.order_ptr)))
        lines += [f"{p} {f} {w!r}" for p, f, w in zip(dag.parent.tolist(), dag.factor.tolist(),
                                                       coef.tolist())]
    lines.append("end")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path
