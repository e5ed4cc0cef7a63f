"""The linear ACE basis: specification, metadata, serialisation and evaluation."""

from __future__ import annotations

import hashlib
import json
import math
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from ase.data import atomic_numbers

from ..provenance import atomic_path
from . import kernels
from .contraction import Contraction, _ranges, contract
from .dag import build_dag
from .neighbours import neighbour_pairs
from .radial import agnesi_a, jacobi_recurrence
from .spec import MAX_ORDER, build_manybody_spec, count_manybody_functions
from .table import AtomicBaseTable

#: bond lengths r0 (Å) of the reference implementation (``ace1_model`` defaults)
BOND_LENGTHS = {"H": 1.2, "O": 1.7, "Li": 3.0, "Si": 2.4, "Ni": 2.5, "Cu": 2.6, "Ge": 2.5, "Mo": 2.7}

DEFAULT_OPTIONS = {
    "r0": None,  # dict element -> Å; None: BOND_LENGTHS
    "rcut": None,  # Å; None: rcut_factor * max pair r0
    "rcut_factor": 2.5,
    "rin": 0.0,  # Å
    "wL": 1.5,  # level weight of l
    "pair_degree": None,  # pair functions per neighbour species; None: ceil(max total degree)
    "transform": [2, 4],  # Agnesi (p, q) of the many-body radial basis
    "pair_transform": [1, 3],  # Agnesi (p, q) of the pair basis
}


def _numbers_as_floats(value):
    """``value`` (JSON-like) with every int and float as a float: 0 and 0.0 hash alike."""
    if isinstance(value, dict):
        return {k: _numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_numbers_as_floats(v) for v in value]
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return float(value)
    return value


def _finite(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _pair_r0(elements, r0: dict) -> np.ndarray:
    """Bond lengths (Å) of each pair of elements: the mean of the two elements' r0."""
    return np.array([[0.5 * (r0[a] + r0[b]) for b in elements] for a in elements])


def _settings(elements, order, totaldegree, options: dict):
    """(elements sorted by atomic number, order, total degree per order, options with defaults
    resolved) of a basis; ValueError naming the parameter (elements, order, totaldegree, r0,
    rcut, ...) whose value is impossible, TypeError for an unknown option."""
    unknown = set(options) - set(DEFAULT_OPTIONS)
    if unknown:
        raise TypeError(f"unknown ACEBasis options: {sorted(unknown)}")
    bad = [e for e in elements if e not in atomic_numbers]
    if bad or len(set(elements)) != len(elements) or not elements:
        raise ValueError(f"elements must be distinct chemical symbols, got {list(elements)}")
    elements = sorted(elements, key=lambda e: atomic_numbers[e])
    if isinstance(order, bool) or not _finite(order) or int(order) != order \
            or not 2 <= order <= MAX_ORDER:
        raise ValueError(f"order (the correlation order) must be an integer from 2 to "
                         f"{MAX_ORDER}, got {order!r}")
    order = int(order)
    degrees = [totaldegree] * order if np.isscalar(totaldegree) else list(totaldegree)
    if len(degrees) != order:
        raise ValueError(f"totaldegree needs one value per order 1..{order}, got {degrees}")
    if not all(_finite(d) and d > 0 for d in degrees):
        raise ValueError(f"totaldegree must be finite and positive, got {degrees}")
    degrees = [float(d) for d in degrees]
    opts = {**DEFAULT_OPTIONS, **options}
    r0_table = {**BOND_LENGTHS, **(opts["r0"] or {})}
    missing = [e for e in elements if e not in r0_table]
    if missing:
        raise ValueError(f"no bond length r0 for {missing}: pass r0={{element: Å}}")
    wrong = {e: r0_table[e] for e in elements if not (_finite(r0_table[e]) and r0_table[e] > 0)}
    if wrong:
        raise ValueError(f"r0 (bond lengths, Å) must be finite and positive, got {wrong}")
    opts["r0"] = {e: float(r0_table[e]) for e in elements}
    for key in ("rin", "rcut_factor", "wL"):
        if not (_finite(opts[key]) and opts[key] >= 0 and (key == "rin" or opts[key] > 0)):
            sign = "non-negative" if key == "rin" else "positive"
            raise ValueError(f"{key} must be a finite {sign} number, got {opts[key]!r}")
    if opts["rcut"] is None:
        opts["rcut"] = float(opts["rcut_factor"] * _pair_r0(elements, opts["r0"]).max())
    if not (_finite(opts["rcut"]) and opts["rcut"] > opts["rin"]):
        raise ValueError(f"rcut (the cutoff, Å) must be a finite number above rin = "
                         f"{opts['rin']:g} Å, got {opts['rcut']!r}")
    if opts["pair_degree"] is None:
        opts["pair_degree"] = int(math.ceil(max(degrees)))
    pair_degree = opts["pair_degree"]
    if isinstance(pair_degree, bool) or not isinstance(pair_degree, (int, np.integer)) \
            or pair_degree < 1:
        raise ValueError(f"pair_degree must be a positive integer, got {opts['pair_degree']!r}")
    return elements, order, degrees, opts


def basis_size(elements, order: int, totaldegree, limit: int | None = None, **options) -> int:
    """``len(ACEBasis(elements, order, totaldegree, **options))`` without building the basis:
    its functions counted by the enumeration the basis uses.  With ``limit``, counting stops
    early and returns some number above ``limit`` when the basis is larger."""
    elements, order, degrees, opts = _settings(elements, order, totaldegree, options)
    nz = len(elements)
    per_centre = None if limit is None else limit // nz
    manybody = count_manybody_functions(nz, order, degrees, float(opts["wL"]), per_centre)
    return nz * (manybody + opts["pair_degree"] * nz)


class ACEBasis:
    """Linear ACE basis of ``len(basis)`` functions.

    Parameters
    ----------
    elements : element symbols (stored sorted by atomic number).
    order : maximal correlation order (2..4); the many-body block holds orders 1..order.
    totaldegree : maximal level sum, a number or one number per correlation order 1..order.
    **options : see ``DEFAULT_OPTIONS``.

    Layout: [many-body block of species 1 ... NZ | pair block of species 1 ... NZ].
    """

    def __init__(self, elements, order: int, totaldegree, **options):
        self.elements, self.order, degrees, opts = _settings(elements, order, totaldegree,
                                                             options)
        self.totaldegree = degrees
        nz = len(self.elements)
        self._pair_r0 = _pair_r0(self.elements, opts["r0"])
        self.options = opts
        self.cutoff = float(opts["rcut"])
        self.mb = build_manybody_spec(nz, self.order, degrees, float(opts["wL"]))
        self._plans = {}  # design-row plans of recent subsets (see _rows_plan)

    # ------------------------------------------------------------------ sizes and metadata
    @property
    def nspecies(self) -> int:
        return len(self.elements)

    @property
    def n_manybody(self) -> int:
        """Many-body functions per centre species."""
        return len(self.mb)

    @property
    def n_pair(self) -> int:
        """Pair functions per centre species."""
        return self.options["pair_degree"] * self.nspecies

    def __len__(self) -> int:
        return self.nspecies * (self.n_manybody + self.n_pair)

    def __repr__(self) -> str:
        return (f"ACEBasis(elements={self.elements}, order={self.order}, "
                f"totaldegree={self.totaldegree}, size={len(self)})")

    @cached_property
    def factor_table(self) -> dict[str, np.ndarray]:
        """Per function: centre species index, order, kind (0 many-body, 1 pair), level,
        coupling, and per factor (padded with -1 to 4): neighbour species, n (interleaved
        radial index), radial degree (1-based) and l."""
        nz, K = self.nspecies, len(self)
        mb = self.mb
        op_n = mb.op[:, 0][np.where(mb.fn_factors >= 0, mb.fn_factors, 0)]
        op_l = mb.op[:, 1][np.where(mb.fn_factors >= 0, mb.fn_factors, 0)]
        valid = mb.fn_factors >= 0
        mb_n = np.where(valid, op_n, -1)
        mb_l = np.where(valid, op_l, -1)
        pair_n = np.arange(1, self.n_pair + 1)
        n = -np.ones((K, MAX_ORDER), dtype=np.int64)
        l = -np.ones((K, MAX_ORDER), dtype=np.int64)
        n[: nz * len(mb)] = np.tile(mb_n, (nz, 1))
        l[: nz * len(mb)] = np.tile(mb_l, (nz, 1))
        n[nz * len(mb):, 0] = np.tile(pair_n, nz)
        l[nz * len(mb):, 0] = 0
        wL = self.options["wL"]
        level = np.where(n > 0, n / nz + wL * np.maximum(l, 0), 0.0).sum(axis=1)
        return {
            "centre": np.concatenate([np.repeat(np.arange(nz), len(mb)),
                                      np.repeat(np.arange(nz), self.n_pair)]),
            "order": np.concatenate([np.tile(mb.fn_order, nz), np.ones(nz * self.n_pair, int)]),
            "kind": np.concatenate([np.zeros(nz * len(mb), int), np.ones(nz * self.n_pair, int)]),
            "level": level,
            "coupling": np.concatenate([np.tile(mb.fn_coupling, nz),
                                        np.zeros(nz * self.n_pair, int)]),
            "n": n,
            "l": l,
            "species": np.where(n > 0, (n - 1) % nz, -1),
            "degree": np.where(n > 0, (n - 1) // nz + 1, -1),
        }

    @cached_property
    def functions(self) -> pd.DataFrame:
        """One row per basis function: centre, kind, order, level, factors (species, n, l)."""
        t = self.factor_table
        el = np.array(self.elements)
        rows = []
        for k in range(len(self)):
            m = t["n"][k] > 0
            rows.append({
                "centre": el[t["centre"][k]],
                "kind": "pair" if t["kind"][k] else "manybody",
                "order": int(t["order"][k]),
                "level": float(t["level"][k]),
                "species": tuple(el[t["species"][k][m]]),
                "n": tuple(int(x) for x in t["n"][k][m]),
                "degree": tuple(int(x) for x in t["degree"][k][m]),
                "l": tuple(int(x) for x in t["l"][k][m]),
                "coupling": int(t["coupling"][k]),
            })
        return pd.DataFrame(rows)

    def level_order(self) -> np.ndarray:
        """Permutation listing the functions by level (ties: order, then basis position)."""
        t = self.factor_table
        return np.lexsort((np.arange(len(self)), t["order"], np.round(t["level"], 9)))

    def size_table(self) -> pd.DataFrame:
        """Number of functions per centre species and correlation order (pair = order 1)."""
        t = self.factor_table
        df = pd.DataFrame({"centre": np.array(self.elements)[t["centre"]],
                           "order": t["order"], "kind": np.where(t["kind"] == 1, "pair", "manybody")})
        return df.groupby(["centre", "kind", "order"]).size().rename("functions").reset_index()

    # ------------------------------------------------------------------ evaluation table
    @cached_property
    def table(self) -> AtomicBaseTable:
        """The atomic base and pair basis layout the kernels and the LAMMPS exporter use."""
        opts, nz = self.options, self.nspecies
        op = self.mb.op
        species, degree = (op[:, 0] - 1) % nz, (op[:, 0] - 1) // nz
        lmax = -np.ones((nz, int(degree.max()) + 1), dtype=np.int64)
        np.maximum.at(lmax, (species, degree), op[:, 1])
        (p, q), (pp, pq) = opts["transform"], opts["pair_transform"]
        return AtomicBaseTable(
            elements=tuple(self.elements), r0=self._pair_r0, rin=float(opts["rin"]),
            rcut=float(opts["rcut"]), transform=(float(p), float(q), agnesi_a(p, q)),
            pair_transform=(float(pp), float(pq), agnesi_a(pp, pq)),
            radial_recurrence=jacobi_recurrence(4.0, lmax.shape[1]),
            pair_recurrence=jacobi_recurrence(0.0, opts["pair_degree"]), degree_lmax=lmax)

    @cached_property
    def term_entries(self) -> np.ndarray:
        """(T, MAX_ORDER) factors of the product terms of the many-body functions as ``table``
        entries, sorted and padded with -1 (function f: terms ``mb.term_ptr[f]:[f+1]``, with
        coefficients ``mb.term_coef``)."""
        op, mb = self.mb.op, self.mb
        a_op = np.repeat(np.arange(len(op)), 2 * op[:, 1] + 1)
        a_lm = op[a_op, 1] ** 2 + op[a_op, 1] + np.arange(mb.num_a) - mb.a_offset[a_op] - op[a_op, 1]
        n = op[a_op, 0] - 1
        entry = self.table.index(n % self.nspecies, n // self.nspecies, a_lm)
        big = np.iinfo(np.int64).max
        out = np.sort(np.where(mb.term_a >= 0, entry[mb.term_a], big), axis=1)
        return np.where(out == big, -1, out)

    def contract(self, active, coefficients) -> Contraction:
        """The linear combination sum_k coefficients[k] B_active[k] prepared for evaluation."""
        return contract(self, active, coefficients)

    # ------------------------------------------------------------------ serialisation
    def fingerprint(self) -> str:
        """Hash of everything that determines the functions' values: elements, order, total
        degree, every option (numbers compared as floats; ``rcut_factor`` only through the
        ``rcut`` it resolved to), the basis structure and its coupling coefficients (rounded
        to 1e-9)."""
        h = hashlib.sha256()
        for arr in (self.mb.op, self.mb.fn_order, self.mb.fn_factors, self.mb.term_ptr,
                    self.mb.term_a):
            h.update(np.ascontiguousarray(arr, dtype=np.int64).tobytes())
        options = {k: v for k, v in self.options.items() if k != "rcut_factor"}
        described = {"elements": list(self.elements), "order": self.order,
                     "totaldegree": self.totaldegree, "options": options}
        h.update(json.dumps(_numbers_as_floats(described), sort_keys=True).encode())
        h.update(np.round(self.mb.term_coef * 1e9).astype(np.int64).tobytes())
        return h.hexdigest()

    def to_dict(self, fingerprint: bool = True) -> dict:
        d = {"type": "ACEBasis", "elements": list(self.elements), "order": self.order,
             "totaldegree": list(self.totaldegree), "options": dict(self.options),
             "size": len(self)}
        if fingerprint:
            d["fingerprint"] = self.fingerprint()
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "<basis>") -> "ACEBasis":
        """Rebuild a basis written by ``to_dict``; raises ValueError naming ``source`` when a
        field is missing or malformed, or when the rebuilt basis does not have the recorded
        fingerprint."""
        if not isinstance(d, dict):
            raise ValueError(f"{source}: basis must be a JSON object, got {type(d).__name__}")
        missing = [k for k in ("elements", "order", "totaldegree", "fingerprint") if k not in d]
        if missing:
            raise ValueError(f"{source}: basis lacks the field(s) {missing}")
        options = d.get("options", {})
        if not isinstance(options, dict):
            raise ValueError(f"{source}: basis options must be a JSON object, got {options!r}")
        try:
            basis = cls(d["elements"], d["order"], d["totaldegree"], **options)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{source}: invalid basis ({err})") from None
        if "size" in d and d["size"] != len(basis):
            raise ValueError(f"{source}: basis size {len(basis)} differs from the recorded "
                             f"{d['size']}")
        if d["fingerprint"] != basis.fingerprint():
            raise ValueError(f"{source}: the basis rebuilt here differs from the one recorded "
                             "(fingerprint mismatch): edited file, or written by an "
                             "incompatible version")
        return basis

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text: str, source: str = "<basis>") -> "ACEBasis":
        return cls.from_dict(json.loads(text), source)

    def save(self, path) -> None:
        """Write the basis specification as JSON (atomically)."""
        with atomic_path(path, ".json") as tmp:
            tmp.write_text(self.to_json())

    @classmethod
    def load(cls, path) -> "ACEBasis":
        """Read a basis written by ``save``; errors name the file."""
        try:
            return cls.from_json(Path(path).read_text(), str(path))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None

    # ------------------------------------------------------------------ evaluation
    def species_indices(self, atoms) -> np.ndarray:
        index = {e: i for i, e in enumerate(self.elements)}
        symbols = atoms.get_chemical_symbols()
        try:
            return np.array([index[s] for s in symbols], dtype=np.int64)
        except KeyError:
            bad = sorted(set(symbols) - set(index))
            raise ValueError(f"structure contains elements {bad} outside the basis "
                             f"elements {self.elements}") from None

    def neighbours(self, atoms):
        """(species, pair_ptr, second, rij) within the cutoff; pairs sorted by centre, then by
        neighbour species."""
        species = self.species_indices(atoms)
        first, second, rij = neighbour_pairs(atoms, self.cutoff)
        if self.nspecies > 1:
            order = np.lexsort((species[second], first))
            first, second, rij = first[order], second[order], rij[order]
        pair_ptr = np.zeros(len(atoms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(first, minlength=len(atoms)), out=pair_ptr[1:])
        return species, pair_ptr, second, rij

    def _selection(self, subset):
        idx = np.arange(len(self)) if subset is None else np.asarray(subset, dtype=np.int64)
        if idx.ndim != 1 or (len(idx) and (idx.min() < 0 or idx.max() >= len(self))):
            raise IndexError(f"subset indices must lie in [0, {len(self)})")
        cols = np.arange(len(idx))
        nz, nmb, npair = self.nspecies, self.n_manybody, self.n_pair
        is_mb = idx < nz * nmb
        out = []
        for mask, block in ((is_mb, nmb), (~is_mb, npair)):
            rel = idx[mask] - (0 if block == nmb else nz * nmb)
            centre, local = rel // block, rel % block
            order = np.argsort(centre, kind="stable")
            ptr = np.zeros(nz + 1, dtype=np.int64)
            np.cumsum(np.bincount(centre, minlength=nz), out=ptr[1:])
            out.append((ptr, local[order].astype(np.int64), cols[mask][order].astype(np.int64)))
        (sel_ptr, sel_fn, sel_col), (psel_ptr, plocal, psel_col) = out
        # pair local index p: interleaved n = p + 1 -> degree q = p // nz, species p % nz
        return (sel_ptr, sel_fn, sel_col), (psel_ptr, plocal % nz, plocal // nz, psel_col)

    def _rows_plan(self, subset):
        """Evaluation plan of the selected functions (cached for the last few subsets): the
        table restricted to the entries they use and, per function, the nodes of the DAG of
        their products on its chains with their factors and parents, and its dependencies (see
        ``kernels.design_rows``)."""
        key = None if subset is None else np.asarray(subset, dtype=np.int64).tobytes()
        if key in self._plans:
            return self._plans[key]
        (sel_ptr, sel_fn, sel_col), pairs = self._selection(subset)
        mb = self.mb
        fns, fn_u = np.unique(sel_fn, return_inverse=True)
        counts = mb.term_ptr[fns + 1] - mb.term_ptr[fns]
        terms = _ranges(mb.term_ptr[fns], counts)
        table, remap = self.table.restrict(self.term_entries[terms][self.term_entries[terms] >= 0])
        entries = np.where(self.term_entries[terms] >= 0, remap[self.term_entries[terms]], -1)
        dag, node = build_dag(entries)
        # each function's nodes with their ancestors, ascending (parents first)
        u = np.repeat(np.arange(len(fns)), counts)
        pairs_u, pairs_node, coefs = [u], [node], [mb.term_coef[terms]]
        while len(node):
            keep = dag.parent[node] >= 0
            u, node = u[keep], dag.parent[node[keep]]
            pairs_u.append(u)
            pairs_node.append(node)
            coefs.append(np.zeros(len(node)))
        n_nodes = max(len(dag), 1)
        keys, inverse = np.unique(np.concatenate(pairs_u) * n_nodes + np.concatenate(pairs_node),
                                  return_inverse=True)
        loc_coef = np.bincount(inverse.ravel(), weights=np.concatenate(coefs), minlength=len(keys))
        loc_u, loc_node = keys // n_nodes, keys % n_nodes
        loc_ptr = np.searchsorted(loc_u, np.arange(len(fns) + 1)).astype(np.int64)
        par = dag.parent[loc_node]
        loc_parent = np.where(par >= 0, np.searchsorted(keys, loc_u * n_nodes + par)
                              - loc_ptr[loc_u], -1)
        dep_keys = np.unique(loc_u * table.num_a + dag.factor[loc_node])
        dep_ptr = np.searchsorted(dep_keys // max(table.num_a, 1),
                                  np.arange(len(fns) + 1)).astype(np.int64)
        slot = (np.searchsorted(dep_keys, loc_u * table.num_a + dag.factor[loc_node])
                - dep_ptr[loc_u])
        small = np.int32  # the kernel streams these per centre
        functions = (sel_ptr, sel_col, fn_u.astype(np.int64), loc_ptr,
                     dag.factor[loc_node].astype(small), loc_parent.astype(small),
                     slot.astype(small), loc_coef, dep_ptr,
                     (dep_keys % max(table.num_a, 1)).astype(small))
        plan = (table, functions, pairs, len(sel_col) + len(pairs[-1]))
        if len(self._plans) >= 4:
            self._plans.pop(next(iter(self._plans)))
        self._plans[key] = plan
        return plan

    def evaluate(self, atoms, subset=None):
        """Design rows of one structure.

        Returns energy rows (K,) in eV, force rows (N, 3, K) in eV/Å (F = -dE/dr) and virial rows
        (6, K) in eV (xx, yy, zz, yz, xz, xy; W = -stress * volume), K = len(subset or basis).
        Cost is proportional to the selected functions.
        """
        return self.rows_from_pairs(*self.neighbours(atoms), subset=subset)

    def rows_from_pairs(self, species, pair_ptr, second, rij, subset=None):
        """Design rows from a neighbour list (see ``neighbours``); ``evaluate`` documents them."""
        table, functions, pairs, K = self._rows_plan(subset)
        N = len(species)
        E = np.zeros(K)
        F = np.zeros((N, 3, K))
        W = np.zeros((6, K))
        kernels.design_rows(species, pair_ptr, second, rij, table.kernel_geometry(),
                            table.run_start, table.lmax, functions, pairs, E, F, W)
        return E, F, W

