"""Checkpoints along model paths: validation error, TSVD debiasing, selection rules, files.

A ``Checkpoints`` object holds a handful of models of one solver (checkpoints of a sparse path,
points of a dense curve over basis size, or ARD fits at several thresholds): per model its
support, coefficients and validation RMSE, plus a ``label`` (lambda, basis size or
threshold), and ``at_size``: for each requested model size n, which checkpoint is the model of
n functions (conventions §4: for a path, the iterate where the active set first reaches n, as
a run with actMax = n ends; for a dense curve, the level-ordered basis of n; for ARD, the
threshold whose model has the most functions not above n).

Selection rules: ``final`` (the last model), ``final n`` (the model of n functions, the study's
rule), ``bysize n`` (the lowest validation error among models with at most n active
functions), ``byerror q`` (the smallest model within q times the lowest validation error).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import qr, svd

from ..provenance import atomic_path
from .paths import ModelPath
from .system import LstsqSystem


@dataclass
class Checkpoints:
    method: str
    labels: np.ndarray
    ptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    val_rmse: np.ndarray
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_models(cls, method, labels, supports, coefs, val_rmse, meta=None):
        ptr = np.concatenate([[0], np.cumsum([len(s) for s in supports])]).astype(np.int64)
        cat = (lambda xs, dt: np.concatenate(xs).astype(dt) if len(xs) else np.zeros(0, dt))
        return cls(method, np.asarray(labels, dtype=float), ptr, cat(supports, np.int64),
                   cat(coefs, float), np.asarray(val_rmse, dtype=float), dict(meta or {}))

    def __len__(self) -> int:
        return len(self.val_rmse)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.ptr)

    @property
    def at_size(self) -> dict[int, int]:
        """Requested model size n -> index of the checkpoint that is the model of n functions."""
        return {int(n): int(i) for n, i in self.meta.get("at_size", {}).items()}

    def support(self, i: int) -> np.ndarray:
        return self.indices[self.ptr[i]:self.ptr[i + 1]]

    def coef(self, i: int) -> np.ndarray:
        return self.values[self.ptr[i]:self.ptr[i + 1]]

    def rescaled(self, prior) -> "Checkpoints":
        """The same models with coefficients of the preconditioned system theta turned into
        physical coefficients c = theta / P (``prior``: the diagonal P of every function)."""
        prior = np.asarray(prior, dtype=float)
        return Checkpoints(self.method, self.labels, self.ptr, self.indices,
                           self.values / prior[self.indices], self.val_rmse,
                           {**self.meta, "coefficients": "physical (c = theta / P)"})

    def select(self, rule: str) -> int:
        """Index of the model picked by ``final``, ``final <n>``, ``bysize <n>`` or
        ``byerror <q>``."""
        kind, _, arg = rule.partition(" ")
        if kind == "final" and not arg:
            return len(self) - 1
        if kind == "final":
            if int(arg) not in self.at_size:
                raise ValueError(f"no model of {arg} functions was recorded (requested sizes: "
                                 f"{sorted(self.at_size)}); add {arg} to the fit's model sizes")
            return self.at_size[int(arg)]
        if kind == "bysize":
            ok = np.flatnonzero(self.sizes <= int(arg))
            if not len(ok):
                raise ValueError(f"no model with at most {arg} active functions")
            return int(ok[np.argmin(self.val_rmse[ok])])
        if kind == "byerror":
            ok = np.flatnonzero(self.val_rmse <= float(arg) * self.val_rmse.min())
            return int(ok[np.lexsort((self.val_rmse[ok], self.sizes[ok]))[0]])
        raise ValueError(f"unknown selection rule {rule!r} (final, final <n>, bysize <n>, "
                         "byerror <q>)")

    def save(self, path) -> None:
        with atomic_path(path, ".npz") as tmp:
            np.savez(tmp, labels=self.labels, ptr=self.ptr, indices=self.indices,
                     values=self.values, val_rmse=self.val_rmse,
                     meta=json.dumps({"method": self.method, **self.meta}))

    @classmethod
    def load(cls, path) -> "Checkpoints":
        with np.load(path, allow_pickle=False) as d:
            meta = json.loads(str(d["meta"]))
            return cls(meta.pop("method"), d["labels"], d["ptr"], d["indices"], d["values"],
                       d["val_rmse"], meta)


def checkpoint_iterates(n_iterates: int, count: int = 100) -> np.ndarray:
    """About ``count`` iterate indices evenly spread along a path, always the last."""
    if n_iterates == 0:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(0, n_iterates - 1, min(count, n_iterates)).round().astype(int))


def tsvd_debias(train: LstsqSystem, val: LstsqSystem, support, coef):
    """Truncated-SVD least squares on ``support``, truncated at the rank (any of 1..k) with the
    lowest validation RMSE.

    One pass: with the SVD U S V^T of the training block, the rank-t solution is
    x_t = x_{t-1} + v_t y_t / s_t, so the validation residual is updated rank by rank from the
    validation images of the v_t (one product, the cost of one more solve).  Returns
    (coefficients, validation RMSE, rank); the given coefficients are kept (rank -1) when no
    truncation beats them, so debiasing never raises the validation error."""
    best = (np.asarray(coef, dtype=float), val.rmse(coef, support), -1)
    if len(support) == 0:
        return best
    Q, R = qr(train.R[:, support], mode="economic")
    U, s, Vt = svd(R)
    rank = int(np.sum(s > s[0] * 1e-14)) if s[0] > 0 else 0
    g = (U.T @ (Q.T @ train.z))[:rank] / s[:rank]  # x_t = Vt[:t].T @ g[:t]
    images = val.R[:, support] @ Vt[:rank].T
    residual = -val.z.copy()
    sq = np.empty(rank)
    for t in range(rank):
        residual += g[t] * images[:, t]
        sq[t] = residual @ residual
    if rank:
        t = int(np.argmin(sq)) + 1
        rmse = float(np.sqrt((sq[t - 1] + val.rho2) / max(val.nrows, 1)))
        if rmse < best[1]:
            best = (Vt[:t].T @ g[:t], rmse, t)
    return best


def first_reached(sizes, wanted) -> dict[int, int]:
    """n -> the first index i with sizes[i] == n, for every n in ``wanted`` that occurs."""
    sizes = np.asarray(sizes)
    out = {}
    for n in wanted:
        hits = np.flatnonzero(sizes == int(n))
        if len(hits):
            out[int(n)] = int(hits[0])
    return out


def path_checkpoints(path: ModelPath, train: LstsqSystem, val: LstsqSystem, count: int = 100,
                     debias: str | None = None, sizes=()) -> Checkpoints:
    """Checkpoints of a sparse path with validation RMSE, optionally TSVD-debiased: about
    ``count`` iterates evenly spread, plus, for every n in ``sizes``, the iterate where the
    active set first reaches n (the model of n functions; a path that never reaches n ends with
    fewer, and its last iterate is that model, as for a run with actMax = n)."""
    if debias not in (None, "none", "tsvd"):
        raise ValueError(f"unknown debiasing {debias!r} (tsvd or none)")
    reached = first_reached(path.sizes, sizes)
    iterates = np.union1d(checkpoint_iterates(len(path), count),
                          np.array(list(reached.values()), dtype=np.int64))
    position = {int(it): k for k, it in enumerate(iterates)}
    at_size = {str(int(n)): position[reached[n]] if n in reached else len(iterates) - 1
               for n in sizes}
    supports, coefs, rmse, ranks = [], [], [], []
    for i in iterates:
        S, x = path.support(i), path.coef(i)
        if debias == "tsvd":
            x, r, rank = tsvd_debias(train, val, S, x)
        else:
            r, rank = val.rmse(x, S), -1
        supports.append(S)
        coefs.append(x)
        rmse.append(r)
        ranks.append(rank)
    return Checkpoints.from_models(path.method, path.lambdas[iterates], supports, coefs, rmse,
                                   {"iterates": iterates.tolist(), "tsvd_rank": ranks,
                                    "debias": debias or "none", "stop_reason": path.stop_reason,
                                    "path_iterates": len(path), "at_size": at_size,
                                    **path.settings})
