"""Workflow configuration: YAML validated against the package's JSON schema, defaults filled."""

from __future__ import annotations

import os
from pathlib import Path

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
        raise ValueError(f"{source}: invalid configuration at {where}: {error.message}")
    if os.environ.get("SPARSEACE_MIRROR"):
        config["mirror"] = os.environ["SPARSEACE_MIRROR"]
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
    return config


def load_config(path) -> dict:
    """Read and validate a YAML configuration file."""
    path = Path(path)
    return validate_config(yaml.safe_load(path.read_text()), str(path))
