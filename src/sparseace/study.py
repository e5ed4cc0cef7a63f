"""The study's figures and tables: one function each, from in-memory inputs.

A definition names the kinds of input it takes; the workflow's rule for a figure or table passes
those inputs by name, keyed as below, loaded from the files its entry in the configuration's
``figures`` section points to (``load``).  A new figure is one function here, decorated with
``@figure(name, *inputs)``, and one entry in the configuration.

Input kinds (key -> object):
  curves       one DataFrame of every curve (columns dataset, solver, size, test errors)
  checkpoints  "<dataset>/<solver>" -> ``Checkpoints``
  basis        "<dataset>" -> ``ACEBasis``
  model        "<dataset>/<model id>" -> ``ACEPotential``
  properties   "<model id>" -> silicon property record (dict, ``values`` in eV, GPa, J/m^2)
  errors       "<dataset>/<model id>" -> error table (DataFrame by config_type; row "all")
  seed_errors  "<dataset>/<model id>/<split seed>" -> error table, every split seed of the fit
  literature   the published values (literature_values.yaml) as a dict

Entries of the configuration (a spec) name a ``dataset`` or ``datasets``, a ``solver`` or
``solvers``, and models: ``model``, ``models``, or solvers x ``sizes`` (Table II: solvers x
``small``/``large``).  Model ids are ``<solver>-<n>`` (the model of n functions) or
``<solver>-all``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import yaml

from . import plots, tables
from .basis import ACEBasis
from .model import ACEPotential
from .solvers import SOLVERS, Checkpoints

INPUT_KINDS = ("curves", "checkpoints", "basis", "model", "properties", "errors", "seed_errors",
               "literature")


@dataclass(frozen=True)
class Definition:
    """A figure (``make`` returns a matplotlib Figure) or a table (``make`` returns
    (DataFrame, caption)); ``make(spec, label, **inputs)``."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    make: Callable


DEFINITIONS: dict[str, Definition] = {}


def _define(kind, name, *inputs):
    def register(make):
        DEFINITIONS[name] = Definition(name, kind, inputs, make)
        return make
    return register


def figure(name, *inputs):
    """Decorator: the function draws figure ``name`` from ``inputs``."""
    return _define("figure", name, *inputs)


def table(name, *inputs):
    """Decorator: the function builds table ``name`` from ``inputs``."""
    return _define("table", name, *inputs)


# ---------------------------------------------------------------------- specs and inputs
def datasets(spec) -> list[str]:
    return list(spec["datasets"]) if "datasets" in spec else [spec["dataset"]]


def solvers(spec) -> list[str]:
    return list(spec["solvers"]) if "solvers" in spec else [spec["solver"]]


def model_ids(spec) -> list[str]:
    """The models a spec names, in order."""
    if "models" in spec:
        return list(spec["models"])
    if "model" in spec:
        return [spec["model"]]
    sizes = spec["sizes"] if "sizes" in spec else [spec["small"], spec["large"]]
    return [f"{s}-{n}" for s in solvers(spec) for n in sizes]


def refit_models(spec) -> list[tuple[str, str, str, str]]:
    """(dataset, "small"/"large", refit dataset, model id) of a Table II spec's ``refits``:
    ``small`` and ``large`` name one dataset per entry of ``datasets`` (the same data, fitted
    with another basis), ``models`` the model ids taken from each."""
    refits = spec.get("refits", {})
    return [(ds, size, refit, m) for size in ("small", "large")
            for ds, refit in zip(datasets(spec), refits.get(size, []))
            for m in refits.get("models", [])]


def parse_model_id(model_id: str) -> tuple[str, str]:
    """(solver, size) of ``<solver>-<n>`` or ``<solver>-all``."""
    solver, _, size = model_id.rpartition("-")
    return solver, size


def _read_errors(path) -> pd.DataFrame:
    return pd.read_csv(path, index_col="config_type")


def load(kind: str, files):
    """The in-memory input of ``kind`` from ``files`` (key -> path; for curves a list)."""
    if kind == "curves":
        return pd.concat([pd.read_csv(p) for p in files], ignore_index=True)
    if kind == "literature":
        return yaml.safe_load(Path(files).read_text())
    loader = {"checkpoints": Checkpoints.load, "basis": ACEBasis.load,
              "model": ACEPotential.load,
              "properties": lambda p: json.loads(Path(p).read_text()),
              "errors": _read_errors, "seed_errors": _read_errors}[kind]
    return {key: loader(path) for key, path in files.items()}


def make(name: str, spec: dict, label: str, **inputs):
    """Draw figure / build table ``name`` from its spec and in-memory inputs."""
    return DEFINITIONS[name].make(spec, label, **inputs)


# ---------------------------------------------------------------------- figures
def _error_curves(title):
    def make(spec, label, curves):
        return plots.error_curves(curves, datasets(spec), solvers(spec), label, title)
    return make


figure("fig1", "curves")(_error_curves("Zuo et al. 2020: energy test error against model size"))
figure("fig4", "curves")(_error_curves("GAP-Si data: energy test error against model size"))
figure("fig6", "curves")(_error_curves("Water: learning curve (test error against number of "
                                       "active functions)"))


@figure("fig2", "basis", "checkpoints")
def fig2(spec, label, basis, checkpoints):
    ds = spec["dataset"]
    b, cp = basis[ds], checkpoints[f"{ds}/{spec['solver']}"]
    return plots.pair_selection(b.functions, cp.sizes, [cp.support(i) for i in range(len(cp))],
                                b.level_order(), spec["centre"], label)


@figure("fig3", "model")
def fig3(spec, label, model):
    m = model[f"{spec['dataset']}/{spec['model']}"]
    return plots.threebody_selection(m.basis.functions, m.active, m.basis.level_order(), label,
                                     centre=spec.get("centre"))


@figure("fig5", "properties", "literature")
def fig5(spec, label, properties, literature):
    lit = literature["si_properties"]
    rows = [{"solver": parse_model_id(m)[0], "size": properties[m]["active"],
             **properties[m]["values"]} for m in model_ids(spec)]
    return plots.defect_errors(pd.DataFrame(rows), lit["DFT"], lit["GAP"], label)


@figure("fig7", "model")
def fig7(spec, label, model):
    m = model[f"{spec['dataset']}/{spec['model']}"]
    return plots.species_threebody(m.basis.functions, m.active, spec["centre"], label)


# ---------------------------------------------------------------------- tables
def _overall(errors: pd.DataFrame) -> pd.Series:
    return errors.loc["all"]


@table("table1")
def table1(spec, label):
    names = spec.get("solvers", list(SOLVERS))
    return tables.solver_table(names), "Table I: the solvers compared"


@table("table2", "seed_errors", "errors", "literature", "checkpoints")
def table2(spec, label, seed_errors, errors, literature, checkpoints):
    rows, notes = [], {}  # notes: of the checkpoints of the first split seed
    for key, table in seed_errors.items():
        ds, m, seed = key.split("/")
        solver, size = parse_model_id(m)
        err = _overall(table)
        model = "small" if int(size) == spec["small"] else "large"
        rows.append({"element": ds.split("_")[-1], "solver": SOLVERS[solver].label,
                     "model": model, "seed": int(seed), "energy_mae": err["E_MAE_meV_per_atom"],
                     "force_mae": err["F_MAE_eV_per_A"], "active": err["active"]})
        search = checkpoints[f"{ds}/{solver}"].meta.get("size_search", {}).get(size)
        if search:
            notes[ds, solver, model] = (f"{ds} {SOLVERS[solver].label} {model}: threshold_lambda "
                                        f"{search['threshold']:.10g}, {search['size']} functions"
                                        + (f" ({search['note']})" if "note" in search else ""))
    caption = (f"Table II: Zuo test MAE, small ({spec['small']} functions) and large "
               f"({spec['large']} functions) models; row 'functions': each model's size")
    if notes:
        caption += ("; a thresholded model of n functions has between 0.95 n and n unless "
                    "noted (first split seed): " + "; ".join(notes.values()))
    refits, published = refit_models(spec), {}
    if refits:
        sizes = {}
        for ds, size, refit, m in refits:  # one fit of the whole training file: no split seed
            err = _overall(errors[f"{refit}/{m}"])
            sizes.setdefault(size, set()).add(int(err["active"]))
            rows.append({"element": ds.split("_")[-1],
                         "solver": f"{SOLVERS[parse_model_id(m)[0]].label} refit of [52]",
                         "model": size, "seed": None, "energy_mae": err["E_MAE_meV_per_atom"],
                         "force_mae": err["F_MAE_eV_per_A"], "active": err["active"]})
        published = {"[52] published": literature["acepotentials2023_zuo"]}
        caption += ("; refit of [52]: [52]'s protocol (per-order degrees, the whole training "
                    "file) refitted here, " + ", ".join(
                        f"{size} {'/'.join(map(str, sorted(n)))} functions"
                        for size, n in sizes.items())
                    + "; [52] published: [52]'s models as the study's Table II quotes them "
                    "(its RRQR column)")
    rows = pd.DataFrame(rows)
    other = literature["zuo2020_other_potentials"]
    if rows.groupby(["element", "solver", "model"])["seed"].nunique().max() <= 1:
        return tables.zuo_table(rows, other, published), caption
    table = tables.zuo_seed_table(rows, other, literature["this_study"]["table2"], published)
    inside = table.dropna(subset=["published_in_range"]).groupby("element", sort=False)
    seeds = sorted(set(rows["seed"].dropna().astype(int).tolist()))
    caption += (f"; over split seeds {seeds}: mean, sd, min, max beside the study's published "
                "value; published value inside our min-max: "
                + ", ".join(f"{el} {int(d['published_in_range'].sum())} of {len(d)}"
                            for el, d in inside))
    return table, caption


@table("table3", "properties", "literature")
def table3(spec, label, properties, literature):
    models = {m: properties[m]["values"] for m in model_ids(spec)}
    collapsed = [f"{m}: {', '.join(properties[m]['failures'])}" for m in model_ids(spec)
                 if properties[m].get("failures")]
    protocols = sorted({properties[m].get("protocol", "testing_framework")
                        for m in model_ids(spec)})
    caption = ("Table III: silicon properties (eV, GPa, J/m^2) and % error vs DFT; columns are "
               f"model ids <solver>-<functions>; property protocol: {', '.join(protocols)} "
               "(sparseace.properties)")
    if collapsed:
        caption += ("; blank where the model's relaxation brought two atoms closer than the "
                    "calculator's floor (" + "; ".join(collapsed) + ")")
    return tables.si_properties_table(models, literature["si_properties"]), caption


@table("table4", "errors", "literature")
def table4(spec, label, errors, literature):
    rows = []
    for m in model_ids(spec):
        err = errors[f"{spec['dataset']}/{m}"]
        solver, _ = parse_model_id(m)
        active = int(err["active"].iloc[0])
        rows.append({"model": f"{SOLVERS[solver].label} ({active})",
                     "energy_mae": _overall(err)["E_MAE_meV_per_atom"],
                     "force_mae": _overall(err)["F_MAE_eV_per_A"], "parameters": active})
    return (tables.water_table(pd.DataFrame(rows), literature["water_other_models"]),
            "Table IV: water test MAE and parameter counts")
