"""Numba kernels: atomic base A per atom, design rows, and site energies of a linear model.

Pairs come sorted by centre atom: the neighbours of centre i are pair_ptr[i]:pair_ptr[i+1].
For a site energy E_i({r_ij}), dE_i/dr_ij is the "pair gradient" G_ij; force rows are
F_j -= G_ij, F_i += G_ij and the virial W -= r_ij (x) G_ij (W = -stress * volume), stored as
xx, yy, zz, yz, xz, xy.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .harmonics import harmonics_workspace, real_harmonics
from .radial import ENVELOPE_PAIR, ENVELOPE_POLY, radial_functions


@njit(cache=True, inline="always")
def _product_and_gradient(coef, factors, slots, A, pa, g):
    """coef * prod_k A[factors[k]] (factors padded with -1, at most 4); adds the derivative
    with respect to the k-th factor to g[slots[k]].  pa: workspace of >= 4 prefix products."""
    pre = 1.0
    nu = 0
    while nu < 4 and factors[nu] >= 0:
        pa[nu] = pre
        pre *= A[factors[nu]]
        nu += 1
    suf = coef
    for k in range(nu - 1, -1, -1):
        g[slots[k]] += pa[k] * suf
        suf *= A[factors[k]]
    return coef * pre


@njit(cache=True)
def _environment(i, p0, p1, species, pair_species, rij, geom, rec_mb, rec_pair, n_mb, n_pair,
                 lmax, a_species, a_deg, a_lm, U, R, dR, Y, dY, P, dP, A, hwork):
    """Radial/angular values of the neighbours of centre i (species geom-indexed) and its base A.

    geom = (r0 (NZ, NZ), scalars (rin, rcut, p, q, a, pair_p, pair_q, pair_a)).
    """
    r0, sc = geom
    zi = species[i]
    for v in range(A.shape[0]):
        A[v] = 0.0
    for p in range(p1 - p0):
        zj = pair_species[p0 + p]
        x, y, z = rij[p0 + p, 0], rij[p0 + p, 1], rij[p0 + p, 2]
        d = np.sqrt(x * x + y * y + z * z)
        U[p, 0], U[p, 1], U[p, 2] = x / d, y / d, z / d
        U[p, 3] = d
        radial_functions(d, r0[zi, zj], sc[0], sc[1], sc[2], sc[3], sc[4], rec_mb, n_mb,
                         ENVELOPE_POLY, R[p], dR[p])
        radial_functions(d, r0[zi, zj], sc[0], sc[1], sc[5], sc[6], sc[7], rec_pair, n_pair,
                         ENVELOPE_PAIR, P[p], dP[p])
        real_harmonics(U[p, :3], lmax, Y[p], dY[p], 1.0 / d, hwork)
        for v in range(A.shape[0]):
            if a_species[v] == zj:
                A[v] += R[p, a_deg[v]] * Y[p, a_lm[v]]


@njit(cache=True)
def _grad_phi(p, v, a_deg, a_lm, U, R, dR, Y, dY, out):
    """out += gradient of phi_v(r_ij) = R_deg(r) Y_lm(u) with respect to r_ij (neighbour p)."""
    deg, lm = a_deg[v], a_lm[v]
    radial_part = dR[p, deg] * Y[p, lm]
    Rp = R[p, deg]
    out[0] = radial_part * U[p, 0] + Rp * dY[p, lm, 0]
    out[1] = radial_part * U[p, 1] + Rp * dY[p, lm, 1]
    out[2] = radial_part * U[p, 2] + Rp * dY[p, lm, 2]


def _buffers(max_neigh, n_mb, n_pair, lmax, num_a):
    nlm = (lmax + 1) ** 2
    return (np.zeros((max_neigh, 4)), np.zeros((max_neigh, n_mb)), np.zeros((max_neigh, n_mb)),
            np.zeros((max_neigh, nlm)), np.zeros((max_neigh, nlm, 3)),
            np.zeros((max_neigh, n_pair)), np.zeros((max_neigh, n_pair)), np.zeros(num_a),
            harmonics_workspace(lmax))


@njit(cache=True)
def _species_ranges(p0, p1, pair_species, lo, hi):
    """Neighbours of a centre are sorted by species: lo[z]:hi[z] (relative to p0) hold species z."""
    for z in range(len(lo)):
        lo[z] = 0
        hi[z] = 0
    for p in range(p1 - p0):
        z = pair_species[p0 + p]
        if hi[z] == 0:
            lo[z] = p
        hi[z] = p + 1


@njit(cache=True)
def design_rows(species, pair_ptr, pair_second, rij, geom, rec_mb, rec_pair, n_mb, n_pair, lmax,
                a_species, a_deg, a_lm, term_ptr, term_coef, term_a, term_slot, dep_ptr, dep_a,
                sel_ptr, sel_fn, sel_col, psel_ptr, psel_species, psel_deg, psel_col,
                bufs, E, F, W):
    """Accumulate energy rows E (K,), force rows F (K, N, 3) and virial rows W (K, 6).

    Neighbours of each centre must be sorted by species.  sel_*: selected many-body functions
    grouped by centre species (sel_ptr (NZ+1,), local index sel_fn, output column sel_col);
    psel_*: selected pair functions (neighbour species, degree, column) grouped the same way.
    """
    U, R, dR, Y, dY, P, dP, A, hwork = bufs
    num_a, max_neigh = A.shape[0], U.shape[0]
    pair_species = species[pair_second]
    max_dep = 1
    for f in range(len(dep_ptr) - 1):
        max_dep = max(max_dep, dep_ptr[f + 1] - dep_ptr[f])
    g = np.zeros(max_dep)
    pa = np.zeros(8)
    grad = np.zeros(3)
    dphi = np.zeros((num_a, 3 * max_neigh))  # grad of phi_v(r_ij), neighbours contiguous
    dphi_sum = np.zeros((num_a, 3))  # sum over neighbours (minus the centre's force row)
    dphi_vir = np.zeros((num_a, 6))  # sum over neighbours of r_ij (x) grad phi_v
    Gp = np.zeros(3 * max_neigh)
    lo = np.zeros(geom[0].shape[0], dtype=np.int64)
    hi = np.zeros(geom[0].shape[0], dtype=np.int64)
    for i in range(len(species)):
        zi = species[i]
        if sel_ptr[zi + 1] == sel_ptr[zi] and psel_ptr[zi + 1] == psel_ptr[zi]:
            continue
        p0, p1 = pair_ptr[i], pair_ptr[i + 1]
        nn = p1 - p0
        _environment(i, p0, p1, species, pair_species, rij, geom, rec_mb, rec_pair, n_mb, n_pair,
                     lmax, a_species, a_deg, a_lm, U, R, dR, Y, dY, P, dP, A, hwork)
        _species_ranges(p0, p1, pair_species, lo, hi)
        if sel_ptr[zi + 1] > sel_ptr[zi]:
            for v in range(num_a):
                z = a_species[v]
                dphi_sum[v, :] = 0.0
                dphi_vir[v, :] = 0.0
                for p in range(lo[z], hi[z]):
                    _grad_phi(p, v, a_deg, a_lm, U, R, dR, Y, dY, grad)
                    r = rij[p0 + p]
                    for c in range(3):
                        dphi[v, 3 * p + c] = grad[c]
                        dphi_sum[v, c] += grad[c]
                    dphi_vir[v, 0] += r[0] * grad[0]
                    dphi_vir[v, 1] += r[1] * grad[1]
                    dphi_vir[v, 2] += r[2] * grad[2]
                    dphi_vir[v, 3] += r[1] * grad[2]
                    dphi_vir[v, 4] += r[0] * grad[2]
                    dphi_vir[v, 5] += r[0] * grad[1]
        for s in range(sel_ptr[zi], sel_ptr[zi + 1]):
            f, col = sel_fn[s], sel_col[s]
            d0, nd = dep_ptr[f], dep_ptr[f + 1] - dep_ptr[f]
            g[:nd] = 0.0
            B = 0.0
            for t in range(term_ptr[f], term_ptr[f + 1]):
                B += _product_and_gradient(term_coef[t], term_a[t], term_slot[t], A, pa, g)
            E[col] += B
            Gp[:3 * nn] = 0.0
            for d in range(nd):
                gd = g[d]
                if gd == 0.0:
                    continue
                v = dep_a[d0 + d]
                z = a_species[v]
                for q in range(3 * lo[z], 3 * hi[z]):
                    Gp[q] += gd * dphi[v, q]
                for c in range(3):
                    F[col, i, c] += gd * dphi_sum[v, c]
                for c in range(6):
                    W[col, c] -= gd * dphi_vir[v, c]
            for p in range(nn):
                j = pair_second[p0 + p]
                for c in range(3):
                    F[col, j, c] -= Gp[3 * p + c]
        for s in range(psel_ptr[zi], psel_ptr[zi + 1]):
            zs, q, col = psel_species[s], psel_deg[s], psel_col[s]
            for p in range(lo[zs], hi[zs]):
                E[col] += P[p, q]
                j = pair_second[p0 + p]
                r = rij[p0 + p]
                for c in range(3):
                    grad[c] = dP[p, q] * U[p, c]
                    F[col, j, c] -= grad[c]
                    F[col, i, c] += grad[c]
                W[col, 0] -= r[0] * grad[0]
                W[col, 1] -= r[1] * grad[1]
                W[col, 2] -= r[2] * grad[2]
                W[col, 3] -= r[1] * grad[2]
                W[col, 4] -= r[0] * grad[2]
                W[col, 5] -= r[0] * grad[1]


@njit(cache=True)
def site_energies(species, pair_ptr, pair_species, rij, geom, rec_mb, rec_pair, n_mb, n_pair,
                  lmax, a_species, a_deg, a_lm, c_ptr, c_coef, c_a, pair_weights, bufs,
                  E_site, dE_drij):
    """Site energies of a linear model and their pair gradients dE_i/dr_ij.

    Contracted many-body terms per centre species: c_ptr (NZ+1,), c_coef (T,), c_a (T, 4);
    pair weights (NZ centre, NZ neighbour, n_pair).  ``species`` indexes the centres only.
    """
    U, R, dR, Y, dY, P, dP, A, hwork = bufs
    gA = np.zeros(A.shape[0])
    pa = np.zeros(8)
    grad = np.zeros(3)
    for i in range(len(species)):
        zi = species[i]
        p0, p1 = pair_ptr[i], pair_ptr[i + 1]
        _environment(i, p0, p1, species, pair_species, rij, geom, rec_mb, rec_pair, n_mb, n_pair,
                     lmax, a_species, a_deg, a_lm, U, R, dR, Y, dY, P, dP, A, hwork)
        e = 0.0
        for v in range(A.shape[0]):
            gA[v] = 0.0
        for t in range(c_ptr[zi], c_ptr[zi + 1]):
            e += _product_and_gradient(c_coef[t], c_a[t], c_a[t], A, pa, gA)
        for p in range(p1 - p0):
            zj = pair_species[p0 + p]
            gx, gy, gz = 0.0, 0.0, 0.0
            for q in range(n_pair):
                w = pair_weights[zi, zj, q]
                e += w * P[p, q]
                gx += w * dP[p, q] * U[p, 0]
                gy += w * dP[p, q] * U[p, 1]
                gz += w * dP[p, q] * U[p, 2]
            for v in range(A.shape[0]):
                if a_species[v] != zj or gA[v] == 0.0:
                    continue
                _grad_phi(p, v, a_deg, a_lm, U, R, dR, Y, dY, grad)
                gx += gA[v] * grad[0]
                gy += gA[v] * grad[1]
                gz += gA[v] * grad[2]
            dE_drij[p0 + p, 0] = gx
            dE_drij[p0 + p, 1] = gy
            dE_drij[p0 + p, 2] = gz
        E_site[i] = e
