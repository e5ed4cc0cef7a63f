"""ASE calculator for fitted sparse ACE models."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from .model import ACEPotential


class SparseACECalculator(Calculator):
    """Energy (eV), forces (eV/Å), stress (eV/Å^3) and per-atom energies of a linear ACE model.

    Parameters
    ----------
    model : an ``ACEPotential`` or the path of a model file.

    Only the model's active functions are evaluated.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model if isinstance(model, ACEPotential) else ACEPotential.load(model)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        energy, forces, virial, energies = self.model.evaluate(self.atoms)
        self.results = {"energy": energy, "free_energy": energy, "energies": energies,
                        "forces": forces}
        if self.atoms.cell.rank == 3 and np.all(self.atoms.pbc):
            stress = -virial / self.atoms.get_volume()
            self.results["stress"] = stress.flat[[0, 4, 8, 5, 2, 1]]
        elif "stress" in properties:
            raise ValueError("stress needs a periodic structure with a 3-d cell")
