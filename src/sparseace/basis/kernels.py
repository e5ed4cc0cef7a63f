"""Numba kernels: atomic base A per atom, products through a DAG, design rows and site energies.

Pairs come sorted by centre atom: the neighbours of centre i are pair_ptr[i]:pair_ptr[i+1].
For a site energy E_i({r_ij}), dE_i/dr_ij is the "pair gradient" G_ij; force rows are
F_j -= G_ij, F_i += G_ij and the virial W -= r_ij (x) G_ij (W = -stress * volume), stored as
xx, yy, zz, yz, xz, xy.  The atomic base is laid out in runs (see ``table.AtomicBaseTable``):
``geometry`` = ``AtomicBaseTable.kernel_geometry()``, ``run_start`` its run pointers.  Products
of A are nodes of a ``dag.ProductDAG`` (parent, factor, order_ptr).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .harmonics import harmonics_workspace, real_harmonics
from .radial import ENVELOPE_PAIR, ENVELOPE_POLY, radial_functions

CHUNK = 16  # neighbours per pass of the neighbour force rows (see ``design_rows``)


@njit(cache=True)
def _neighbour_values(zi, zj, r, geometry, lmax, u, R, dR, Y, dY, P, dP, hwork):
    """Unit vector and distance u = (x, y, z, d), radial R, dR, pair P, dP and harmonics Y, dY of
    one neighbour at r = r_ij (Å)."""
    r0, sc, rec_mb, rec_pair = geometry
    d = np.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2])
    u[0], u[1], u[2], u[3] = r[0] / d, r[1] / d, r[2] / d, d
    radial_functions(d, r0[zi, zj], sc[0], sc[1], sc[2], sc[3], sc[4], rec_mb, len(R),
                     ENVELOPE_POLY, R, dR)
    radial_functions(d, r0[zi, zj], sc[0], sc[1], sc[5], sc[6], sc[7], rec_pair, len(P),
                     ENVELOPE_PAIR, P, dP)
    real_harmonics(u[:3], lmax, Y, dY, 1.0 / d, hwork)


@njit(cache=True)
def _environment(i, species, pair_ptr, pair_species, rij, geometry, run_start, lmax, U, R, dR, Y,
                 dY, P, dP, hwork, A):
    """Neighbour values of centre i (``_neighbour_values`` per neighbour) and its atomic base A."""
    n_radial = R.shape[1]
    A[:] = 0.0
    p0 = pair_ptr[i]
    for p in range(pair_ptr[i + 1] - p0):
        zj = pair_species[p0 + p]
        _neighbour_values(species[i], zj, rij[p0 + p], geometry, lmax, U[p], R[p], dR[p], Y[p],
                          dY[p], P[p], dP[p], hwork)
        for n in range(n_radial):
            a0 = run_start[zj * n_radial + n]
            r = R[p, n]
            for lm in range(run_start[zj * n_radial + n + 1] - a0):
                A[a0 + lm] += r * Y[p, lm]


@njit(cache=True)
def _dag_forward(parent, factor, lo, n1, hi, A, AA):
    """Products AA of the nodes lo:hi (order 1: lo:n1)."""
    for n in range(lo, n1):
        AA[n] = A[factor[n]]
    for n in range(n1, hi):
        AA[n] = AA[parent[n]] * A[factor[n]]


@njit(cache=True)
def _dag_adjoint(parent, factor, lo, n1, hi, A, AA, adj, gA):
    """Reverse sweep: adds to gA the derivative of sum_n adj[n] AA[n] with respect to A
    (adj is overwritten)."""
    for n in range(hi - 1, n1 - 1, -1):
        a = adj[n]
        f, par = factor[n], parent[n]
        gA[f] += a * AA[par]
        adj[par] += a * A[f]
    for n in range(lo, n1):
        gA[factor[n]] += adj[n]


@njit(cache=True)
def site_energies(species, pair_ptr, pair_species, rij, geometry, run_start, lmax, dag, coef,
                  pair_weights, E_site, dE_drij):
    """Site energies of a linear model and their pair gradients dE_i/dr_ij.

    dag = (parent, factor, order_ptr (NZ, MAX_ORDER + 1)): the products of centre species z
    are nodes order_ptr[z, 0]:order_ptr[z, -1] with coefficients coef; pair weights
    (NZ centre, NZ neighbour, pair_degree).  ``species`` indexes the centres only.
    """
    parent, factor, order_ptr = dag
    nlm = (lmax + 1) ** 2
    n_radial, n_pair = geometry[2].shape[0], geometry[3].shape[0]
    max_neigh = 1
    for i in range(len(species)):
        max_neigh = max(max_neigh, pair_ptr[i + 1] - pair_ptr[i])
    U, R, dR = np.zeros((max_neigh, 4)), np.zeros((max_neigh, n_radial)), np.zeros((max_neigh, n_radial))
    Y, dY = np.zeros((max_neigh, nlm)), np.zeros((max_neigh, nlm, 3))
    P, dP = np.zeros((max_neigh, n_pair)), np.zeros((max_neigh, n_pair))
    hwork = harmonics_workspace(lmax)
    A, gA = np.zeros(run_start[-1]), np.zeros(run_start[-1])
    AA, adj = np.zeros(len(factor)), np.zeros(len(factor))
    ga, gb = np.zeros(nlm), np.zeros(nlm)  # sum over n of gA times dR_n, R_n per lm
    for i in range(len(species)):
        zi = species[i]
        p0, p1 = pair_ptr[i], pair_ptr[i + 1]
        _environment(i, species, pair_ptr, pair_species, rij, geometry, run_start, lmax, U, R, dR,
                     Y, dY, P, dP, hwork, A)
        lo, n1, hi = order_ptr[zi, 0], order_ptr[zi, 1], order_ptr[zi, -1]
        _dag_forward(parent, factor, lo, n1, hi, A, AA)
        e = 0.0
        for n in range(lo, hi):
            e += coef[n] * AA[n]
            adj[n] = coef[n]
        gA[:] = 0.0
        _dag_adjoint(parent, factor, lo, n1, hi, A, AA, adj, gA)
        for p in range(p1 - p0):
            zj = pair_species[p0 + p]
            gr = 0.0  # radial derivative of the pair terms
            for q in range(n_pair):
                w = pair_weights[zi, zj, q]
                e += w * P[p, q]
                gr += w * dP[p, q]
            ga[:] = 0.0
            gb[:] = 0.0
            for n in range(n_radial):
                a0 = run_start[zj * n_radial + n]
                for lm in range(run_start[zj * n_radial + n + 1] - a0):
                    ga[lm] += gA[a0 + lm] * dR[p, n]
                    gb[lm] += gA[a0 + lm] * R[p, n]
            gu = gr  # coefficient of the unit vector
            gx, gy, gz = 0.0, 0.0, 0.0
            for lm in range(nlm):
                gu += ga[lm] * Y[p, lm]
                gx += gb[lm] * dY[p, lm, 0]
                gy += gb[lm] * dY[p, lm, 1]
                gz += gb[lm] * dY[p, lm, 2]
            dE_drij[p0 + p, 0] = gu * U[p, 0] + gx
            dE_drij[p0 + p, 1] = gu * U[p, 1] + gy
            dE_drij[p0 + p, 2] = gu * U[p, 2] + gz
        E_site[i] = e


@njit(cache=True)
def _species_ranges(p0, p1, pair_species, lo, hi):
    """Neighbours of a centre are sorted by species: lo[z]:hi[z] (relative to p0) hold species z."""
    lo[:] = 0
    hi[:] = 0
    for p in range(p1 - p0):
        z = pair_species[p0 + p]
        if hi[z] == 0:
            lo[z] = p
        hi[z] = p + 1


@njit(cache=True)
def _neighbour_chunks(lo, hi, chunk_lo, chunk_hi, chunk_species):
    """Split the neighbours of each species lo[z]:hi[z] into chunks of at most CHUNK; returns
    their number."""
    k = 0
    for z in range(len(lo)):
        for a in range(lo[z], hi[z], CHUNK):
            chunk_lo[k], chunk_hi[k], chunk_species[k] = a, min(a + CHUNK, hi[z]), z
            k += 1
    return k


@njit(cache=True)
def design_rows(species, pair_ptr, pair_second, rij, geometry, run_start, lmax, functions, pairs,
                E, F, W):
    """Accumulate energy rows E (K,), force rows F (N, 3, K) and virial rows W (6, K).

    Neighbours of each centre must be sorted by species.  functions = (fn_ptr (NZ+1,), col, u,
    loc_ptr, loc_factor, loc_parent, slot, coef, dep_ptr, dep): the selected many-body functions
    of centre species z are fn_ptr[z]:fn_ptr[z+1], with output column col and function u (one per
    local many-body function, shared by the centre species); function u is the weighted sum (coef,
    zero for the sub-products it needs only as parents) of the DAG nodes on its products' chains
    loc_ptr[u]:loc_ptr[u+1], listed parents first: node k is A[loc_factor[k]] times its parent,
    the node at position loc_parent[k] of that list (-1 for order 1), so that it equals the DAG's
    product bit for bit.  Function u depends on the entries dep[dep_ptr[u]:dep_ptr[u+1]] (sorted;
    slot: position of a node's factor there).  pairs = (ptr (NZ+1,), neighbour species, degree,
    col): the selected pair functions.

    Per centre, a first pass over the functions gives the energy rows, the derivatives J of each
    function by its entries (reverse sweep along its node list) and the centre's force and virial
    rows; a second pass per chunk of CHUNK neighbours of one species gives their force rows
    sum_d J_d grad phi_{dep_d}(r_ij), with the gradients of the chunk (``dphi``, one contiguous
    tile) kept in cache.
    """
    fn_ptr, fn_col, fn_u, loc_ptr, loc_factor, loc_parent, loc_slot, loc_coef, dep_ptr, dep_a = functions
    psel_ptr, psel_species, psel_deg, psel_col = pairs
    nz = geometry[0].shape[0]
    nlm = (lmax + 1) ** 2
    n_radial, n_pair = geometry[2].shape[0], geometry[3].shape[0]
    num_a = run_start[-1]
    n_fn = len(loc_ptr) - 1
    max_neigh, max_loc = 1, 1
    for i in range(len(species)):
        max_neigh = max(max_neigh, pair_ptr[i + 1] - pair_ptr[i])
    for u in range(n_fn):
        max_loc = max(max_loc, loc_ptr[u + 1] - loc_ptr[u])
    U, R, dR = np.zeros((max_neigh, 4)), np.zeros((max_neigh, n_radial)), np.zeros((max_neigh, n_radial))
    Y, dY = np.zeros((max_neigh, nlm)), np.zeros((max_neigh, nlm, 3))
    P, dP = np.zeros((max_neigh, n_pair)), np.zeros((max_neigh, n_pair))
    hwork = harmonics_workspace(lmax)
    pair_species = species[pair_second]
    A = np.zeros(num_a)
    J = np.zeros(dep_ptr[-1])  # d function / d its entries
    value, adj = np.zeros(max_loc), np.zeros(max_loc)  # a function's nodes and their adjoints
    grad = np.zeros(3)
    max_chunks = max_neigh // CHUNK + nz
    chunk_lo = np.zeros(max_chunks, dtype=np.int64)
    chunk_hi = np.zeros(max_chunks, dtype=np.int64)
    chunk_species = np.zeros(max_chunks, dtype=np.int64)
    dphi = np.zeros((max_chunks, num_a, 3 * CHUNK))  # grad phi_v(r_ij) of a chunk's neighbours
    dphi_centre = np.zeros((num_a, 9))  # sum over neighbours of grad phi_v and of r_ij (x) it
    Gp = np.zeros(3 * CHUNK)
    lo = np.zeros(nz, dtype=np.int64)
    hi = np.zeros(nz, dtype=np.int64)
    entry_species = np.zeros(num_a, dtype=np.int64)
    for z in range(nz):
        entry_species[run_start[z * n_radial]:run_start[(z + 1) * n_radial]] = z
    dep_species = np.zeros((n_fn, nz + 1), dtype=np.int64)  # deps of species z: [u, z]:[u, z+1]
    for u in range(n_fn):
        d = dep_ptr[u]
        for z in range(nz):
            dep_species[u, z] = d
            while d < dep_ptr[u + 1] and entry_species[dep_a[d]] == z:
                d += 1
        dep_species[u, nz] = d
    for i in range(len(species)):
        zi = species[i]
        if fn_ptr[zi + 1] == fn_ptr[zi] and psel_ptr[zi + 1] == psel_ptr[zi]:
            continue
        p0, p1 = pair_ptr[i], pair_ptr[i + 1]
        _environment(i, species, pair_ptr, pair_species, rij, geometry, run_start, lmax, U, R, dR,
                     Y, dY, P, dP, hwork, A)
        _species_ranges(p0, p1, pair_species, lo, hi)
        n_chunks = _neighbour_chunks(lo, hi, chunk_lo, chunk_hi, chunk_species)
        if fn_ptr[zi + 1] > fn_ptr[zi]:
            dphi_centre[:] = 0.0
            for k in range(n_chunks):
                z, a = chunk_species[k], chunk_lo[k]
                tile = dphi[k]
                for n in range(n_radial):
                    a0 = run_start[z * n_radial + n]
                    for lm in range(run_start[z * n_radial + n + 1] - a0):
                        v = a0 + lm
                        for p in range(a, chunk_hi[k]):
                            radial_part = dR[p, n] * Y[p, lm]
                            Rp = R[p, n]
                            r = rij[p0 + p]
                            for c in range(3):
                                grad[c] = radial_part * U[p, c] + Rp * dY[p, lm, c]
                                tile[v, 3 * (p - a) + c] = grad[c]
                                dphi_centre[v, c] += grad[c]
                            dphi_centre[v, 3] += r[0] * grad[0]
                            dphi_centre[v, 4] += r[1] * grad[1]
                            dphi_centre[v, 5] += r[2] * grad[2]
                            dphi_centre[v, 6] += r[1] * grad[2]
                            dphi_centre[v, 7] += r[0] * grad[2]
                            dphi_centre[v, 8] += r[0] * grad[1]
        # energy rows, J and the centre's force and virial rows
        for s in range(fn_ptr[zi], fn_ptr[zi + 1]):
            col, u = fn_col[s], fn_u[s]
            l0, l1, d0, d1 = loc_ptr[u], loc_ptr[u + 1], dep_ptr[u], dep_ptr[u + 1]
            B = 0.0
            for k in range(l1 - l0):
                par = loc_parent[l0 + k]
                x = A[loc_factor[l0 + k]]
                if par >= 0:
                    x *= value[par]
                value[k] = x
                c = loc_coef[l0 + k]
                adj[k] = c
                B += c * x
            E[col] += B
            J[d0:d1] = 0.0
            for k in range(l1 - l0 - 1, -1, -1):
                a = adj[k]
                par = loc_parent[l0 + k]
                if par < 0:
                    J[d0 + loc_slot[l0 + k]] += a
                else:
                    J[d0 + loc_slot[l0 + k]] += a * value[par]
                    adj[par] += a * A[loc_factor[l0 + k]]
            f0, f1, f2, w0, w1, w2, w3, w4, w5 = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
            for d in range(d0, d1):
                gd = J[d]
                dc = dphi_centre[dep_a[d]]
                f0 += gd * dc[0]
                f1 += gd * dc[1]
                f2 += gd * dc[2]
                w0 += gd * dc[3]
                w1 += gd * dc[4]
                w2 += gd * dc[5]
                w3 += gd * dc[6]
                w4 += gd * dc[7]
                w5 += gd * dc[8]
            F[i, 0, col] += f0
            F[i, 1, col] += f1
            F[i, 2, col] += f2
            W[0, col] -= w0
            W[1, col] -= w1
            W[2, col] -= w2
            W[3, col] -= w3
            W[4, col] -= w4
            W[5, col] -= w5
        # the neighbours' force rows, one chunk at a time: Gp = sum_d J_d dphi[dep_d], four
        # entries at a time
        for k in range(n_chunks):
            z, a, m = chunk_species[k], chunk_lo[k], chunk_hi[k] - chunk_lo[k]
            tile = dphi[k]
            for s in range(fn_ptr[zi], fn_ptr[zi + 1]):
                col, u = fn_col[s], fn_u[s]
                d, d1 = dep_species[u, z], dep_species[u, z + 1]
                if d == d1:
                    continue
                Gp[:3 * m] = 0.0
                while d + 4 <= d1:
                    v0, v1, v2, v3 = dep_a[d], dep_a[d + 1], dep_a[d + 2], dep_a[d + 3]
                    g0, g1, g2, g3 = J[d], J[d + 1], J[d + 2], J[d + 3]
                    for q in range(3 * m):
                        Gp[q] += (g0 * tile[v0, q] + g1 * tile[v1, q]
                                  + g2 * tile[v2, q] + g3 * tile[v3, q])
                    d += 4
                while d < d1:
                    g0, v0 = J[d], dep_a[d]
                    for q in range(3 * m):
                        Gp[q] += g0 * tile[v0, q]
                    d += 1
                for p in range(m):
                    j = pair_second[p0 + a + p]
                    for c in range(3):
                        F[j, c, col] -= Gp[3 * p + c]
        for s in range(psel_ptr[zi], psel_ptr[zi + 1]):
            zs, q, col = psel_species[s], psel_deg[s], psel_col[s]
            for p in range(lo[zs], hi[zs]):
                E[col] += P[p, q]
                j = pair_second[p0 + p]
                r = rij[p0 + p]
                for c in range(3):
                    grad[c] = dP[p, q] * U[p, c]
                    F[j, c, col] -= grad[c]
                    F[i, c, col] += grad[c]
                W[0, col] -= r[0] * grad[0]
                W[1, col] -= r[1] * grad[1]
                W[2, col] -= r[2] * grad[2]
                W[3, col] -= r[1] * grad[2]
                W[4, col] -= r[0] * grad[2]
                W[5, col] -= r[0] * grad[1]
