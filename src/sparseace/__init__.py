"""sparseace: sparse linear Atomic Cluster Expansion (ACE) interatomic potentials.

Modules (one per concept):
  basis       ACE basis: radial/angular one-particle functions, couplings, evaluation
  design      weighted least-squares design systems, chunked QR reduction
  solvers     ASP / OMP paths, RRQR, BLR, ARD, checkpoints and selection
  model       model files (JSON)
  calculator  ASE calculator for fitted models
  lammps      LAMMPS driver (MD stability)
  properties  silicon property benchmarks
"""

__version__ = "0.1.0"
