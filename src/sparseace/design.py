"""Weighted least-squares design systems, reduced by streaming QR.

Rows per configuration (conventions §3): one total-energy row with weight wE/sqrt(N), 3N force
rows with weight wF and 6 virial rows (xx, yy, zz, yz, xz, xy) with weight wV/sqrt(N), each only
where the data has that quantity; energy targets are E - sum_i Eref[Z_i].  Weights come per
``config_type``.

The rows are never held together: they are folded batch by batch into the triangular factor of
the augmented matrix [W A | W y] (triangular-pentagonal QR, LAPACK ``tpqrt``).  Its leading n x n
block is R, its last column z = Q^T W y and its corner rho, so that for every x

    ||W (A x - y)||^2 = ||R x - z||^2 + rho^2.

Factors of separate chunks of configurations combine the same way (a gather is one more fold),
so peak memory is one batch of rows plus a few (n+1) x (n+1) matrices, whatever the number of
rows.  Solvers work on the preconditioned system (R P^-1, z) (see ``smoothness_prior``).

The workflow keeps a chunk's rows (``DesignRows``, computed once) so that the training and
validation parts of every split seed are reduced from them (``reduce_rows``) without computing
them again.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import lapack

from .basis import ACEBasis
from .io import DataError, config_type, reference_data, reference_energy
from .provenance import atomic_path

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = {"default": {"E": 30.0, "F": 1.0, "V": 1.0}}
VIRIAL_COMPONENTS = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def loss_weights(config_type: str, weights: dict | None = None) -> tuple[float, float, float]:
    """(wE, wF, wV) for a config_type; ``weights`` maps config_type -> {"E", "F", "V"} and
    its "default" entry applies to every other config_type."""
    table = {**DEFAULT_WEIGHTS, **(weights or {})}
    w = {**DEFAULT_WEIGHTS["default"], **table["default"], **table.get(config_type, {})}
    return float(w["E"]), float(w["F"]), float(w["V"])


def smoothness_prior(basis: ACEBasis, p: float) -> np.ndarray:
    """Diagonal of the algebraic smoothness prior: P_kk = sum_t (wL l_t)^p + n_t^p."""
    t = basis.factor_table
    wL = basis.options["wL"]
    valid = t["n"] > 0
    terms = np.where(valid, (wL * np.maximum(t["l"], 0)) ** p + np.maximum(t["n"], 0) ** p, 0.0)
    return terms.sum(axis=1)


def _basis_rows(basis: ACEBasis, atoms, source: str):
    """``basis.evaluate(atoms)``; a bad structure (non-finite position, coincident atoms) raises
    DataError naming ``source`` (file and frame) as well as the atom or pair."""
    try:
        return basis.evaluate(atoms)
    except ValueError as err:
        raise DataError(f"{source}: {err}") from None


def max_rows(natoms: int) -> int:
    """The most weighted rows a configuration of ``natoms`` atoms gives (``structure_rows``):
    its energy, 3 ``natoms`` forces and 6 virial components."""
    return 1 + 3 * natoms + 6


def structure_rows(basis: ACEBasis, atoms, eref: dict, weights: dict | None = None,
                   source: str = "<structure>"):
    """Weighted rows of one configuration: (A (rows, K), y (rows,), counts {E, F, V})."""
    return weighted_rows(atoms, *_basis_rows(basis, atoms, source), eref, weights, source)


def weighted_rows(atoms, E_row, F_rows, W_rows, eref: dict, weights: dict | None = None,
                  source: str = "<structure>"):
    """Weighted rows and targets of one configuration from the unweighted rows of a linear model
    (energy E_row (K,), forces F_rows (N, 3, K) or (3N, K), virial W_rows (6, K), or None: the
    virial not fitted): energy - sum Eref by wE / sqrt(N), forces by wF, virial by
    wV / sqrt(N), the weights of its config_type.  (A, y, counts {E, F, V})."""
    energy, forces, virial = reference_data(atoms, source)
    N = len(atoms)
    wE, wF, wV = loss_weights(config_type(atoms), weights)
    e0 = reference_energy(atoms, eref, source)
    blocks = [(E_row[None, :] * (wE / np.sqrt(N)), np.array([energy - e0]) * (wE / np.sqrt(N)))]
    counts = {"E": 1, "F": 0, "V": 0}
    if forces is not None:
        blocks.append((F_rows.reshape(3 * N, -1) * wF, forces.reshape(-1) * wF))
        counts["F"] = 3 * N
    if virial is not None and W_rows is not None:
        v6 = np.array([virial[a, b] for a, b in VIRIAL_COMPONENTS])
        blocks.append((W_rows * (wV / np.sqrt(N)), v6 * (wV / np.sqrt(N))))
        counts["V"] = 6
    return np.vstack([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks]), counts


#: design factor files: 1 (R_aug, nrows, meta), 2 (also ``ones``, the last column of the
#: factor of [A | y | 1], and ``format``); sparseace reads both, ARD needs 2
FACTOR_FORMAT = 2


def _savez_atomic(path, **arrays) -> None:
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, **arrays)


class TriangularAccumulator:
    """Streaming QR of the augmented matrix [A | y] with ``ncols`` columns in A.

    ``add`` buffers rows and folds them into the (n+1) x (n+1) factor when ``batch_rows`` are
    buffered; ``factor`` folds the rest and returns the factor with a non-negative diagonal.
    A column of ones rides along as a last column (the QR of [A | y | 1], whose leading block is
    the factor): ``ones()`` is that column, Q^T 1 (n+2,), from which the centred system (what
    scikit-learn's ``fit_intercept=True`` fits) follows stably (``LstsqSystem.centred``); None
    once a factor without it was folded in.
    """

    def __init__(self, ncols: int, batch_rows: int | None = None):
        self.n = int(ncols)
        self.batch_rows = int(batch_rows or self.n + 1)
        self._R = np.zeros((self.n + 2, self.n + 2), order="F")
        self._buffer = np.zeros((self.batch_rows, self.n + 2), order="F")
        self._filled = 0
        self._has_ones = True
        self.nrows = 0

    def add(self, A: np.ndarray, y: np.ndarray) -> None:
        A = np.asarray(A, dtype=float)
        y = np.asarray(y, dtype=float)
        if A.ndim != 2 or A.shape[1] != self.n or y.shape != (A.shape[0],):
            raise ValueError(f"rows must be (m, {self.n}) with m targets, got {A.shape}, {y.shape}")
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(y))):
            raise ValueError("non-finite values in design rows or targets")
        start = 0
        while start < len(A):
            take = min(len(A) - start, self.batch_rows - self._filled)
            self._buffer[self._filled:self._filled + take, :self.n] = A[start:start + take]
            self._buffer[self._filled:self._filled + take, self.n] = y[start:start + take]
            self._buffer[self._filled:self._filled + take, self.n + 1] = 1.0
            self._filled += take
            start += take
            if self._filled == self.batch_rows:
                self._fold()
        self.nrows += len(A)

    def add_factor(self, R_aug: np.ndarray, nrows: int, ones: np.ndarray | None = None) -> None:
        """Fold in the factor of another set of rows (a gather of chunk factors) with its
        ``ones`` column (None: unknown, and so is the result's)."""
        if R_aug.shape != (self.n + 1, self.n + 1):
            raise ValueError(f"factor must be ({self.n + 1}, {self.n + 1}), got {R_aug.shape}")
        block = np.zeros((self.n + 2, self.n + 2), order="F")
        block[:-1, :-1] = R_aug
        if ones is None:
            self._has_ones = False
        else:
            block[:, -1] = ones
        self._fold()
        self._fold(block, triangular=True)
        self.nrows += int(nrows)

    def _fold(self, rows: np.ndarray | None = None, triangular: bool = False) -> None:
        """Fold rows (or an upper-triangular factor, at a third of the cost) into the factor."""
        if rows is None:
            if self._filled == 0:
                return
            full = self._filled == self.batch_rows
            rows = self._buffer if full else np.asfortranarray(self._buffer[:self._filled])
        nb = max(1, min(64, self.n + 2))
        # in place: R stays upper triangular (LAPACK leaves the strict lower part untouched)
        self._R, _, _, info = lapack.dtpqrt(self.n + 2 if triangular else 0, nb, self._R, rows,
                                            overwrite_a=1, overwrite_b=1)
        if info != 0:  # pragma: no cover - LAPACK argument errors
            raise RuntimeError(f"LAPACK dtpqrt failed with info={info}")
        self._filled = 0

    def _signs(self) -> np.ndarray:
        """Row signs that make the factor's diagonal non-negative (after folding the rest)."""
        self._fold()
        return np.where(np.diag(self._R)[:-1] < 0, -1.0, 1.0)

    def factor(self) -> np.ndarray:
        """The (n+1) x (n+1) factor [[R, z], [0, rho]] of [A | y]."""
        return self._R[:-1, :-1] * self._signs()[:, None]

    def ones(self) -> np.ndarray | None:
        """Q^T 1 in the factor's basis and the norm of the rest of 1 (n+2,), or None."""
        if not self._has_ones:
            return None
        return np.append(self._R[:-1, -1] * self._signs(), abs(self._R[-1, -1]))


@dataclass
class DesignFactor:
    """Triangular factor of a weighted design system and what it was built from.

    R_aug (n+1, n+1): [[R, z], [0, rho]].  ``meta`` records rows per kind, configurations,
    atoms, the basis fingerprint, weights, Eref and input provenance.  ``ones`` (n+2,): the
    last column of the factor of [A | y | 1] (``TriangularAccumulator.ones``), what centring
    needs (ARD); None for files written before sparseace kept it (no ``ones`` array).
    """

    R_aug: np.ndarray
    nrows: int
    meta: dict = field(default_factory=dict)
    ones: np.ndarray | None = None

    @property
    def R(self) -> np.ndarray:
        return self.R_aug[:-1, :-1]

    @property
    def z(self) -> np.ndarray:
        return self.R_aug[:-1, -1]

    @property
    def rho2(self) -> float:
        return float(self.R_aug[-1, -1] ** 2)

    def save(self, path) -> None:
        ones = {} if self.ones is None else {"ones": self.ones, "format": FACTOR_FORMAT}
        _savez_atomic(path, R_aug=self.R_aug, nrows=self.nrows, meta=json.dumps(self.meta),
                      **ones)

    @classmethod
    def load(cls, path) -> "DesignFactor":
        with np.load(path, allow_pickle=False) as data:
            ones = data["ones"] if "ones" in data.files else None
            return cls(data["R_aug"], int(data["nrows"]), json.loads(str(data["meta"])), ones)


def chunk_bounds(nconfigs: int, nchunks: int) -> list[tuple[int, int]]:
    """Split ``nconfigs`` configurations into ``nchunks`` contiguous, nearly equal chunks."""
    if nchunks < 1:
        raise ValueError("the number of chunks must be at least 1")
    edges = np.linspace(0, nconfigs, nchunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _design_meta(basis: ACEBasis | dict, eref: dict, weights: dict | None, counts: dict,
                 natoms: int, config_types: dict, meta: dict | None) -> dict:
    """A factor's record: rows per kind, configurations, atoms, basis, Eref, weights."""
    return {"rows": counts, "configs": sum(config_types.values()), "atoms": natoms,
            "config_types": config_types,
            "basis": basis if isinstance(basis, dict) else basis.to_dict(), "eref": eref,
            "weights": {**DEFAULT_WEIGHTS, **(weights or {})}, **(meta or {})}


def assemble(basis: ACEBasis, frames, eref: dict, weights: dict | None = None,
             batch_rows: int | None = None, source: str = "<frames>", progress: bool = False,
             meta: dict | None = None) -> DesignFactor:
    """Reduce the weighted design rows of ``frames`` to a ``DesignFactor``."""
    acc = TriangularAccumulator(len(basis), batch_rows)
    counts = {"E": 0, "F": 0, "V": 0}
    natoms = 0
    config_types: dict[str, int] = {}
    iterator = frames
    if progress:
        from tqdm import tqdm

        iterator = tqdm(frames, desc=f"design rows {source}", unit="config")
    for index, atoms in enumerate(iterator):
        A, y, c = structure_rows(basis, atoms, eref, weights, source=f"{source}, frame {index}")
        acc.add(A, y)
        for k in counts:
            counts[k] += c[k]
        natoms += len(atoms)
        ct = config_type(atoms)
        config_types[ct] = config_types.get(ct, 0) + 1
    return DesignFactor(acc.factor(), acc.nrows,
                        _design_meta(basis, eref, weights, counts, natoms, config_types, meta),
                        acc.ones())


@dataclass
class DesignRows:
    """Weighted design rows of configurations, not reduced, so that any subset of them (the
    training or validation part of a split, whatever its seed) can be reduced later
    (``reduce_rows``): the rows are computed once for every split seed.

    A (rows, K), y (rows,): rows and targets, configuration by configuration; per configuration
    (configs,): ``ids`` (its index in the dataset, e.g. split.json's indices), ``natoms``,
    ``config_type`` and ``counts`` (configs, 3): its rows of energy, forces, virial.  ``meta``:
    basis, Eref, weights and provenance."""

    A: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    natoms: np.ndarray
    config_type: np.ndarray
    counts: np.ndarray
    meta: dict = field(default_factory=dict)

    def save(self, path) -> None:
        _savez_atomic(path, A=self.A, y=self.y, ids=self.ids, natoms=self.natoms,
                      config_type=self.config_type.astype(str), counts=self.counts,
                      meta=json.dumps(self.meta))

    @classmethod
    def load(cls, path) -> "DesignRows":
        with np.load(path, allow_pickle=False) as d:
            return cls(d["A"], d["y"], d["ids"], d["natoms"], d["config_type"], d["counts"],
                       json.loads(str(d["meta"])))


def design_rows(basis: ACEBasis, frames, ids, eref: dict, weights: dict | None = None,
                source: str = "<frames>", progress: bool = False,
                meta: dict | None = None, first_frame: int = 0) -> DesignRows:
    """The weighted design rows of ``frames``; ``ids`` (one per frame) name them for
    ``reduce_rows``.  Errors name frame ``first_frame + k`` of ``source`` for ``frames[k]``
    (frames that are a chunk of a file)."""
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) != len(frames) or len(set(ids.tolist())) != len(ids):
        raise ValueError(f"{source}: need one distinct id per frame, got {len(ids)} ids for "
                         f"{len(frames)} frames")
    iterator = frames
    if progress:
        from tqdm import tqdm

        iterator = tqdm(frames, desc=f"design rows {source}", unit="config")
    # the rows are written into one array sized for the most rows the frames can give (not
    # stacked from per-frame blocks: that held them twice)
    bound = sum(max_rows(len(atoms)) for atoms in frames)
    A, y, nrows, counts = np.empty((bound, len(basis))), np.empty(bound), 0, []
    for index, atoms in enumerate(iterator):
        a, t, c = structure_rows(basis, atoms, eref, weights,
                                 source=f"{source}, frame {first_frame + index}")
        A[nrows:nrows + len(a)], y[nrows:nrows + len(a)] = a, t
        nrows += len(a)
        counts.append([c["E"], c["F"], c["V"]])
    return DesignRows(A[:nrows], y[:nrows], ids,
                      np.array([len(a) for a in frames], dtype=np.int64),
                      np.array([config_type(a) for a in frames], dtype=str),
                      np.array(counts, dtype=np.int64).reshape(len(frames), 3),
                      {"basis": basis.to_dict(), "eref": eref, "weights": weights,
                       **(meta or {})})


def reduce_rows(rows, ids, batch_rows: int | None = None, meta: dict | None = None
                ) -> DesignFactor:
    """The ``DesignFactor`` of the configurations ``ids`` from ``DesignRows`` (or their files,
    loaded one at a time and only when they hold one of the ids), folded in the order of the
    rows.  Raises ValueError naming the ids that no rows hold."""
    wanted = set(np.asarray(ids, dtype=np.int64).tolist())
    found: set = set()
    acc, record = None, None
    counts = {"E": 0, "F": 0, "V": 0}
    natoms, config_types = 0, {}
    for item in rows:
        if isinstance(item, (str, os.PathLike)):
            with np.load(item, allow_pickle=False) as d:
                held, item_meta = d["ids"].tolist(), json.loads(str(d["meta"]))
            item = None if wanted.isdisjoint(held) else DesignRows.load(item)
        else:
            item_meta = item.meta
        if record is None:
            record = item_meta
            acc = TriangularAccumulator(record["basis"]["size"], batch_rows)
        elif item_meta["basis"].get("fingerprint") != record["basis"].get("fingerprint"):
            raise ValueError("cannot reduce rows of different bases together")
        if item is None:
            continue
        ends = np.cumsum(item.counts.sum(axis=1))
        for k, config in enumerate(item.ids.tolist()):
            if config in wanted and config not in found:
                found.add(config)
                block = slice(ends[k] - item.counts[k].sum(), ends[k])
                acc.add(item.A[block], item.y[block])
                for kind, n in zip("EFV", item.counts[k]):
                    counts[kind] += int(n)
                natoms += int(item.natoms[k])
                ct = str(item.config_type[k])
                config_types[ct] = config_types.get(ct, 0) + 1
    if record is None:
        raise ValueError("no design rows to reduce")
    missing = sorted(wanted - found)
    if missing:
        raise ValueError(f"no design rows for configurations {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''} ({len(missing)} of {len(wanted)})")
    return DesignFactor(acc.factor(), acc.nrows,
                        _design_meta(record["basis"], record["eref"], record["weights"], counts,
                                     natoms, config_types, meta), acc.ones())


def combine(factors) -> DesignFactor:
    """Combine chunk factors (loaded lazily if paths are given) into the whole set's factor."""
    acc = None
    meta: dict = {}
    for item in factors:
        f = DesignFactor.load(item) if isinstance(item, (str, os.PathLike)) else item
        if acc is None:
            acc = TriangularAccumulator(f.R_aug.shape[0] - 1)
            meta = {k: v for k, v in f.meta.items() if k not in ("rows", "configs", "atoms",
                                                                   "config_types", "chunk")}
            meta.update(rows={"E": 0, "F": 0, "V": 0}, configs=0, atoms=0, config_types={},
                        chunks=[])
        elif f.meta.get("basis", {}).get("fingerprint") != meta.get("basis", {}).get("fingerprint"):
            raise ValueError("cannot combine factors of different bases")
        acc.add_factor(f.R_aug, f.nrows, f.ones)
        for k in ("E", "F", "V"):
            meta["rows"][k] += f.meta.get("rows", {}).get(k, 0)
        meta["configs"] += f.meta.get("configs", 0)
        meta["atoms"] += f.meta.get("atoms", 0)
        for ct, n in f.meta.get("config_types", {}).items():
            meta["config_types"][ct] = meta["config_types"].get(ct, 0) + n
        meta["chunks"].append(f.meta.get("chunk"))
    if acc is None:
        raise ValueError("no factors to combine")
    return DesignFactor(acc.factor(), acc.nrows, meta, acc.ones())


@dataclass
class EnergyRows:
    """Unweighted energy rows of a set of configurations, for errors along whole model paths.

    rows (configs, K): basis energies; target (configs,): E - sum Eref (eV); natoms (configs,);
    config_type (configs,).  A few numbers per configuration and function, whatever the atoms.
    """

    rows: np.ndarray
    target: np.ndarray
    natoms: np.ndarray
    config_type: np.ndarray

    def energy_errors(self, active, coefficients) -> np.ndarray:
        """Predicted minus reference energy per atom (eV/atom) of a sparse coefficient vector."""
        active = np.asarray(active, dtype=np.int64)
        predicted = self.rows[:, active] @ np.asarray(coefficients, dtype=float)
        return (predicted - self.target) / self.natoms

    def save(self, path) -> None:
        _savez_atomic(path, rows=self.rows, target=self.target, natoms=self.natoms,
                      config_type=self.config_type.astype(str))

    @classmethod
    def load(cls, path) -> "EnergyRows":
        with np.load(path, allow_pickle=False) as d:
            return cls(d["rows"], d["target"], d["natoms"], d["config_type"])


def energy_rows(basis: ACEBasis, frames, eref: dict, source: str = "<frames>") -> EnergyRows:
    """Energy rows and Eref-shifted targets of ``frames``."""
    rows, target, natoms, ctype = [], [], [], []
    for index, atoms in enumerate(frames):
        where = f"{source}, frame {index}"
        energy, _, _ = reference_data(atoms, where)
        rows.append(_basis_rows(basis, atoms, where)[0])
        target.append(energy - reference_energy(atoms, eref, where))
        natoms.append(len(atoms))
        ctype.append(config_type(atoms))
    return EnergyRows(np.array(rows).reshape(len(rows), len(basis)), np.array(target),
                      np.array(natoms), np.array(ctype, dtype=str))
