"""Configuration schema, shipped configs, pins, and the workflow's plans (dry runs)."""

import copy
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from sparseace.config import load_config, validate_config

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


@pytest.fixture(scope="module")
def default():
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def test_shipped_configs_validate_with_defaults():
    for name in ("config.yaml", "paper.yaml"):
        config = load_config(REPO / "config" / name)
        for ds in config["datasets"].values():
            assert ds["split"]["seed"] == config["seed"]
            assert ds["weights"]["default"] == {"E": 30.0, "F": 1.0, "V": 1.0} or \
                "dia" in ds["weights"]


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["datasets"]["zuo_Mo"].update(colour="red"), "Additional properties"),
    (lambda c: c["datasets"]["zuo_Mo"]["split"].update(val_fraction=-0.1), "val_fraction"),
    (lambda c: c["sources"]["zuo2020"].pop("sha256"), "sha256"),
    (lambda c: c["sources"]["zuo2020"].update(sha256="abc"), "sha256"),
    (lambda c: c["fits"]["si_tiny"].update(solvers=["lasso"]), "solvers"),
    (lambda c: c.update(study="final"), "study"),
    (lambda c: c["datasets"]["zuo_Mo"]["files"]["train"][0].update(source="nowhere"), "unknown source"),
])
def test_bad_config_rejected(default, edit, message):
    config = copy.deepcopy(default)
    edit(config)
    with pytest.raises(ValueError, match=message):
        validate_config(config)


def test_requirements_file_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = project["dependencies"] + project["optional-dependencies"]["test"] + \
        project["optional-dependencies"]["cluster"]
    listed = [l for l in (REPO / "envs/requirements.txt").read_text().splitlines()
              if l and not l.startswith("#")]
    assert listed == pins


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/paper.yaml"])
def test_workflow_plans(configfile, tmp_path):
    out = subprocess.run([SNAKEMAKE, "-n", "--cores", "1", "--configfile", configfile,
                          "--quiet", "rules"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    for rule in ("fetch", "split", "design_chunk", "solve", "md_run", "si_properties",
                 "figure_fig1", "table_table4"):
        assert rule in out.stdout, rule
