"""Prediction errors of a model on reference structures.

Energies are compared per atom (meV/atom), forces per Cartesian component (eV/Å) and virials
per atom and component (meV/atom); MAE and RMSE per ``config_type`` and over the whole set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .io import DataError, config_type, reference_data

ALL = "all"


def _predict(model, atoms):
    """(energy eV, forces (N, 3) eV/Å, virial (3, 3) eV) from an ACEPotential or an ASE calculator."""
    if hasattr(model, "evaluate"):
        energy, forces, virial, _ = model.evaluate(atoms)
        return energy, forces, virial
    atoms = atoms.copy()
    atoms.calc = model
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    virial = None
    if atoms.cell.rank == 3 and all(atoms.pbc):
        s = atoms.get_stress(voigt=False)
        virial = -s * atoms.get_volume()
    return energy, forces, virial


def per_config_errors(model, frames, source: str = "<frames>") -> pd.DataFrame:
    """One row per configuration with the sums the error table aggregates; a structure the
    model cannot evaluate raises DataError naming ``source`` (the file) and the frame."""
    rows = []
    for index, atoms in enumerate(frames):
        where = f"{source}, frame {index}"
        energy_ref, forces_ref, virial_ref = reference_data(atoms, where)
        try:
            energy, forces, virial = _predict(model, atoms)
        except ValueError as err:
            raise DataError(f"{where}: {err}") from None
        n = len(atoms)
        row = {"frame": index, "config_type": config_type(atoms),
               "atoms": n, "energy_ref": energy_ref, "energy_pred": energy,
               "dE_per_atom": (energy - energy_ref) / n,
               "F_abs": 0.0, "F_sq": 0.0, "F_count": 0, "V_abs": 0.0, "V_sq": 0.0, "V_count": 0}
        if forces_ref is not None:
            dF = forces - forces_ref
            row.update(F_abs=np.abs(dF).sum(), F_sq=(dF ** 2).sum(), F_count=dF.size)
        if virial_ref is not None and virial is not None:
            dV = (virial - virial_ref)[np.triu_indices(3)] / n
            row.update(V_abs=np.abs(dV).sum(), V_sq=(dV ** 2).sum(), V_count=dV.size)
        rows.append(row)
    return pd.DataFrame(rows)


def error_table(per_config: pd.DataFrame) -> pd.DataFrame:
    """MAE and RMSE per config_type and over all configurations ("all", last row)."""

    def summarise(df: pd.DataFrame) -> dict:
        dE = df["dE_per_atom"].to_numpy()
        out = {"configs": len(df), "atoms": int(df["atoms"].sum()),
               "E_MAE_meV_per_atom": 1e3 * np.abs(dE).mean(),
               "E_RMSE_meV_per_atom": 1e3 * np.sqrt((dE ** 2).mean())}
        for key, scale, unit in (("F", 1.0, "eV_per_A"), ("V", 1e3, "meV_per_atom")):
            count = df[f"{key}_count"].sum()
            mae = scale * df[f"{key}_abs"].sum() / count if count else np.nan
            rmse = scale * np.sqrt(df[f"{key}_sq"].sum() / count) if count else np.nan
            out[f"{key}_MAE_{unit}"] = mae
            out[f"{key}_RMSE_{unit}"] = rmse
        return out

    if per_config.empty:
        raise ValueError("no configurations to summarise")
    table = {ct: summarise(df) for ct, df in per_config.groupby("config_type", sort=True)}
    table[ALL] = summarise(per_config)
    result = pd.DataFrame.from_dict(table, orient="index")
    result.index.name = "config_type"
    return result


def model_errors(model, frames, source: str = "<frames>") -> pd.DataFrame:
    """Error table of ``model`` (ACEPotential or ASE calculator) on ``frames`` (of ``source``)."""
    return error_table(per_config_errors(model, frames, source))
