"""The study's tables (pandas), written as CSV, Markdown and LaTeX with a caption that names the
run (full study or reduced run) and its data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .provenance import atomic_path
from .solvers import SOLVERS



def solver_table(names) -> pd.DataFrame:
    """Table I: the solvers compared (label, method, use), from the solver registry."""
    return pd.DataFrame([(SOLVERS[n].label, SOLVERS[n].description, SOLVERS[n].use)
                         for n in names], columns=["solver", "method", "use"])


def write_table(df: pd.DataFrame, stem, caption: str) -> list[str]:
    """Write ``stem``.csv/.md/.tex atomically; the caption heads each file.  Returns the paths."""
    paths = []
    for ext in ("csv", "md", "tex"):
        path = f"{stem}.{ext}"
        with atomic_path(path, "." + ext) as tmp:
            if ext == "csv":
                tmp.write_text(f"# {caption}\n" + df.to_csv(index=False))
            elif ext == "md":
                tmp.write_text(f"{caption}\n\n" + df.to_markdown(index=False, floatfmt=".4g") + "\n")
            else:
                tmp.write_text(df.to_latex(index=False, caption=caption, float_format="%.4g",
                                           na_rep="--"))
        paths.append(path)
    return paths


def zuo_table(errors: pd.DataFrame, literature: dict, published: dict | None = None) -> pd.DataFrame:
    """Table II: energy (meV/atom) and force (eV/Å) test MAE per element for small and large
    models of each solver, next to the published MTP and GAP values.

    ``errors``: columns element, solver (its label), model ("small"/"large"), energy_mae,
    force_mae.  ``published``: row label -> block with ``energy_mae_meV_per_atom`` and
    ``force_mae_eV_per_A``, each "small"/"large" -> element -> value (e.g. [52]'s models)."""
    rows = []
    for (solver, model), d in errors.groupby(["solver", "model"], sort=False):
        d = d.set_index("element")
        rows += [{"model": f"{solver} ({model})", "quantity": q,
                  **{el: d.at[el, col] for el in d.index}}
                 for q, col in (("energy MAE (meV/atom)", "energy_mae"),
                                ("force MAE (eV/A)", "force_mae"))]
    for name, block in (published or {}).items():
        for size in ("small", "large"):
            rows.append({"model": f"{name} ({size})", "quantity": "energy MAE (meV/atom)",
                         **block["energy_mae_meV_per_atom"][size]})
            rows.append({"model": f"{name} ({size})", "quantity": "force MAE (eV/A)",
                         **block["force_mae_eV_per_A"][size]})
    for name in ("MTP", "GAP"):
        rows.append({"model": name, "quantity": "energy MAE (meV/atom)",
                     **literature["energy_mae_meV_per_atom"][name]})
        rows.append({"model": name, "quantity": "force MAE (eV/A)",
                     **literature["force_mae_eV_per_A"][name]})
    elements = [e for e in ("Ni", "Cu", "Li", "Mo", "Si", "Ge") if e in errors["element"].values]
    return pd.DataFrame(rows).reindex(columns=["model", "quantity", *elements])


#: Table III rows: property key (``properties.silicon_properties``, literature_values.yaml) and
#: label; the two kinds of C44 and of bulk modulus are separate rows (like with like)
SI_PROPERTY_ROWS = (
    ("vacancy", "vacancy (eV)"),
    ("interstitial_tetrahedral", "tetrahedral interstitial (eV)"),
    ("interstitial_hexagonal", "hexagonal interstitial (eV)"),
    ("interstitial_dumbbell", "dumbbell interstitial (eV)"),
    ("C11", "C11 (GPa)"),
    ("C12", "C12 (GPa)"),
    ("C44", "C44 relaxed-ion (GPa)"),
    ("C44_unrelaxed", "C44 clamped-ion (GPa)"),
    ("bulk_modulus", "B = (C11 + 2 C12)/3 (GPa)"),
    ("bulk_modulus_eos", "B from E(V), Birch-Murnaghan (GPa)"),
    ("surface_111", "surface (111) (J/m^2)"),
    ("surface_110", "surface (110) (J/m^2)"),
    ("surface_100", "surface (100) (J/m^2)"),
)


def si_properties_table(models: dict[str, dict], literature: dict) -> pd.DataFrame:
    """Table III: silicon properties of DFT, GAP, any other published model of ``literature``
    (e.g. [52]'s BLR) and the fitted models, with % error vs DFT.

    ``models``: column label (a model id) -> property dict (eV, GPa, J/m^2); one column pair
    per label, so two models never share a column."""
    keys = [k for k, _ in SI_PROPERTY_ROWS]
    published = ["DFT", "GAP", *[k for k in literature if k not in ("DFT", "GAP", "units")]]
    table = pd.DataFrame({"property": [label for _, label in SI_PROPERTY_ROWS],
                          **{name: [literature[name].get(k, np.nan) for k in keys]
                             for name in published}})
    for label, values in models.items():
        mine = np.array([values.get(k, np.nan) for k in keys], dtype=float)
        table[label] = mine
        table[f"{label} err %"] = 100 * (mine - table["DFT"]) / table["DFT"]
    return table


def water_table(errors: pd.DataFrame, literature: list[dict]) -> pd.DataFrame:
    """Table IV: water energy (meV/atom) and force (meV/Å) test MAE and parameter counts of the
    OMP models, next to the published rows.  ``errors``: columns model, energy_mae,
    force_mae (eV/Å), parameters."""
    ours = errors.assign(force_mae_meV_per_A=errors["force_mae"] * 1000)
    ours = ours.rename(columns={"energy_mae": "energy_mae_meV_per_atom"})
    cols = ["model", "energy_mae_meV_per_atom", "force_mae_meV_per_A", "parameters"]
    return pd.concat([ours[cols], pd.DataFrame(literature)[cols]], ignore_index=True)
