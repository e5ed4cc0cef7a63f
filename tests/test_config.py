"""Configuration schema, shipped configs, pins, and the workflow's plans (dry runs)."""

import copy
import functools
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
    (lambda c: c["fits"]["si_tiny"].update(split_seeds=[1, 2]),
     r"at fits/si_tiny/split_seeds: seeds \[2\] other than the dataset's split seed 1 need a "
     r"test set that does not depend on the seed \(datasets/si_tiny/files: train \+ test\); "
     "si_tiny draws its test set from a pool"),
    (lambda c: c["fits"]["zuo_Mo"].update(split_seeds=[]), "split_seeds"),
    (lambda c: c["fits"].update(zuo_Fe=c["fits"]["zuo_Li"]), "at fits/zuo_Fe: no dataset 'zuo_Fe'"),
    (lambda c: c["reproduction"]["tolerance"].update(table3=-0.05),
     "at reproduction/tolerance/table3: -0.05 is less than the minimum of 0"),
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


def _rename_dataset(config, new):
    config["datasets"][new] = config["datasets"].pop("zuo_Mo")


def _basis_options(config, **options):
    config["fits"]["zuo_Mo"] = {**config["fits"]["zuo_Mo"], "basis_options": options}


def _member(config, member):
    config["datasets"]["zuo_Mo"]["files"]["train"][0]["member"] = member


@pytest.mark.parametrize("edit,message", [
    *[(lambda c, n=name: _rename_dataset(c, n),
       f"at datasets: dataset id {re.escape(repr(name))} is not a safe name")
      for name in ("../evil", "a/b", "x|y", "zuo Li", "")],
    (lambda c: c["sources"].update({"a b": c["sources"]["zuo2020"]}),
     "at sources: source id 'a b' is not a safe name"),
    (lambda c: c["sources"]["zuo2020"].update(file="../x.tar.gz"),
     "at sources/zuo2020/file: '../x.tar.gz' is not a plain file name"),
    (lambda c: c["sources"]["zuo2020"].update(mirror="/etc/x.tar.gz"),
     "at sources/zuo2020/mirror: '/etc/x.tar.gz' must be a relative path inside its source"),
    *[(lambda c, m=member: _member(c, m), "at datasets/zuo_Mo/files/train/0/member: "
       f"{re.escape(repr(member))} must be a relative path inside its source")
      for member in ("../../../../tmp/evil.xyz", "/tmp/evil.xyz", "a/../../evil.xyz", "")],
    (lambda c: _basis_options(c, rcutt=5.0),
     r"at fits/zuo_Mo/basis_options: Additional properties are not allowed \('rcutt' was "
     r"unexpected\) \(known: \['pair_degree', 'pair_transform', 'r0', 'rcut', 'rcut_factor', "
     r"'rin', 'transform', 'wL'\]\)"),
    (lambda c: _basis_options(c, rcut=-1),
     "at fits/zuo_Mo/basis_options/rcut: -1 is less than or equal to the minimum of 0"),
    (lambda c: _basis_options(c, rcut="5"),
     "at fits/zuo_Mo/basis_options/rcut: '5' is not of type 'number', 'null'"),
    (lambda c: _basis_options(c, rcut=float("nan")),
     "at fits/zuo_Mo/basis_options/rcut: nan is not a finite number"),
    (lambda c: _basis_options(c, transform=[2]),
     "at fits/zuo_Mo/basis_options/transform: .* is too short"),
    (lambda c: _basis_options(c, r0={"Mo": 0}),
     "at fits/zuo_Mo/basis_options/r0/Mo: 0 is less than or equal to the minimum of 0"),
    (lambda c: _basis_options(c, r0={"MO": 2.7}),
     r"at fits/zuo_Mo/basis_options/r0: bond lengths of \['MO'\], which are not elements of "
     r"dataset zuo_Mo \(\['Mo'\]\)"),
    (lambda c: c["datasets"]["zuo_Mo"]["eref"].update(Fe=0.0) or
     c["datasets"]["zuo_Mo"]["elements"].append("Fe"),
     r"at fits/zuo_Mo/basis_options/r0: no bond length r0 \(Å\) of \['Fe'\]"),
    (lambda c: c["datasets"]["zuo_Mo"]["elements"].append("Mo"),
     r"at datasets/zuo_Mo/elements: \['Mo'\] repeated: give each element once"),
    (lambda c: c["datasets"]["zuo_Mo"]["elements"].append("Xx"),
     r"at datasets/zuo_Mo/elements: \['Xx'\] are not chemical symbols"),
    (lambda c: c["datasets"]["zuo_Mo"].update(weights={"default": {"E": 0, "F": 0, "V": 0}}),
     "at datasets/zuo_Mo/weights/default: E, F and V weights are all zero"),
    (lambda c: c["datasets"]["si_tiny"]["weights"].update(liq={"E": 0.0, "F": 0.0, "V": 0.0}),
     "at datasets/si_tiny/weights/liq: E, F and V weights are all zero"),
    (lambda c: c["fits"]["zuo_Mo"].update(prior=float("inf")),
     "at fits/zuo_Mo/prior: inf is not a finite number"),
])
def test_unsafe_or_impossible_config_refused(default, edit, message):
    """Ids and file names are safe names, archive members stay inside their source, basis
    options, elements, weights and numbers are valid (issue 23 §3)."""
    config = copy.deepcopy(default)
    edit(config)
    with pytest.raises(ValueError, match=message):
        validate_config(config)


def test_schema_lists_every_basis_option():
    from sparseace.basis.ace import DEFAULT_OPTIONS
    from sparseace.config import SCHEMA_PATH

    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert set(schema["definitions"]["basis_options"]["properties"]) == set(DEFAULT_OPTIONS)


def test_test_config_validates():
    """The configs shipped with the package and the tests pass those checks too."""
    load_config(REPO / "tests/workflow_config.yaml")


def test_requirements_file_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = project["dependencies"] + project["optional-dependencies"]["test"] + \
        project["optional-dependencies"]["cluster"]
    listed = [l for l in (REPO / "envs/requirements.txt").read_text().splitlines()
              if l and not l.startswith("#")]
    assert listed == pins


@functools.cache
def plan(*args) -> str:
    """The dry-run output (jobs with their outputs) of the whole workflow with ``args``, every
    job planned whatever results/ already holds (after `make run` a plain dry-run plans nothing,
    and a paper plan's reasons quote the reduced run's parameters)."""
    out = subprocess.run([SNAKEMAKE, "-n", "--forceall", "--cores", "1", *args], cwd=REPO,
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
                             str(REPO / "tests"), os.environ.get("PYTHONPATH")]))})
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.parametrize("configfile", [None, "config/paper.yaml", "tests/workflow_config.yaml"])
def test_workflow_plans_exactly_its_configs_study(configfile):
    """A config passed with --configfile is the whole study: the plan names exactly its
    datasets (the paper plan no reduced dataset, the test plan only what it lists)."""
    args = ["--configfile", configfile] if configfile else []
    text = plan(*args)
    for rule in ("fetch", "split", "design_chunk", "solve", "md_run", "si_properties",
                 "figure_fig1", "table_table4", "reproduction"):
        assert f"rule {rule}:" in text or f"localrule {rule}:" in text, rule
    config = yaml.safe_load((REPO / (configfile or "config/config.yaml")).read_text())
    planned = set(re.findall(r"results/(?:data|fits|md|properties)/([A-Za-z0-9_]+)/", text))
    assert planned == set(config["datasets"])
    if configfile == "config/paper.yaml":
        assert not planned & {"si_tiny", "water_partial"}
    md_runs = set(re.findall(r"results/md/([A-Za-z0-9_]+)/", text))
    assert md_runs == set(config["md"]["runs"])


def job_counts(text) -> dict[str, int]:
    """rule -> jobs of a dry run's job stats."""
    stats = text[text.index("Job stats:"):].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}


def test_split_seeds_repeat_solves_not_design_rows():
    """The paper plan's Zuo fits run five split seeds: the design rows of every chunk are
    computed once (as many design_chunk jobs as for one seed), each seed reduces them to its own
    training and validation systems and solves; Table II reads every seed's models, figures
    the first seed's."""
    config = load_config(REPO / "config/paper.yaml")
    fits = config["fits"]
    assert fits["zuo_Ni"]["split_seeds"] == [1, 2, 3, 4, 5]
    assert fits["gap_si"]["split_seeds"] == [config["seed"]]
    text = plan("--configfile", "config/paper.yaml")
    jobs = job_counts(text)
    assert jobs["design_chunk"] == sum(f["chunks"]["train"] + f["chunks"]["val"]
                                       for f in fits.values())
    assert jobs["design_gather"] == sum(2 * len(f["split_seeds"]) for f in fits.values())
    spec = config["figures"]["table2"]
    solves = set(re.findall(r"results/fits/zuo_Ni/seed(\d+)/paths/(\w+)\.npz", text))
    assert {(str(s), solver) for s in range(1, 6) for solver in spec["solvers"]} <= solves
    assert {solver for s, solver in solves if s != "1"} == set(spec["solvers"])  # Table II's
    table2_models = sum(len(fits[d]["split_seeds"]) * len(spec["solvers"]) * 2
                        for d in spec["datasets"])
    refits = len(spec["refits"]["models"]) * len(spec["refits"]["small"] + spec["refits"]["large"])
    assert jobs["model_errors"] == (table2_models + refits
                                    + len(config["figures"]["table4"]["sizes"]))
    assert set(re.findall(r"results/fits/\w+/seed(\d+)/curves/", text)) == {"1"}
    models = re.findall(r"rule (?:md_run|si_properties):\n    input: (\S+?),?\s", text)
    assert len(models) == jobs["md_run"] + jobs["si_properties"]
    assert all("/seed1/models/" in m for m in models), models


def test_literature_values_are_the_corrected_study_values():
    """Table II's published MTP and GAP rows as in the study materials (corrected upstream)."""
    shared = REPO.parent / "shared" / "reference" / "literature_values.yaml"
    if not shared.exists():
        pytest.skip(f"study materials not found at {shared}")
    ours = yaml.safe_load((REPO / "config/literature_values.yaml").read_text())
    theirs = yaml.safe_load(shared.read_text())
    assert ours["zuo2020_other_potentials"] == theirs["zuo2020_other_potentials"]
    assert ours["water_other_models"] == theirs["water_other_models"]
    assert ours["this_study"] == theirs["this_study"]  # the reproduction report's published values


@pytest.mark.parametrize("options, message", [
    ({"asp": {"debais": "none"}}, "at solvers/asp: solver asp: unknown option 'debais' "
                                  "(the options of asp: debias: 'tsvd' or 'none'"),
    ({"rrqr": {"rtol": -1}}, "at solvers/rrqr: solver rrqr: option rtol=-1 is invalid: must be "
                             "a positive number"),
    ({"ard": {"max_iter": 500}}, "at solvers/ard: solver ard: option(s) ['threshold_lambdas'] "
                                 "missing"),
])
def test_solver_options_are_checked_by_the_registry(default, options, message):
    config = copy.deepcopy(default)
    config["solvers"].update(options)
    with pytest.raises(ValueError) as err:
        validate_config(config)
    assert message in str(err.value)


def test_absurd_fits_are_refused_before_any_job_and_the_plan_lists_sizes(default):
    import time

    from sparseace.config import fit_plan

    config = copy.deepcopy(default)
    config["fits"]["si_tiny"].update(order=3, totaldegree=60)
    start = time.perf_counter()
    with pytest.raises(ValueError) as err:
        validate_config(config)
    assert time.perf_counter() - start < 30
    assert ("invalid configuration at fits/si_tiny: limits/max_functions 25000: the basis "
            "(elements ['Si'], order 3, total degree 60) has more than 25000 functions") in str(
        err.value)
    config = copy.deepcopy(default)
    config["fits"]["si_tiny"].update(totaldegree=1e9)
    with pytest.raises(ValueError, match="at fits/si_tiny: totaldegree .* one-particle functions"):
        validate_config(config)
    config = copy.deepcopy(default)
    config["limits"] = {"max_memory_gb": 0.001}
    with pytest.raises(ValueError, match=r"at fits/zuo_Li: limits/max_memory_gb 0.001: a basis "
                                         r"of 397 functions needs about 0.0076 GB at once"):
        validate_config(config)
    config = copy.deepcopy(default)
    config["fits"]["si_tiny"].update(basis_options={"rcut": 2.0, "rin": 3.0})  # schema-valid
    with pytest.raises(ValueError, match=r"at fits/si_tiny: rcut \(the cutoff, Å\) must be"):
        validate_config(config)
    plan = {row["dataset"]: row for row in fit_plan(validate_config(copy.deepcopy(default)))}
    assert plan["si_tiny"]["functions"] == 724
    assert plan["si_tiny"]["solve_job_GB"] == round(6 * 8 * 725 ** 2 / 1e9, 2)


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


def test_only_restricts_the_study_to_the_datasets_named():
    """`only` keeps the datasets named (and the refit datasets of their Table II rows), the
    figures over them (a figure over several datasets keeps the ones named) and their MD runs;
    the plan of the paper config's Zuo part names no other dataset and no silicon properties.
    A pattern that names no dataset is refused."""
    from sparseace.config import restrict

    config = load_config(REPO / "config/paper.yaml")
    config["only"] = ["zuo_Ni"]
    restrict(config)
    assert set(config["datasets"]) == set(config["fits"]) == {
        "zuo_Ni", "zuo_Ni_52small", "zuo_Ni_52large"}
    table2 = config["figures"]["table2"]
    assert table2["datasets"] == ["zuo_Ni"]
    assert (table2["refits"]["small"], table2["refits"]["large"]) == (["zuo_Ni_52small"],
                                                                     ["zuo_Ni_52large"])
    assert set(config["figures"]) == {"table2", "fig1"}
    assert config["figures"]["fig1"]["datasets"] == ["zuo_Ni"]
    assert set(config["md"]["runs"]) == {"zuo_Ni"} and "properties" not in config
    cost = config["accuracy_cost"]
    assert cost["datasets"] == ["zuo_Ni"] and set(cost["published"]) == {"zuo_Ni"}
    assert set(cost["snap"]["rcut"]) == {"zuo_Ni"}
    config = load_config(REPO / "config/paper.yaml")
    del config["md"]  # a config without MD restricts too
    config["only"] = ["zuo_Li"]
    restrict(config)
    assert "md" not in config and set(config["fits"]) >= {"zuo_Li"}
    config = load_config(REPO / "config/paper.yaml")
    config["only"] = ["zuo_*", "nothing*"]
    with pytest.raises(ValueError, match=r"at only: \['nothing\*'\] name\(s\) no dataset"):
        restrict(config)
    text = plan("--configfile", "config/paper.yaml", "--config", "only=[zuo_*]")
    planned = set(re.findall(r"results/(?:data|fits|md|properties)/([A-Za-z0-9_]+)/", text))
    assert planned == {d for d in load_config(REPO / "config/paper.yaml")["datasets"]
                       if d.startswith("zuo_")}
    assert "rule reproduction:" in text and "rule si_properties:" not in text
    assert "rule table_table4:" not in text and "rule figure_fig1:" in text
    assert "results/figures/accuracy_cost_zuo_Ni.png" in text
    assert "accuracy_cost_gap_si" not in text
