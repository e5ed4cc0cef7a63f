"""Workflow configuration: YAML validated against the package's JSON schema, defaults filled."""

from __future__ import annotations

import fnmatch
import json
import math
import os
import re
from functools import lru_cache
from pathlib import Path, PurePosixPath

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


def _with_defaults(validator_class):
    """A validator that also fills ``default`` values of absent properties (nested too)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = sub["default"]
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def validate_config(config: dict, source: str = "<config>") -> dict:
    """Validate ``config`` in place (filling defaults); the mirror comes from SPARSEACE_MIRROR
    when that is set.  Raises ValueError naming the offending key."""
    from .solvers import SOLVERS, load_plugins

    load_plugins(config.get("solver_plugins") if isinstance(config, dict) else None)
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    schema["definitions"]["solver_name"]["enum"] = list(SOLVERS)
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        known = (f" (known: {sorted(error.schema['properties'])})"
                 if error.validator == "additionalProperties" and "properties" in error.schema
                 else "")
        raise ValueError(f"{source}: invalid configuration at {where}: {error.message}{known}")
    _raise_invalid(source, input_errors(config))
    if os.environ.get("SPARSEACE_MIRROR"):
        config["mirror"] = os.environ["SPARSEACE_MIRROR"]
    from .study import DEFINITIONS

    unknown = sorted(set(config.get("figures", {})) - set(DEFINITIONS))
    if unknown:
        raise ValueError(f"{source}: invalid configuration at figures: no figure or table "
                         f"named {unknown} (known: {sorted(DEFINITIONS)})")
    from .fetch import ChecksumError, check_pins

    for name, src in config["sources"].items():
        try:
            check_pins(src, name)
        except ChecksumError as err:
            raise ValueError(f"{source}: invalid configuration at sources/{name}: {err}") from None
    for name, ds in config["datasets"].items():
        ds["split"].setdefault("seed", config["seed"])
        missing = [f["source"] for part in ds["files"].values() for f in part
                   if f["source"] not in config["sources"]]
        if missing:
            raise ValueError(f"{source}: dataset {name} uses unknown source(s) {missing}")
        if set(ds["eref"]) != set(ds["elements"]):
            raise ValueError(f"{source}: dataset {name}: eref must give every element once")
        layout = set(ds["files"])
        if layout not in ({"train", "test"}, {"pool"}):
            raise ValueError(f"{source}: dataset {name}: files must be train+test or pool")
    for name, fit in config.get("fits", {}).items():
        if name in config["datasets"] and "split_seeds" not in fit:  # fits may share one dict
            seed = config["datasets"][name]["split"]["seed"]
            config["fits"][name] = {**fit, "split_seeds": [seed]}
    from .solvers import check_options

    fitted = {s for fit in config.get("fits", {}).values() for s in fit["solvers"]}
    for name in sorted(fitted | set(config.get("solvers", {}))):
        try:
            config.setdefault("solvers", {})[name] = check_options(
                name, config["solvers"].get(name, {}))
        except ValueError as err:
            raise ValueError(f"{source}: invalid configuration at solvers/{name}: {err}") from None
    _raise_invalid(source, consistency_errors(config))
    restrict(config, source)
    fit_plan(config, source)
    return config


def restrict(config: dict, source: str = "<config>") -> None:
    """Restrict a validated config in place to the datasets that its ``only`` names (names or
    shell patterns, e.g. ``zuo_*``) and the refit datasets of their Table II rows: the fits, MD
    runs, figures and tables of other datasets are left out (a figure over several datasets
    keeps the ones named; so do the accuracy-cost figures), and the reproduction report lists
    their numbers as not run."""
    patterns = config.get("only")
    if not patterns:
        return
    unmatched = [p for p in patterns if not fnmatch.filter(config["datasets"], p)]
    if unmatched:
        raise ValueError(f"{source}: invalid configuration at only: {unmatched} name(s) no "
                         f"dataset (datasets: {sorted(config['datasets'])})")
    keep = {d for p in patterns for d in fnmatch.filter(config["datasets"], p)}
    figures = {}
    for name, spec in config.get("figures", {}).items():
        if "datasets" in spec:
            kept = [i for i, d in enumerate(spec["datasets"]) if d in keep]
            refits = spec.get("refits", {})
            spec = {**spec, "datasets": [spec["datasets"][i] for i in kept]}
            if refits:
                spec["refits"] = {**refits, **{size: [refits[size][i] for i in kept]
                                               for size in ("small", "large") if size in refits}}
                keep |= {d for size in ("small", "large") for d in spec["refits"].get(size, [])}
            if kept:
                figures[name] = spec
        elif spec.get("dataset") in keep:
            figures[name] = spec
    config["figures"] = figures
    config["datasets"] = {k: v for k, v in config["datasets"].items() if k in keep}
    config["fits"] = {k: v for k, v in config.get("fits", {}).items() if k in keep}
    if "md" in config:
        config["md"]["runs"] = {k: v for k, v in config["md"]["runs"].items() if k in keep}
    if config.get("properties", {}).get("dataset") not in keep:
        config.pop("properties", None)
    cost = config.get("accuracy_cost")
    if cost:
        cost["datasets"] = [d for d in cost.get("datasets", []) if d in keep]
        for by_dataset in (cost.get("snap", {}).get("rcut"), cost.get("published")):
            for d in set(by_dataset or ()) - keep:
                del by_dataset[d]
    _raise_invalid(source, consistency_errors(config))


def _raise_invalid(source: str, errors: list[tuple[str, str]]) -> None:
    """ValueError listing (key path, what is wrong) pairs, if any."""
    if errors:
        raise ValueError("\n".join(f"{source}: invalid configuration at {path}: {message}"
                                    for path, message in errors))


#: dataset and source ids and source file names: they become file names and workflow wildcards
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _non_finite(value, path: str):
    """(key path, message) for every NaN or infinite number in a parsed YAML value."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path, f"{value} is not a finite number"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, f"{path}/{key}".lstrip("/"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _non_finite(item, f"{path}/{i}".lstrip("/"))


def _relative_path_problem(path: str) -> str | None:
    """Why ``path`` may leave the directory or archive it is read from (None: it stays in)."""
    parts = PurePosixPath(path).parts
    if not path or path.startswith(("/", "\\")) or ".." in parts or "\\" in path:
        return (f"{path!r} must be a relative path inside its source (no leading '/', no '..' "
                "components, no backslashes)")
    return None


def input_errors(config: dict) -> list[tuple[str, str]]:
    """(key path, what is wrong) for values the schema cannot express: non-finite numbers,
    dataset and source ids or file names that are not safe names, archive members and mirror
    paths that leave their source, repeated or unknown elements, weights that are all zero,
    bond lengths r0 of elements outside a fitted dataset (or missing for one)."""
    from ase.data import chemical_symbols

    from .basis.ace import BOND_LENGTHS
    from .design import loss_weights

    errors = list(_non_finite(config, ""))
    rule = f"must match {SAFE_NAME.pattern} (letters, digits, '_', '.', '-')"
    for section, what in (("sources", "source"), ("datasets", "dataset")):
        errors += [(section, f"{what} id {name!r} is not a safe name: ids become file names and "
                    f"{rule}") for name in config[section] if not SAFE_NAME.fullmatch(name)]
    for name, src in config["sources"].items():
        if not SAFE_NAME.fullmatch(src["file"]):
            errors.append((f"sources/{name}/file", f"{src['file']!r} is not a plain file name: "
                           f"it {rule}"))
        if "mirror" in src and (problem := _relative_path_problem(src["mirror"])):
            errors.append((f"sources/{name}/mirror", problem))
    for name, ds in config["datasets"].items():
        where = f"datasets/{name}"
        for part, refs in ds["files"].items():
            errors += [(f"{where}/files/{part}/{i}/member", problem) for i, ref in enumerate(refs)
                       if "member" in ref and (problem := _relative_path_problem(ref["member"]))]
        elements = ds["elements"]
        unknown = [e for e in elements if e not in chemical_symbols[1:]]
        repeated = sorted({e for e in elements if elements.count(e) > 1})
        if unknown:
            errors.append((f"{where}/elements", f"{unknown} are not chemical symbols (e.g. "
                           "'Si', 'H'; the case matters)"))
        if repeated:
            errors.append((f"{where}/elements", f"{repeated} repeated: give each element once"))
        weights = ds.get("weights", {})
        errors += [(f"{where}/weights/{ct}", "E, F and V weights are all zero: these "
                    "configurations would not be fitted (leave a config_type out with "
                    "split/drop)") for ct in weights if not any(loss_weights(ct, weights))]
        fit = config.get("fits", {}).get(name)
        if fit is not None and not unknown:
            r0 = fit.get("basis_options", {}).get("r0", {})
            if outside := sorted(set(r0) - set(elements)):
                errors.append((f"fits/{name}/basis_options/r0", f"bond lengths of {outside}, "
                               f"which are not elements of dataset {name} ({elements})"))
            if missing := [e for e in elements if e not in {**BOND_LENGTHS, **r0}]:
                errors.append((f"fits/{name}/basis_options/r0", f"no bond length r0 (Å) of "
                               f"{missing}: give it here (sparseace knows those of "
                               f"{sorted(BOND_LENGTHS)})"))
    return errors


def fit_plan(config: dict, source: str = "<config>") -> list[dict]:
    """Per fitted dataset: basis functions (counted without building the basis) and the memory
    (GB) of its largest design and solve jobs (``fitting.JOB_MATRICES``); ValueError naming the
    fit when a basis is impossible or above ``limits`` (max_functions, max_memory_gb)."""
    from .fitting import JOB_MATRICES, MAX_FUNCTIONS, MAX_MEMORY_GB, matrices_gb

    limits = {"max_functions": MAX_FUNCTIONS, "max_memory_gb": MAX_MEMORY_GB,
              **config.get("limits", {})}
    rows = []
    for name, fit in config.get("fits", {}).items():
        settings = [config["datasets"][name]["elements"], fit["order"], fit["totaldegree"],
                    fit.get("basis_options", {}), max(JOB_MATRICES.values()),
                    limits["max_functions"], limits["max_memory_gb"]]
        try:
            n, _ = _fit_size(json.dumps(settings))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{source}: invalid configuration at fits/{name}: {err}") from None
        rows.append({"dataset": name, "functions": n,
                     **{f"{job}_job_GB": round(matrices_gb(n, count), 2)
                        for job, count in JOB_MATRICES.items()}})
    return rows


@lru_cache(maxsize=None)
def _fit_size(settings: str) -> tuple[int, float]:
    """``fitting.fit_size`` of JSON-encoded arguments, computed once per process."""
    from .fitting import fit_size

    elements, order, totaldegree, options, matrices, max_functions, max_memory_gb = \
        json.loads(settings)
    return fit_size(elements, order, totaldegree, options, matrices, max_functions,
                    max_memory_gb, {"max_functions": "limits/max_functions",
                                    "max_memory_gb": "limits/max_memory_gb"})


#: figures and tables made of silicon properties, computed for ``properties.dataset``
PROPERTY_FIGURES = ("fig5", "table3")


def _model_id_problem(model_id, fit: dict) -> str | None:
    """Why no fit with these settings produces ``model_id`` (None: it does).  ``<solver>-<n>``
    exists iff the solver is fitted and n is one of the fit's model sizes; ``<solver>-all``
    for every fitted solver."""
    solver, _, size = str(model_id).rpartition("-")
    if solver not in fit["solvers"]:
        return f"solver {solver or model_id!r} is not among its solvers {fit['solvers']}"
    if size != "all" and (not size.isdigit() or int(size) not in fit["models"]):
        return f"size {size!r} is not among its models {fit['models']} (or 'all')"
    return None


def _figure_references(name: str, spec: dict):
    """(key path, dataset names, model ids, solvers without sizes) a figure or table names."""
    where = f"figures/{name}"
    datasets = [(f"{where}/datasets/{i}", ds) for i, ds in enumerate(spec.get("datasets", []))]
    if "dataset" in spec:
        datasets.append((f"{where}/dataset", spec["dataset"]))
    solver_key = "solvers" if "solvers" in spec else "solver"
    solvers = spec.get("solvers", [spec["solver"]] if "solver" in spec else [])
    models = [(f"{where}/model", spec["model"])] if "model" in spec else []
    models += [(f"{where}/models/{i}", m) for i, m in enumerate(spec.get("models", []))]
    sizes = [(f"{where}/sizes/{i}", n) for i, n in enumerate(spec.get("sizes", []))]
    sizes += [(f"{where}/{key}", spec[key]) for key in ("small", "large") if key in spec]
    models += [(path, f"{solver}-{n}") for path, n in sizes for solver in solvers]
    plain_solvers = [] if sizes else [(f"{where}/{solver_key}", s) for s in solvers]
    return datasets, models, plain_solvers


def consistency_errors(config: dict) -> list[tuple[str, str]]:
    """(key path, what is wrong) for every setting that contradicts another section: split
    fractions that leave no training data, model sizes beyond a sparse path, fits of unknown
    datasets, figures, tables, MD runs, accuracy-cost figures and properties naming datasets that are not fitted or
    models that no fit produces, silicon properties of a dataset that is not silicon, split seeds
    other than the dataset's for a test set drawn from a pool.  Sparse
    solvers (registry kind "path") end their paths at max_active."""
    from .solvers import SOLVERS

    errors = []
    datasets, fits = config["datasets"], config.get("fits", {})
    for name, ds in datasets.items():
        split = ds["split"]
        total = split["val_fraction"] + split["test_fraction"]
        if (split["method"] == "stratified" or "pool" in ds["files"]) and total >= 1:
            errors.append((f"datasets/{name}/split", f"val_fraction + test_fraction = {total:g} "
                           "leaves no training data (the sum must be below 1)"))
    for name, fit in fits.items():
        if name not in datasets:
            errors.append((f"fits/{name}", f"no dataset {name!r} in datasets"))
        seed = datasets.get(name, {}).get("split", {}).get("seed")
        others = [s for s in fit.get("split_seeds", []) if s != seed]
        if name in datasets and others and "test" not in datasets[name]["files"]:
            errors.append((f"fits/{name}/split_seeds", f"seeds {others} other than the dataset's "
                           f"split seed {seed} need a test set that does not depend on the seed "
                           f"(datasets/{name}/files: train + test); {name} draws its test set "
                           "from a pool"))
        degrees = fit["totaldegree"]
        if isinstance(degrees, list) and len(degrees) != fit["order"]:
            errors.append((f"fits/{name}/totaldegree", f"{len(degrees)} degrees {degrees} for "
                           f"correlation order {fit['order']}: give one per order 1..{fit['order']}"))
        sparse = [s for s in fit["solvers"] if SOLVERS[s].kind == "path"]
        too_large = [n for n in fit["models"] if n > fit["max_active"]]
        if sparse and too_large:
            errors.append((f"fits/{name}/models", f"sizes {too_large} exceed max_active "
                           f"{fit['max_active']}, where the paths of {sparse} end"))

    def fitted(path, dataset) -> bool:
        if dataset not in fits:
            errors.append((path, f"dataset {dataset!r} is not fitted (no fits/{dataset})"))
        return dataset in fits

    def check_models(dataset, models):
        for path, model_id in models:
            problem = _model_id_problem(model_id, fits[dataset])
            if problem:
                errors.append((path, f"no fit produces model {model_id!r} for {dataset}: "
                               f"fits/{dataset}: {problem}"))

    for name, spec in config.get("figures", {}).items():
        datasets_named, models, solvers = _figure_references(name, spec)
        for path, dataset in datasets_named:
            if fitted(path, dataset):
                check_models(dataset, models)
                errors += [(p, f"solver {s!r} is not fitted for {dataset} (fits/{dataset}/"
                            f"solvers: {fits[dataset]['solvers']})")
                           for p, s in solvers if s not in fits[dataset]["solvers"]]
        refits = spec.get("refits", {})
        for size in ("small", "large"):
            named = refits.get(size, [])
            if refits and len(named) != len(datasets_named):
                errors.append((f"figures/{name}/refits/{size}", f"{len(named)} datasets for the "
                               f"{len(datasets_named)} of figures/{name}/datasets (one each)"))
            for i, dataset in enumerate(named):
                path = f"figures/{name}/refits/{size}/{i}"
                if fitted(path, dataset):
                    check_models(dataset, [(path, m) for m in refits.get("models", [])])
    for dataset, model_ids in config.get("md", {}).get("runs", {}).items():
        if fitted(f"md/runs/{dataset}", dataset):
            check_models(dataset, [(f"md/runs/{dataset}/{i}", m) for i, m in enumerate(model_ids)])
    cost = config.get("accuracy_cost", {})
    for i, dataset in enumerate(cost.get("datasets", [])):
        fitted(f"accuracy_cost/datasets/{i}", dataset)
    for key in ("rcut", "published"):
        section = cost.get("snap", {}) if key == "rcut" else cost
        prefix = "accuracy_cost/snap" if key == "rcut" else "accuracy_cost"
        errors += [(f"{prefix}/{key}/{d}", f"{d} is not in accuracy_cost/datasets")
                   for d in section.get(key, {}) if d not in cost["datasets"]]
    if "properties" in config:
        dataset = config["properties"]["dataset"]
        if dataset not in datasets:
            errors.append(("properties/dataset", f"no dataset {dataset!r} in datasets"))
        elif datasets[dataset]["elements"] != ["Si"]:
            errors.append(("properties/dataset", f"{dataset} has elements "
                           f"{datasets[dataset]['elements']}; silicon properties need a "
                           "silicon dataset (elements [Si])"))
        else:
            fitted("properties/dataset", dataset)
        for name in PROPERTY_FIGURES:
            named = config.get("figures", {}).get(name, {}).get("dataset", dataset)
            if named != dataset:
                errors.append((f"figures/{name}/dataset", f"{named} is not properties/dataset "
                               f"({dataset}), the dataset whose silicon properties are computed"))
    return errors


def load_config(path) -> dict:
    """Read and validate a YAML configuration file."""
    path = Path(path)
    return validate_config(yaml.safe_load(path.read_text()), str(path))
