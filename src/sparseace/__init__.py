"""sparseace: sparse linear Atomic Cluster Expansion (ACE) interatomic potentials.

Modules (one per concept):
  io             readers of the sources' formats, canonical extxyz frames
  fetch          sources from a mirror, a URL or a local path, verified against their pins
  split          seeded train / validation / test splits
  basis          ACE basis: one-particle functions, couplings, evaluation of design rows
  design         weighted least-squares design systems, reduced by streaming QR
  solvers        the solver registry: ASP / OMP paths, RRQR, BLR, ARD; checkpoints, selection
  model          fitted models and their files
  calculator     ASE calculator for fitted models
  metrics        error tables of a model on reference structures
  lammps_plugin  the native LAMMPS pair style: model export, plugin build
  md             molecular-dynamics stability runs in LAMMPS
  properties     silicon properties (lattice, elastic constants, defects, surfaces)
  plots, tables  figures (matplotlib) and tables (pandas) from results
  study          the study's figures and tables, one definition each
  config         the workflow configuration and its schema
  provenance     versions, hashes, atomic writes, script logging
"""

__version__ = "0.1.0"
