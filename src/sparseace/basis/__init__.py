"""Linear Atomic Cluster Expansion basis (see ``ACEBasis``)."""

from .ace import BOND_LENGTHS, ACEBasis, basis_size

__all__ = ["ACEBasis", "BOND_LENGTHS", "basis_size"]
