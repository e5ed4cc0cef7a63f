"""Products of atomic-base entries as a directed acyclic graph (DAG).

A many-body function is a weighted sum of products A[v_1] ... A[v_nu] (nu <= 4).  In the DAG
each product of order nu is one node: an earlier node (a product of order nu - 1, its parent)
times one entry A[factor]; order-1 nodes are single entries (parent -1).  Nodes are sorted by
order, so one forward pass computes every product with one multiplication each, and one
reverse pass (the adjoint) turns dE/d(product) into dE/dA with two per node.

Two choices of parent.  ``prefix`` (design rows): the product without its last, largest
factor, so a product is computed the same way whatever other products share the DAG and the
design rows of a subset of functions equal the full basis' columns bit for bit.  ``shared``
(models): among the products with one factor dropped, one the model needs anyway if there is
one, else the one most of the products of that order could share, so a model is evaluated with
fewer intermediate products (the 1000-function Si model of benchmarks/md.py: 1189 order-2 nodes
instead of 1744; values agree with ``prefix`` to rounding).  Common parents are computed once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import MAX_ORDER


@dataclass(frozen=True)
class ProductDAG:
    """parent (n,): earlier node of one factor less, -1 for order 1; factor (n,): atomic-base
    entry; order_ptr (MAX_ORDER + 1,): nodes of order k are order_ptr[k-1]:order_ptr[k]."""

    parent: np.ndarray
    factor: np.ndarray
    order_ptr: np.ndarray

    def __len__(self) -> int:
        return len(self.factor)

    def products(self) -> np.ndarray:
        """(n, MAX_ORDER) factors of every node, sorted, padded with -1."""
        out = -np.ones((len(self), MAX_ORDER), dtype=np.int64)
        for k in range(1, MAX_ORDER + 1):
            lo, hi = self.order_ptr[k - 1], self.order_ptr[k]
            out[lo:hi, : k - 1] = out[self.parent[lo:hi], : k - 1]
            out[lo:hi, k - 1] = self.factor[lo:hi]
            out[lo:hi, :k] = np.sort(out[lo:hi, :k], axis=1)  # a shared parent's factor
        return out


def _digits(keys: np.ndarray, k: int, base: int) -> np.ndarray:
    """(n, k) factors of products encoded as base-``base`` numbers of k digits."""
    out = np.zeros((len(keys), k), dtype=np.int64)
    for t in range(k - 1, -1, -1):
        keys, out[:, t] = np.divmod(keys, base)
    return out


def _encode(rows: np.ndarray, base: int) -> np.ndarray:
    keys = np.zeros(len(rows), dtype=np.int64)
    for t in range(rows.shape[1]):
        keys = keys * base + rows[:, t]
    return keys


def _parents(keys: np.ndarray, k: int, base: int, needed: np.ndarray, shared: bool):
    """Parent keys (order k - 1) and factors of the order-k products ``keys`` (sorted, unique);
    ``needed``: the products of order k - 1 the DAG has anyway."""
    if not shared:
        return np.divmod(keys, base)
    rows = _digits(keys, k, base)
    drop = [np.delete(rows, i, axis=1) for i in range(k)]
    cand = np.stack([_encode(d, base) for d in drop], axis=1)
    repeated = np.zeros(cand.shape, dtype=bool)  # dropping either of equal factors: the same
    repeated[:, 1:] = rows[:, 1:] == rows[:, :-1]
    _, inverse = np.unique(cand.ravel(), return_inverse=True)
    count = np.bincount(inverse, weights=(~repeated).ravel().astype(float))[inverse]
    # a needed candidate first (count <= len(keys)), then the most shared one
    score = np.where(repeated, -1.0, count.reshape(cand.shape) + len(keys) * np.isin(cand, needed))
    pick = np.argmax(score, axis=1)
    at = np.arange(len(keys))
    return cand[at, pick], rows[at, pick]


def build_dag(products, shared: bool = False) -> tuple[ProductDAG, np.ndarray]:
    """DAG of the products (rows of sorted atomic-base entries, padded with -1 to MAX_ORDER);
    parents: prefixes, or ``shared`` ones (see the module docstring).

    Returns the DAG and, per product row, its node (equal rows share a node)."""
    products = np.asarray(products, dtype=np.int64).reshape(-1, MAX_ORDER)
    order = (products >= 0).sum(axis=1)
    padding = np.arange(MAX_ORDER) >= order[:, None]
    if np.any(order == 0) or np.any(products[padding] != -1) or \
            np.any(np.diff(np.where(padding, np.iinfo(np.int64).max, products), axis=1) < 0):
        raise ValueError("products must be non-empty sorted rows of entries padded with -1")
    base = int(products.max(initial=0)) + 1
    if float(base) ** MAX_ORDER >= 2.0 ** 62:
        raise ValueError(f"too many atomic-base entries ({base}) to encode products")
    keys = np.zeros(len(products), dtype=np.int64)  # base-`base` digits of the factors
    for t in range(MAX_ORDER):
        keys = np.where(t < order, keys * base + products[:, t], keys)
    nodes = {k: np.unique(keys[order == k]) for k in range(1, MAX_ORDER + 1)}
    parent_key, factor = {}, {}
    for k in range(MAX_ORDER, 1, -1):  # add the missing parents
        parent_key[k], factor[k] = _parents(nodes[k], k, base, nodes[k - 1], shared)
        nodes[k - 1] = np.union1d(nodes[k - 1], parent_key[k])
    factor[1] = nodes[1]
    order_ptr = np.cumsum([0] + [len(nodes[k]) for k in range(1, MAX_ORDER + 1)]).astype(np.int64)

    def node(keys_, k):
        return order_ptr[k - 1] + np.searchsorted(nodes[k], keys_)

    parent = [-np.ones(len(nodes[1]), dtype=np.int64)]
    parent += [node(parent_key[k], k - 1) for k in range(2, MAX_ORDER + 1)]
    factor = [factor[k] for k in range(1, MAX_ORDER + 1)]
    index = np.zeros(len(products), dtype=np.int64)
    for k in range(1, MAX_ORDER + 1):
        index[order == k] = node(keys[order == k], k)
    dag = ProductDAG(np.concatenate(parent).astype(np.int64),
                     np.concatenate(factor).astype(np.int64), order_ptr)
    return dag, index
