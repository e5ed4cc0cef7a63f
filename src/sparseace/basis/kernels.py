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
def design_rows(species, pair_ptr, pair_second, rij, geometry, run_start, lmax, dag, functions,
                pairs, E, F, W):
    """Accumulate energy rows E (K,), force rows F (K, N, 3) and virial rows W (K, 6).

    Neighbours of each centre must be sorted by species.  dag = (parent, factor, order_ptr) holds
    the products of the selected functions.  functions = (fn_ptr (NZ+1,), col, u, loc_ptr, node,
    loc_parent, slot, coef, dep_ptr, dep): the selected many-body functions of centre species z
    are fn_ptr[z]:fn_ptr[z+1], with output column col and function u (one per local many-body
    function, shared by the centre species); function u is the weighted sum of the nodes
    node[loc_ptr[u]:loc_ptr[u+1]] (coef, zero for the sub-products it needs only as parents;
    listed parents first, loc_parent the position of the parent in that list, -1 for order 1) and
    depends on the entries dep[dep_ptr[u]:dep_ptr[u+1]] (slot: position of a node's factor there).
    pairs = (ptr (NZ+1,), neighbour species, degree, col): the selected pair functions.
    """
    parent, factor, order_ptr = dag
    fn_ptr, fn_col, fn_u, loc_ptr, loc_node, loc_parent, loc_slot, loc_coef, dep_ptr, dep_a = functions
    psel_ptr, psel_species, psel_deg, psel_col = pairs
    nz = geometry[0].shape[0]
    nlm = (lmax + 1) ** 2
    n_radial, n_pair = geometry[2].shape[0], geometry[3].shape[0]
    num_a = run_start[-1]
    max_neigh, max_dep, max_loc = 1, 1, 1
    for i in range(len(species)):
        max_neigh = max(max_neigh, pair_ptr[i + 1] - pair_ptr[i])
    for u in range(len(loc_ptr) - 1):
        max_dep = max(max_dep, dep_ptr[u + 1] - dep_ptr[u])
        max_loc = max(max_loc, loc_ptr[u + 1] - loc_ptr[u])
    U, R, dR = np.zeros((max_neigh, 4)), np.zeros((max_neigh, n_radial)), np.zeros((max_neigh, n_radial))
    Y, dY = np.zeros((max_neigh, nlm)), np.zeros((max_neigh, nlm, 3))
    P, dP = np.zeros((max_neigh, n_pair)), np.zeros((max_neigh, n_pair))
    hwork = harmonics_workspace(lmax)
    pair_species = species[pair_second]
    A, AA = np.zeros(num_a), np.zeros(len(factor))
    g, adj = np.zeros(max_dep), np.zeros(max_loc)
    grad = np.zeros(3)
    dphi = np.zeros((num_a, 3 * max_neigh))  # grad of phi_v(r_ij), neighbours contiguous
    dphi_sum = np.zeros((num_a, 3))  # sum over neighbours (minus the centre's force row)
    dphi_vir = np.zeros((num_a, 6))  # sum over neighbours of r_ij (x) grad phi_v
    Gp = np.zeros(3 * max_neigh)
    lo = np.zeros(nz, dtype=np.int64)
    hi = np.zeros(nz, dtype=np.int64)
    entry_species = np.zeros(num_a, dtype=np.int64)
    for z in range(nz):
        entry_species[run_start[z * n_radial]:run_start[(z + 1) * n_radial]] = z
    for i in range(len(species)):
        zi = species[i]
        if fn_ptr[zi + 1] == fn_ptr[zi] and psel_ptr[zi + 1] == psel_ptr[zi]:
            continue
        p0, p1 = pair_ptr[i], pair_ptr[i + 1]
        nn = p1 - p0
        _environment(i, species, pair_ptr, pair_species, rij, geometry, run_start, lmax, U, R, dR,
                     Y, dY, P, dP, hwork, A)
        _species_ranges(p0, p1, pair_species, lo, hi)
        if fn_ptr[zi + 1] > fn_ptr[zi]:
            _dag_forward(parent, factor, order_ptr[0], order_ptr[1], order_ptr[-1], A, AA)
            for z in range(nz):
                for n in range(n_radial):
                    a0 = run_start[z * n_radial + n]
                    for lm in range(run_start[z * n_radial + n + 1] - a0):
                        v = a0 + lm
                        dphi_sum[v, :] = 0.0
                        dphi_vir[v, :] = 0.0
                        for p in range(lo[z], hi[z]):
                            radial_part = dR[p, n] * Y[p, lm]
                            Rp = R[p, n]
                            r = rij[p0 + p]
                            for c in range(3):
                                grad[c] = radial_part * U[p, c] + Rp * dY[p, lm, c]
                                dphi[v, 3 * p + c] = grad[c]
                                dphi_sum[v, c] += grad[c]
                            dphi_vir[v, 0] += r[0] * grad[0]
                            dphi_vir[v, 1] += r[1] * grad[1]
                            dphi_vir[v, 2] += r[2] * grad[2]
                            dphi_vir[v, 3] += r[1] * grad[2]
                            dphi_vir[v, 4] += r[0] * grad[2]
                            dphi_vir[v, 5] += r[0] * grad[1]
        for s in range(fn_ptr[zi], fn_ptr[zi + 1]):
            col, u = fn_col[s], fn_u[s]
            l0, l1, d0, nd = loc_ptr[u], loc_ptr[u + 1], dep_ptr[u], dep_ptr[u + 1] - dep_ptr[u]
            B = 0.0
            for k in range(l1 - l0):
                c = loc_coef[l0 + k]
                adj[k] = c
                B += c * AA[loc_node[l0 + k]]
            E[col] += B
            g[:nd] = 0.0
            for k in range(l1 - l0 - 1, -1, -1):
                a = adj[k]
                node = loc_node[l0 + k]
                par = parent[node]
                if par < 0:
                    g[loc_slot[l0 + k]] += a
                else:
                    g[loc_slot[l0 + k]] += a * AA[par]
                    adj[loc_parent[l0 + k]] += a * A[factor[node]]
            for d in range(nd):
                gd = g[d]
                v = dep_a[d0 + d]
                for c in range(3):
                    F[col, i, c] += gd * dphi_sum[v, c]
                for c in range(6):
                    W[col, c] -= gd * dphi_vir[v, c]
            # Gp = sum_d g_d dphi[dep_d]: four entries of one neighbour species at a time
            Gp[:3 * nn] = 0.0
            d = 0
            while d < nd:
                v0 = dep_a[d0 + d]
                z = entry_species[v0]
                if d + 4 <= nd and entry_species[dep_a[d0 + d + 3]] == z:
                    v1, v2, v3 = dep_a[d0 + d + 1], dep_a[d0 + d + 2], dep_a[d0 + d + 3]
                    g0, g1, g2, g3 = g[d], g[d + 1], g[d + 2], g[d + 3]
                    for q in range(3 * lo[z], 3 * hi[z]):
                        Gp[q] += (g0 * dphi[v0, q] + g1 * dphi[v1, q]
                                  + g2 * dphi[v2, q] + g3 * dphi[v3, q])
                    d += 4
                else:
                    g0 = g[d]
                    for q in range(3 * lo[z], 3 * hi[z]):
                        Gp[q] += g0 * dphi[v0, q]
                    d += 1
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
