"""Configuration schema, shipped configs, pins, and the workflow's plans (dry runs)."""

import copy
import os
import re
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
    # settings that contradict another section
    (lambda c: c["datasets"]["si_tiny"]["split"].update(val_fraction=0.5, test_fraction=0.5),
     r"at datasets/si_tiny/split: val_fraction \+ test_fraction = 1 leaves no training data"),
    (lambda c: c["fits"]["si_tiny"].update(models=[25, 500]),
     r"at fits/si_tiny/models: sizes \[500\] exceed max_active 400, where the paths of "
     r"\['asp', 'omp'\] end"),
    (lambda c: c["figures"]["fig6"].update(dataset="zuo_Fe"),
     "at figures/fig6/dataset: dataset 'zuo_Fe' is not fitted"),
    (lambda c: c["figures"]["table2"]["datasets"].append("water"),
     "at figures/table2/datasets/6: dataset 'water' is not fitted"),
    (lambda c: c["figures"]["fig3"].update(model="asp-250"),
     r"at figures/fig3/model: no fit produces model 'asp-250' for zuo_Mo: fits/zuo_Mo: size "
     r"'250' is not among its models \[100, 300\]"),
    (lambda c: c["figures"]["table3"]["models"].append("rrqr-all"),
     "at figures/table3/models/4: no fit produces model 'rrqr-all' for si_tiny: fits/si_tiny: "
     "solver 'rrqr' is not among its solvers"),
    (lambda c: c["figures"]["table4"].update(sizes=[200, 300]),
     "at figures/table4/sizes/1: no fit produces model 'omp-300' for water_partial"),
    (lambda c: c["figures"]["table2"].update(large=1000),
     "at figures/table2/large: no fit produces model 'rrqr-1000' for zuo_Ni"),
    (lambda c: c["figures"]["fig4"]["solvers"].append("rrqr"),
     "at figures/fig4/solvers: solver 'rrqr' is not fitted for si_tiny"),
    (lambda c: c["md"]["runs"].update(zuo_Si=["asp-300", "omp-30"]),
     "at md/runs/zuo_Si/1: no fit produces model 'omp-30' for zuo_Si"),
    (lambda c: c["md"]["runs"].update(zuo_Fe=["asp-300"]),
     "at md/runs/zuo_Fe: dataset 'zuo_Fe' is not fitted"),
    (lambda c: c["properties"].update(dataset="water_partial"),
     r"at properties/dataset: water_partial has elements \['H', 'O'\]; silicon properties need"),
    (lambda c: c["figures"]["fig5"].update(dataset="zuo_Si"),
     r"at figures/fig5/dataset: zuo_Si is not properties/dataset \(si_tiny\)"),
    (lambda c: c["fits"].update(zuo_Fe=c["fits"]["zuo_Li"]), "at fits/zuo_Fe: no dataset 'zuo_Fe'"),
    # per-order degrees, [52]'s refits in Table II, the property protocol
    (lambda c: c["fits"].update(zuo_Mo={**c["fits"]["zuo_Mo"], "totaldegree": [14, 10]}),
     r"at fits/zuo_Mo/totaldegree: 2 degrees \[14, 10\] for correlation order 3: give one per "
     r"order 1..3"),
    (lambda c: c["fits"].update(zuo_Mo={**c["fits"]["zuo_Mo"], "train_on": "all"}),
     "at fits/zuo_Mo/train_on"),
    (lambda c: c["figures"]["table2"].update(refits={"models": ["rrqr-all"], "small": ["zuo_Mo"]}),
     r"at figures/table2/refits/small: 1 datasets for the 6 of figures/table2/datasets"),
    (lambda c: c["figures"]["table2"].update(refits={"models": ["rrqr-all"],
                                                     "small": ["zuo_Fe"] * 6}),
     "at figures/table2/refits/small/0: dataset 'zuo_Fe' is not fitted"),
    (lambda c: c["figures"]["table2"].update(refits={"models": ["blr-all"],
                                                     "small": ["zuo_Mo"] * 6}),
     "at figures/table2/refits/small/0: no fit produces model 'blr-all' for zuo_Mo"),
    (lambda c: c["properties"].update(protocol="mine"), "at properties/protocol"),
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


def plan(*args) -> str:
    """The dry-run output (jobs with their outputs) of the whole workflow with ``args``, every
    job planned whatever results/ already holds (after `make run` a plain dry-run plans nothing,
    and a paper plan's reasons quote the reduced run's parameters)."""
    out = subprocess.run([SNAKEMAKE, "-n", "--forceall", "--cores", "1", *args], cwd=REPO,
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO / "tests")})
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.parametrize("configfile", [None, "config/paper.yaml", "tests/workflow_config.yaml"])
def test_workflow_plans_exactly_its_configs_study(configfile):
    """A config passed with --configfile is the whole study: the plan names exactly its
    datasets (the paper plan no reduced dataset, the test plan only what it lists)."""
    args = ["--configfile", configfile] if configfile else []
    text = plan(*args)
    for rule in ("fetch", "split", "design_chunk", "solve", "md_run", "si_properties",
                 "figure_fig1", "table_table4"):
        assert f"rule {rule}:" in text or f"localrule {rule}:" in text, rule
    config = yaml.safe_load((REPO / (configfile or "config/config.yaml")).read_text())
    planned = set(re.findall(r"results/(?:data|fits|md|properties)/([A-Za-z0-9_]+)/", text))
    assert planned == set(config["datasets"])
    if configfile == "config/paper.yaml":
        assert not planned & {"si_tiny", "water_partial"}
    md_runs = set(re.findall(r"results/md/([A-Za-z0-9_]+)/", text))
    assert md_runs == set(config["md"]["runs"])


def test_literature_values_are_the_corrected_study_values():
    """Table II's published MTP and GAP rows as in the study materials (corrected upstream)."""
    shared = REPO.parent / "shared" / "reference" / "literature_values.yaml"
    if not shared.exists():
        pytest.skip(f"study materials not found at {shared}")
    ours = yaml.safe_load((REPO / "config/literature_values.yaml").read_text())
    theirs = yaml.safe_load(shared.read_text())
    assert ours["zuo2020_other_potentials"] == theirs["zuo2020_other_potentials"]
    assert ours["water_other_models"] == theirs["water_other_models"]


def test_published_52_values_are_the_study_materials():
    """[52]'s Zuo values (Table II) and its BLR silicon row (Table III) as the study prints them."""
    shared = REPO.parent / "shared" / "reference" / "literature_values.yaml"
    if not shared.exists():
        pytest.skip(f"study materials not found at {shared}")
    ours = yaml.safe_load((REPO / "config/literature_values.yaml").read_text())
    study = yaml.safe_load(shared.read_text())["this_study"]
    for quantity, block in ours["acepotentials2023_zuo"].items():
        for size in ("small", "large"):
            assert block[size] == study["table2"][quantity][size]["RRQR"]
    blr = ours["si_properties"]["BLR [52]"]
    renamed = {"bulk_modulus": "bulk_modulus_eos", "C44": "C44_unrelaxed"}
    assert {renamed.get(k, k): v for k, v in zip(study["table3"]["columns"],
                                                  study["table3"]["rows"]["BLR"])} == blr
