"""Linear Atomic Cluster Expansion basis (see ``ACEBasis``)."""

from .ace import BOND_LENGTHS, ACEBasis

__all__ = ["ACEBasis", "BOND_LENGTHS"]
