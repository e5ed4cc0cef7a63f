"""Canonical structure format: extxyz with the reference labels under REF_ keys.

Per configuration: ``info["REF_energy"]`` total energy (eV), ``arrays["REF_forces"]`` (N, 3)
eV/Å, ``info["REF_virial"]`` nine numbers, row-major 3x3 (eV; virial = -stress * volume) when
present, ``info["config_type"]`` (default "default") and ``info["dataset"]``.  The REF_ prefix
keeps ASE from turning the labels into a SinglePointCalculator.
"""

from __future__ import annotations

import numpy as np


class DataError(ValueError):
    """Bad input data; the message names the file, frame and field."""


def reference_data(atoms, source: str = "<structure>"):
    """(energy eV, forces (N, 3) eV/Å or None, virial (3, 3) eV or None) of a canonical frame."""
    try:
        energy = float(atoms.info["REF_energy"])
    except KeyError:
        raise DataError(f"{source}: field REF_energy missing") from None
    forces = atoms.arrays.get("REF_forces")
    if forces is not None:
        forces = np.asarray(forces, dtype=float)
    virial = atoms.info.get("REF_virial")
    if virial is not None:
        virial = np.asarray(virial, dtype=float).reshape(3, 3)
    return energy, forces, virial
