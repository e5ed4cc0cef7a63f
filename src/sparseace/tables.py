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


#: Table II quantities: label, column of the errors, key of the published values
ZUO_QUANTITIES = (("energy MAE (meV/atom)", "energy_mae", "energy_mae_meV_per_atom"),
                  ("force MAE (eV/A)", "force_mae", "force_mae_eV_per_A"))
ZUO_ELEMENTS = ("Ni", "Cu", "Li", "Mo", "Si", "Ge")


def _quantities(errors: pd.DataFrame) -> list[tuple]:
    """Table II's quantities of our models: ``ZUO_QUANTITIES``, then the number of functions
    (nothing published) when ``errors`` has the models' sizes (column active)."""
    return [*ZUO_QUANTITIES, *([("functions", "active", None)] if "active" in errors else [])]


def zuo_table(errors: pd.DataFrame, literature: dict, published: dict | None = None) -> pd.DataFrame:
    """Table II: energy (meV/atom) and force (eV/Å) test MAE per element for small and large
    models of each solver, next to the published MTP and GAP values.

    ``errors``: columns element, solver (its label), model ("small"/"large"), energy_mae,
    force_mae, and optionally active (the model's number of functions, a row of its own).
    ``published``: row label -> block with ``energy_mae_meV_per_atom`` and
    ``force_mae_eV_per_A``, each "small"/"large" -> element -> value (e.g. [52]'s models)."""
    rows = []
    for (solver, model), d in errors.groupby(["solver", "model"], sort=False):
        d = d.set_index("element")
        rows += [{"model": f"{solver} ({model})", "quantity": q,
                  **{el: d.at[el, col] for el in d.index}} for q, col, _ in _quantities(errors)]
    for name, block in (published or {}).items():
        for size in ("small", "large"):
            rows += [{"model": f"{name} ({size})", "quantity": q, **block[key][size]}
                     for q, _, key in ZUO_QUANTITIES]
    for name in ("MTP", "GAP"):
        rows += [{"model": name, "quantity": q, **literature[key][name]}
                 for q, _, key in ZUO_QUANTITIES]
    elements = [e for e in ZUO_ELEMENTS if e in errors["element"].values]
    return pd.DataFrame(rows).reindex(columns=["model", "quantity", *elements])


def zuo_seed_table(errors: pd.DataFrame, literature: dict, published: dict,
                   other_published: dict | None = None) -> pd.DataFrame:
    """Table II over several split seeds, element by element: per model and quantity the test
    MAE's mean, sample standard deviation, min and max over the seeds (``test_mae_mean``,
    ``test_mae_sd``, ``test_mae_min``, ``test_mae_max``, ``n_seeds``) beside the study's
    published value (``published``; ``published_in_range``: min <= published <= max), then the
    published values of ``other_published`` (as ``zuo_table``'s ``published``, e.g. [52]'s
    models) and of MTP and GAP (``published`` only).

    ``errors``: columns element, solver (label), model ("small"/"large"), seed, energy_mae,
    force_mae, and optionally active (the model's number of functions, a row of its own);
    ``published``: the study's Table II, quantity key -> model -> solver label ->
    element -> value (literature_values.yaml, this_study/table2)."""
    order = {e: i for i, e in enumerate(ZUO_ELEMENTS)}
    rows = []
    for (solver, model), d in errors.groupby(["solver", "model"], sort=False):
        for element, e in d.groupby("element"):
            for q, col, key in _quantities(errors):
                v = e[col].to_numpy(dtype=float)
                ref = published.get(key, {}).get(model, {}).get(solver, {}).get(element, np.nan)
                rows.append({"element": element, "model": f"{solver} ({model})",
                             "quantity": q, "test_mae_mean": v.mean(),
                             "test_mae_sd": v.std(ddof=1) if len(v) > 1 else np.nan,
                             "test_mae_min": v.min(), "test_mae_max": v.max(),
                             "n_seeds": len(v), "published": ref,
                             "published_in_range": (pd.NA if np.isnan(ref)
                                                    else bool(v.min() <= ref <= v.max()))})
    elements = [e for e in ZUO_ELEMENTS if e in errors["element"].values]
    for name, block in (other_published or {}).items():
        rows += [{"element": el, "model": f"{name} ({size})", "quantity": q,
                  "published": block[key][size][el]}
                 for size in ("small", "large") for el in elements for q, _, key in ZUO_QUANTITIES]
    for name in ("MTP", "GAP"):
        rows += [{"element": el, "model": name, "quantity": q,
                  "published": literature[key][name][el]}
                 for el in elements for q, _, key in ZUO_QUANTITIES]
    rows.sort(key=lambda row: order[row["element"]])  # stable: per element, models in order
    return pd.DataFrame(rows).astype({"n_seeds": "Int64", "published_in_range": "boolean"})


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
