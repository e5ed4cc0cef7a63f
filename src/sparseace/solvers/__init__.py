"""Solvers on least-squares systems in reduced form: sparse paths (ASP, OMP), dense solvers
(RRQR, BLR, ARD), checkpoints with validation error, TSVD debiasing and selection."""

from .checkpoints import Checkpoints, checkpoint_iterates, path_checkpoints, tsvd_debias
from .dense import (BLR, RRQR, ard_checkpoints, ard_fit, blr_solve, dense_curve, rrqr_solve)
from .paths import ASP, OMP, ModelPath, asp_path, omp_path
from .system import LstsqSystem

__all__ = ["ASP", "BLR", "Checkpoints", "LstsqSystem", "ModelPath", "OMP", "RRQR",
           "ard_checkpoints", "ard_fit", "asp_path", "blr_solve", "checkpoint_iterates",
           "dense_curve", "omp_path", "path_checkpoints", "rrqr_solve",
           "tsvd_debias"]
