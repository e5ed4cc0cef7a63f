"""Specification of the many-body ACE basis: admissible tuples and their invariant couplings.

One-particle functions are indexed by (n, l): n >= 1 interleaves neighbour species and radial
degree (species = (n-1) mod NZ, degree = (n-1) div NZ + 1), l >= 0 the angular momentum; their
level is n/NZ + wL*l.  A many-body function of correlation order nu (1..order) couples a
multiset of nu one-particle functions whose levels sum to at most the total degree of that order;
each multiset carries as many functions as it has independent invariant couplings (see
``coupling``).  Order 1 (one factor, l = 0) is kept beside the pair basis.

Normalisation: a function is sum_m T[m] prod_t A[v_t] over all m-tuples, with T a symmetric
invariant tensor of norm sqrt(prod_i k_i!) (k_i: multiplicities of identical one-particle
functions in the multiset); the functions of one multiset have orthogonal T.  Both rules are those
of the reference (ACEpotentials 0.8.6 / EquivariantModels 0.0.5): docs/conventions.md.

Each function is stored as a list of product terms ``coef * prod_t A[v_t]`` over entries of the
atomic base A (index v of (n, l, m)); symmetric m-tuples of identical factors are merged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from math import factorial, prod, sqrt

import numpy as np

from .coupling import invariant_couplings

LEVEL_EPS = 1e-9
MAX_ORDER = 4
DROP_TOL = 1e-12  # relative size below which a coupling coefficient is rounding noise


def factor_level(n: int, l: int, nspecies: int, wL: float) -> float:
    return n / nspecies + wL * l


@dataclass
class ManyBodySpec:
    """Many-body functions of one centre species (identical for every centre species)."""

    op: np.ndarray  # (n_op, 2) one-particle (n, l), sorted by (l, n)
    a_offset: np.ndarray  # (n_op,) index of (n, l, m=-l) in A
    num_a: int
    fn_order: np.ndarray  # (K,) correlation order
    fn_factors: np.ndarray  # (K, MAX_ORDER) one-particle indices, -1 padded
    fn_coupling: np.ndarray  # (K,) index of the coupling within its multiset
    fn_level: np.ndarray  # (K,)
    term_ptr: np.ndarray  # (K+1,)
    term_coef: np.ndarray  # (T,)
    term_a: np.ndarray  # (T, MAX_ORDER) A indices, -1 padded
    dep_ptr: np.ndarray  # (K+1,)
    dep_a: np.ndarray  # (D,) distinct A indices each function depends on
    term_slot: np.ndarray  # (T, MAX_ORDER) position in the function's dep list, -1 padded

    def __len__(self) -> int:
        return len(self.fn_order)


def one_particle_functions(nspecies: int, maxlevel: float, wL: float,
                           limit: int | None = None) -> list[tuple[int, int]]:
    """One-particle (n, l) of level <= maxlevel, sorted by (l, n); ValueError when there are
    more than ``limit``."""
    ops = []
    l = 0
    while factor_level(1, l, nspecies, wL) <= maxlevel + LEVEL_EPS:
        n = 1
        while factor_level(n, l, nspecies, wL) <= maxlevel + LEVEL_EPS:
            ops.append((n, l))
            n += 1
            if limit is not None and len(ops) > limit:
                raise ValueError(f"totaldegree (level {maxlevel:g}) gives more than {limit} "
                                 "one-particle functions: far too large a basis to count")
        l += 1
    return ops  # sorted by (l, n)


def admissible_tuples(levels: np.ndarray, ls: np.ndarray, nu: int, maxlevel: float):
    """Non-decreasing index tuples of length nu with level sum <= maxlevel and even sum of l
    (a generator, in lexicographic order)."""
    minlev = float(levels.min())

    def rec(start: int, prefix: list[int], lev: float):
        remaining = nu - len(prefix)
        if remaining == 0:
            if sum(int(ls[i]) for i in prefix) % 2 == 0:
                yield tuple(prefix)
            return
        for i in range(start, len(levels)):
            if lev + levels[i] + (remaining - 1) * minlev > maxlevel + LEVEL_EPS:
                continue
            prefix.append(i)
            yield from rec(i, prefix, lev + levels[i])
            prefix.pop()

    yield from rec(0, [], 0.0)


@lru_cache(maxsize=None)
def _canonical_mtuples(ls: tuple[int, ...], runs: tuple[int, ...]):
    """Flat indices of m-tuples non-decreasing inside each run, their m values and multiplicity."""
    run_of = np.repeat(np.arange(len(runs)), runs)
    mranges = [range(-l, l + 1) for l in ls]
    flat, ms, mult = [], [], []
    for idx, mt in enumerate(itertools.product(*mranges)):
        ok = all(mt[t] <= mt[t + 1] for t in range(len(ls) - 1) if run_of[t] == run_of[t + 1])
        if not ok:
            continue
        k = 1
        start = 0
        for size in runs:
            block = mt[start:start + size]
            k *= factorial(size)
            for v in set(block):
                k //= factorial(block.count(v))
            start += size
        flat.append(idx)
        ms.append(mt)
        mult.append(k)
    return np.array(flat), np.array(ms).reshape(len(flat), len(ls)), np.array(mult, dtype=float)


def _one_particle_basis(nspecies: int, order: int, degrees: list[float], wL: float,
                        limit: int | None = None):
    """(op (n_op, 2) one-particle (n, l), their levels) that the many-body functions of
    orders 1..order with total degrees ``degrees`` can use (at most ``limit`` of them)."""
    if not 2 <= order <= MAX_ORDER:
        raise ValueError(f"correlation order must be between 2 and {MAX_ORDER}, got {order}")
    minlev = 1.0 / nspecies
    maxlev = max(degrees[nu - 1] - (nu - 1) * minlev for nu in range(1, order + 1))
    ops = one_particle_functions(nspecies, maxlev, wL, limit)
    if not ops:
        raise ValueError(f"totaldegree {degrees} admits no many-body function: the lowest "
                         f"level of order nu is nu/{nspecies}")
    op = np.array(ops, dtype=np.int64).reshape(-1, 2)
    return op, np.array([factor_level(n, l, nspecies, wL) for n, l in ops])


def _coupled_tuples(op: np.ndarray, levels: np.ndarray, order: int, degrees: list[float]):
    """Yield (nu, one-particle indices, their l, runs of identical factors, invariant couplings)
    of every admissible multiset with at least one coupling: one function per coupling."""
    for nu in range(1, order + 1):
        for tup in admissible_tuples(levels, op[:, 1], nu, degrees[nu - 1]):
            ls = tuple(int(op[i, 1]) for i in tup)
            runs = tuple(len(list(g)) for _, g in itertools.groupby(tup))
            C = invariant_couplings(ls, runs)
            if len(C):
                yield nu, tup, ls, runs, C


def count_manybody_functions(nspecies: int, order: int, degrees: list[float], wL: float,
                             limit: int | None = None) -> int:
    """The number of functions ``build_manybody_spec`` builds, counted by the same enumeration
    without building them; counting stops at the first count above ``limit`` (and refuses
    more than 10 x ``limit`` one-particle functions, whose list alone would be large)."""
    count = 0
    ops = _one_particle_basis(nspecies, order, degrees, wL, None if limit is None else 10 * limit)
    for *_, C in _coupled_tuples(*ops, order, degrees):
        count += len(C)
        if limit is not None and count > limit:
            break
    return count


def build_manybody_spec(nspecies: int, order: int, degrees: list[float], wL: float) -> ManyBodySpec:
    """All many-body functions (orders 1..order) for one centre species.

    ``degrees[nu-1]`` is the total degree of correlation order nu.
    """
    op, levels = _one_particle_basis(nspecies, order, degrees, wL)
    a_offset = np.concatenate([[0], np.cumsum(2 * op[:, 1] + 1)[:-1]]).astype(np.int64)

    records = []  # (order, level, factors, coupling, coef rows, mtuple data)
    for nu, tup, ls, runs, C in _coupled_tuples(op, levels, order, degrees):
        flat, ms, mult = _canonical_mtuples(ls, runs)
        # unit-norm couplings scaled to norm sqrt(prod k_i!), the reference's (module doc)
        coefs = C[:, flat] * mult * sqrt(prod(factorial(k) for k in runs))
        aidx = a_offset[list(tup)] + np.array(ls) + ms  # (n_canon, nu)
        lev = float(levels[list(tup)].sum())
        for c in range(len(C)):
            records.append((nu, lev, tup, c, coefs[c], aidx))
    # order within the block: by correlation order, then level, then factors
    records.sort(key=lambda rec: (rec[0], round(rec[1], 9), rec[2], rec[3]))
    # keep only the one-particle functions some tuple uses, and renumber A accordingly
    used = np.unique([i for rec in records for i in rec[2]]).astype(np.int64)
    new_index = -np.ones(len(op), dtype=np.int64)
    new_index[used] = np.arange(len(used))
    new_offset = np.concatenate([[0], np.cumsum(2 * op[used, 1] + 1)[:-1]]).astype(np.int64)
    a_map = -np.ones(int((2 * op[:, 1] + 1).sum()), dtype=np.int64)
    for new, old in enumerate(used):
        width = 2 * op[old, 1] + 1
        a_map[a_offset[old]:a_offset[old] + width] = new_offset[new] + np.arange(width)
    records = [(nu, lev, tuple(int(new_index[i]) for i in tup), c, coefs, a_map[aidx])
               for nu, lev, tup, c, coefs, aidx in records]
    op, a_offset = op[used], new_offset

    K = len(records)
    fn_order = np.array([r[0] for r in records], dtype=np.int64)
    fn_level = np.array([r[1] for r in records])
    fn_coupling = np.array([r[3] for r in records], dtype=np.int64)
    fn_factors = -np.ones((K, MAX_ORDER), dtype=np.int64)
    term_ptr = np.zeros(K + 1, dtype=np.int64)
    dep_ptr = np.zeros(K + 1, dtype=np.int64)
    coef_parts, a_parts, slot_parts, dep_parts = [], [], [], []
    for k, (nu, _, tup, _, coefs, aidx) in enumerate(records):
        fn_factors[k, :nu] = tup
        keep = np.abs(coefs) > DROP_TOL * np.abs(coefs).max()
        c, a = coefs[keep], aidx[keep]
        deps, inverse = np.unique(a, return_inverse=True)
        slots = inverse.reshape(a.shape)
        pad = -np.ones((len(c), MAX_ORDER), dtype=np.int64)
        a_pad, s_pad = pad.copy(), pad.copy()
        a_pad[:, :nu] = a
        s_pad[:, :nu] = slots
        coef_parts.append(c)
        a_parts.append(a_pad)
        slot_parts.append(s_pad)
        dep_parts.append(deps)
        term_ptr[k + 1] = term_ptr[k] + len(c)
        dep_ptr[k + 1] = dep_ptr[k] + len(deps)
    cat = lambda parts, shape: np.concatenate(parts) if parts else np.zeros(shape)
    return ManyBodySpec(
        op=op,
        a_offset=a_offset,
        num_a=int((2 * op[:, 1] + 1).sum()),
        fn_order=fn_order,
        fn_factors=fn_factors,
        fn_coupling=fn_coupling,
        fn_level=fn_level,
        term_ptr=term_ptr,
        term_coef=cat(coef_parts, (0,)),
        term_a=cat(a_parts, (0, MAX_ORDER)).astype(np.int64),
        dep_ptr=dep_ptr,
        dep_a=cat(dep_parts, (0,)).astype(np.int64),
        term_slot=cat(slot_parts, (0, MAX_ORDER)).astype(np.int64),
    )
