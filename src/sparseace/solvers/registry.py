"""The solvers a fit can use, one entry each: name, label, kind and how it makes checkpoints.

Every other place that needs to know the solvers (the configuration schema, the workflow's
wildcards, figure styles, table labels, the command line) reads ``SOLVERS``.  Adding a solver
is one ``register`` call::

    def my_checkpoints(train, val, fit, options) -> Checkpoints: ...
    register(Solver("mine", "Mine", "path", my_checkpoints, "what it is", "what it is for"))

A workflow configuration loads solvers from other modules with ``solver_plugins: [module]``
(each module registers its solvers when imported).

``checkpoints(train, val, fit, options)`` receives the preconditioned training and validation
systems (``LstsqSystem``), the fit's settings (``FitSpec``) and the solver's options from the
configuration; it returns ``Checkpoints`` whose ``at_size`` maps every size in
``fit.sizes`` to the checkpoint that is the model of that size.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .ard import ard_checkpoints
from .checkpoints import Checkpoints, path_checkpoints
from .dense import blr_solve, dense_curve, rrqr_solve
from .paths import asp_path, omp_path
from .system import LstsqSystem

KINDS = ("path", "curve", "thresholded")


@dataclass(frozen=True)
class FitSpec:
    """What a solver needs to know about a fit besides its systems.

    sizes: requested model sizes (active functions); max_active: length of sparse paths;
    checkpoints: about how many models a path keeps; dense_sizes: points of a dense curve;
    level_order: the basis functions in the order dense curves add them (basis level order).
    """

    sizes: tuple[int, ...]
    max_active: int
    checkpoints: int = 100
    dense_sizes: int = 20
    level_order: np.ndarray | None = field(default=None, compare=False)

    def order(self, n: int) -> np.ndarray:
        """The order in which dense curves add the n functions (level order, else as given)."""
        return np.arange(n) if self.level_order is None else self.level_order

    @classmethod
    def from_settings(cls, fit: dict, level_order=None) -> "FitSpec":
        """From a workflow ``fits`` entry (models, max_active, checkpoints, dense_sizes)."""
        return cls(tuple(int(n) for n in fit["models"]), int(fit["max_active"]),
                   int(fit.get("checkpoints", 100)), int(fit.get("dense_sizes", 20)),
                   None if level_order is None else np.asarray(level_order))


class PathTooShortError(RuntimeError):
    """A sparse path ended before reaching a requested model size."""


@dataclass(frozen=True)
class Option:
    """A solver option: what it is (stated in errors), its check, default and whether a fit
    must give it."""

    description: str
    valid: Callable[[object], bool]
    default: object = None
    required: bool = False


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _positive(value) -> bool:
    return _number(value) and value > 0


def _positive_integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _positive_list(value) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(map(_positive, value))


DEBIAS = Option("'tsvd' or 'none' (least squares on the active set after the path)",
                lambda v: v in ("tsvd", "none"))


@dataclass(frozen=True)
class Solver:
    """A registry entry.  kind: "path" (sparse path: every size along one run), "curve" (a
    dense solver on growing prefixes of the level-ordered basis) or "thresholded" (one fit per
    sparsity threshold).  options: name -> ``Option`` (None: the solver takes any options)."""

    name: str
    label: str
    kind: str
    checkpoints: Callable[[LstsqSystem, LstsqSystem, FitSpec, dict], Checkpoints]
    description: str
    use: str
    colour: str | None = None
    marker: str = "."
    options: dict[str, Option] | None = field(default=None, compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"solver {self.name}: kind must be one of {KINDS}, got {self.kind!r}")


SOLVERS: dict[str, Solver] = {}


def register(solver: Solver) -> Solver:
    """Add ``solver`` to ``SOLVERS`` (a name can be registered once)."""
    if solver.name in SOLVERS and SOLVERS[solver.name] != solver:
        raise ValueError(f"a different solver named {solver.name!r} is already registered")
    SOLVERS[solver.name] = solver
    return solver


def load_plugins(modules) -> None:
    """Import modules that register solvers (a configuration's ``solver_plugins``)."""
    for name in modules or ():
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ImportError(f"solver plugin {name!r} cannot be imported: {err}") from err


def get_solver(name: str) -> Solver:
    try:
        return SOLVERS[name]
    except KeyError:
        raise ValueError(f"unknown solver {name!r}: one of {sorted(SOLVERS)}") from None


def check_options(name: str, options: dict) -> dict:
    """``options`` of solver ``name`` with the defaults of absent ones filled in; ValueError
    naming the option and listing the solver's options when one is unknown, invalid or
    missing."""
    solver = get_solver(name)
    if solver.options is None:
        return dict(options)
    known = "; ".join(f"{key}: {o.description}" for key, o in solver.options.items())
    if not isinstance(options, dict):
        raise ValueError(f"solver {name}: options must be a mapping (the options of {name}: "
                         f"{known})")
    for key, value in options.items():
        if key not in solver.options:
            raise ValueError(f"solver {name}: unknown option {key!r} (the options of {name}: "
                             f"{known})")
        if not solver.options[key].valid(value):
            raise ValueError(f"solver {name}: option {key}={value!r} is invalid: must be "
                             f"{solver.options[key].description}")
    missing = [key for key, o in solver.options.items() if o.required and key not in options]
    if missing:
        raise ValueError(f"solver {name}: option(s) {missing} missing (the options of {name}: "
                         f"{known})")
    return {**{key: o.default for key, o in solver.options.items()
               if o.default is not None and key not in options}, **options}


def require_sizes(cp: Checkpoints, sizes, solver: str) -> None:
    """Raise ``PathTooShortError`` when a path never reached the largest requested size."""
    largest = max(sizes, default=0)
    if largest and cp.sizes.max(initial=0) < largest:
        raise PathTooShortError(
            f"the {solver} path ended ({cp.meta.get('stop_reason', 'unknown reason')}) with at "
            f"most {cp.sizes.max(initial=0)} active functions, before the requested model size "
            f"{largest}; lower the model sizes or look at the data (dependent columns?)")


def _sparse_path(path_function):
    def checkpoints(train, val, fit, options):
        path = path_function(train.R, train.z, max_active=fit.max_active)
        cp = path_checkpoints(path, train, val, fit.checkpoints, options.get("debias"),
                              sizes=fit.sizes)
        require_sizes(cp, fit.sizes, path.method)
        return cp
    return checkpoints


def _sizes(n: int, fit: FitSpec) -> np.ndarray:
    """Points of a dense curve: ``fit.dense_sizes`` sizes spread geometrically up to n."""
    return np.unique(np.geomspace(min(10, n), n, fit.dense_sizes).round().astype(int))


def _rrqr(train, val, fit, options):
    rtol = options.get("rtol", 1e-15)
    return dense_curve(train, val, fit.order(train.ncols), _sizes(train.ncols, fit),
                       lambda R, z, rho2, nrows: rrqr_solve(R, z, rtol), "rrqr", fit.sizes,
                       options)


def _blr(train, val, fit, options):
    floor = options.get("variance_floor", 1e-4)
    return dense_curve(train, val, fit.order(train.ncols), _sizes(train.ncols, fit),
                       lambda R, z, rho2, nrows: blr_solve(R, z, rho2, nrows, floor)[0], "blr",
                       fit.sizes, options)


def _ard(train, val, fit, options):
    return ard_checkpoints(train, val, options["threshold_lambdas"], sizes=fit.sizes,
                           max_iter=options.get("max_iter", 500), tol=options.get("tol", 0.1),
                           size_cap=max(fit.sizes, default=train.ncols))


register(Solver("rrqr", "RRQR", "curve", _rrqr,
                "rank-revealing (pivoted) QR least squares on the preconditioned system",
                "dense baseline; level-ordered basis of a given size", "C2", "^",
                {"rtol": Option("a positive number, the relative tolerance of the pivots kept",
                                _positive)}))
register(Solver("blr", "BLR", "curve", _blr,
                "Bayesian linear regression: evidence maximisation over prior and noise variances",
                "dense baseline; level-ordered basis of a given size", "C3", "v",
                {"variance_floor": Option("a positive number, the smallest prior variance",
                                          _positive)}))
register(Solver("ard", "ARD", "thresholded", _ard,
                "automatic relevance determination (scikit-learn ARDRegression)",
                "sparse baseline; sparsity from threshold_lambda", "C4", "D",
                {"threshold_lambdas": Option("a non-empty list of positive numbers (one fit "
                                             "each)", _positive_list, required=True),
                 "max_iter": Option("a positive integer", _positive_integer, 500),
                 "tol": Option("a positive number", _positive, 0.1)}))
register(Solver("asp", "ASP", "path", _sparse_path(asp_path),
                "homotopy LASSO path by the dual active-set method (BPdual), TSVD-debiased",
                "sparse basis selection: a whole path of models", "C0", "o",
                {"debias": DEBIAS}))
register(Solver("omp", "OMP", "path", _sparse_path(omp_path),
                "orthogonal matching pursuit with the same QR updating",
                "sparse basis selection: a whole path of models", "C1", "s",
                {"debias": DEBIAS}))

#: the solvers this package provides (plugins add to SOLVERS, not to this tuple)
BUILTIN = tuple(SOLVERS)
