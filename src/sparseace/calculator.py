"""ASE calculator for fitted sparse ACE models."""

from __future__ import annotations

import warnings

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from .basis.neighbours import closest_pair_within, pair_description
from .model import ACEPotential


class ClosePairError(ValueError):
    """Two atoms closer than the calculator's ``min_distance``: the model was never fitted there
    (a relaxation that ends here has collapsed the structure)."""


class SparseACECalculator(Calculator):
    """Energy (eV), forces (eV/Å), stress (eV/Å^3) and per-atom energies of a linear ACE model.

    Parameters
    ----------
    model : an ``ACEPotential`` or the path of a model file.
    min_distance : Å; a structure with a pair of atoms closer than this is refused (the model
        was never fitted there), or only warned about when ``close_pairs="warn"``.
    close_pairs : "raise" (default) or "warn".

    Only the model's active functions are evaluated.  NaN or infinite positions and coincident
    atoms always raise ValueError naming the atom or pair; a pair closer than ``min_distance``
    raises ``ClosePairError`` (a ValueError).  An empty structure has energy 0.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model, min_distance: float = 0.5, close_pairs: str = "raise", **kwargs):
        super().__init__(**kwargs)
        if close_pairs not in ("raise", "warn"):
            raise ValueError(f"close_pairs must be 'raise' or 'warn', got {close_pairs!r}")
        number = isinstance(min_distance, (int, float, np.number)) \
            and not isinstance(min_distance, bool)
        if not (number and np.isfinite(min_distance) and min_distance >= 0):
            raise ValueError(f"min_distance must be a finite non-negative number of Å (0 turns "
                             f"the close-pair check off), got {min_distance!r}")
        self.model = model if isinstance(model, ACEPotential) else ACEPotential.load(model)
        self.min_distance = float(min_distance)
        self.close_pairs = close_pairs

    def check_distances(self, atoms) -> None:
        """Raise (or warn) when two atoms are closer than ``min_distance``."""
        closest = closest_pair_within(atoms, self.min_distance)
        if closest is None:
            return
        message = (f"{pair_description(atoms, *closest)}, closer than min_distance="
                   f"{self.min_distance} Å of SparseACECalculator")
        if self.close_pairs == "raise":
            raise ClosePairError(message + " (pass close_pairs='warn' to evaluate anyway)")
        warnings.warn(message, RuntimeWarning)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if len(self.atoms) == 0:
            energy, forces, virial, energies = 0.0, np.zeros((0, 3)), np.zeros((3, 3)), np.zeros(0)
        else:
            self.check_distances(self.atoms)
            energy, forces, virial, energies = self.model.evaluate(self.atoms)
        self.results = {"energy": energy, "free_energy": energy, "energies": energies,
                        "forces": forces}
        if self.atoms.cell.rank == 3 and np.all(self.atoms.pbc):
            stress = -virial / self.atoms.get_volume()
            self.results["stress"] = stress.flat[[0, 4, 8, 5, 2, 1]]
        elif "stress" in properties:
            raise ValueError("stress needs a periodic structure with a 3-d cell")
