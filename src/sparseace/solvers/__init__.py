"""Solvers on least-squares systems in reduced form: sparse paths (ASP, OMP), dense solvers
(RRQR, BLR), ARD, checkpoints with validation error, TSVD debiasing and selection, and the
registry of solvers a fit can use (``SOLVERS``)."""

from .ard import ard_checkpoints, ard_fit
from .checkpoints import Checkpoints, checkpoint_iterates, path_checkpoints, tsvd_debias
from .dense import BLR, RRQR, blr_solve, dense_curve, rrqr_solve
from .paths import ASP, OMP, ModelPath, asp_path, omp_path
from .registry import (SOLVERS, FitSpec, Option, PathTooShortError, Solver, check_options,
                       get_solver, load_plugins, register)
from .system import LstsqSystem

__all__ = ["ASP", "BLR", "Checkpoints", "FitSpec", "LstsqSystem", "ModelPath", "OMP", "Option",
           "PathTooShortError", "RRQR", "SOLVERS", "Solver", "ard_checkpoints", "ard_fit",
           "asp_path", "blr_solve", "check_options", "checkpoint_iterates", "dense_curve",
           "get_solver", "load_plugins", "omp_path", "path_checkpoints", "register",
           "rrqr_solve", "tsvd_debias"]
