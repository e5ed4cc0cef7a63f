"""End to end: the whole workflow on a small configuration (real mirror data, tiny bases) and a
check of every figure and table it produces."""

import hashlib
import json
import os
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from conftest import REPO, SNAKEMAKE, workflow_env


def test_failed_job_writes_its_traceback_to_its_rule_log(tmp_path):
    """A dataset whose source has junk after the last frame: the split job fails and its log
    (not only Snakemake's stderr) holds the message and the traceback."""
    text = "1\nLattice=\"5 0 0 0 5 0 0 0 5\" energy=-1.0\nSi 0 0 0\nthis is junk\n"
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror/junk.xyz").write_text(text)
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["sources"]["junk"] = {"url": "https://example.invalid/junk.xyz", "mirror": "junk.xyz",
                                 "sha256": hashlib.sha256(text.encode()).hexdigest(),
                                 "file": "junk.xyz"}
    config["datasets"]["junk"] = {
        "description": "junk", "licence": "none", "elements": ["Si"], "eref": {"Si": 0.0},
        "reader": {"format": "extxyz", "energy": "energy"}, "files": {"pool": [{"source": "junk"}]},
        "split": {"method": "fixed_or_seeded"}}
    (tmp_path / "config").mkdir()
    (tmp_path / "config/config.yaml").write_text(yaml.safe_dump(config))
    out = subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory",
                          str(tmp_path), "--cores", "1", "results/data/junk/split.json"],
                         capture_output=True, text=True,
                         env={**os.environ, "SPARSEACE_MIRROR": str(tmp_path / "mirror")})
    assert out.returncode != 0
    log = (tmp_path / "logs/split/junk.log").read_text()
    assert "Traceback (most recent call last)" in log
    assert "DataError: resources/raw/junk/junk.xyz, frame 1: line 4 should be the number" in log
    assert not (tmp_path / "results/data/junk/train.xyz").exists()


def _sigint_as_in_a_terminal():
    """In the child before exec: SIGINT neither ignored nor blocked, as for a command started
    from a shell.  A child inherits both states from its parent, and Python installs its
    KeyboardInterrupt handler only when SIGINT is at its default: Snakemake once ran a job to its
    end through ten SIGINTs, started from a pytest worker of the full suite."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_default_profile_reruns_jobs_interrupted_by_sigint(tmp_path):
    """Ctrl-C while a job runs leaves its outputs marked incomplete: a plain re-run stops with
    IncompleteFilesException, a re-run with the default profile (make run) redoes the job."""
    (tmp_path / "Snakefile").write_text(
        'rule two_outputs:\n    output: "a", "b"\n    shell: "echo 1 > a; sleep 5; echo 2 > b"\n')
    run = [SNAKEMAKE, "--directory", str(tmp_path), "--snakefile", str(tmp_path / "Snakefile")]
    output = open(tmp_path / "interrupted.log", "w")
    job = subprocess.Popen(run + ["--cores", "1"], stdout=output, stderr=subprocess.STDOUT,
                           preexec_fn=_sigint_as_in_a_terminal)
    while not (tmp_path / "a").exists() and job.poll() is None:
        time.sleep(0.05)
    # Ctrl-C, again every half second until Snakemake stops (as a user would: on a loaded
    # machine a first SIGINT was once lost and the job went on to finish)
    deadline = time.monotonic() + 60
    while job.poll() is None and time.monotonic() < deadline:
        job.send_signal(signal.SIGINT)
        try:
            job.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
    output.close()
    said = (tmp_path / "interrupted.log").read_text()[-3000:]
    assert job.wait(timeout=1) != 0, said
    assert not (tmp_path / "b").exists(), said  # interrupted before the job's end
    # one after the other: two Snakemake processes in one directory may meet its lock
    plain, profile = [subprocess.run(run + ["-n"] + args, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
                      for args in (["--cores", "1"],
                                   ["--profile", str(REPO / "workflow/profiles/default")])]
    assert plain.returncode != 0 and "IncompleteFilesException" in plain.stdout, \
        plain.stdout[-2000:]
    assert profile.returncode == 0, profile.stdout[-2000:]
    assert "rule two_outputs" in profile.stdout


@pytest.mark.slow
def test_every_figure_is_a_valid_image(run):
    for n in range(1, 8):
        png, pdf = run / f"results/figures/fig{n}.png", run / f"results/figures/fig{n}.pdf"
        with Image.open(png) as im:
            im.verify()
            assert im.size[0] > 300 and im.size[1] > 200
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 2000


@pytest.mark.slow
def test_tables_have_expected_rows_columns_and_finite_numbers(run):
    def table(name):
        path = run / f"results/tables/{name}.csv"
        assert "test run" in path.read_text().splitlines()[0]
        return pd.read_csv(path, comment="#")

    t1 = table("table1")  # the run's solvers, from the registry (the plugin's last)
    assert list(t1["solver"]) == ["RRQR", "BLR", "ARD", "ASP", "OMP", "Lasso (CD)"]
    t2 = table("table2")  # zuo_Ni has two split seeds: mean, sd, min, max per element
    assert list(t2.columns) == [
        "element", "model", "quantity", "test_mae_mean", "test_mae_sd", "test_mae_min",
        "test_mae_max", "n_seeds", "published", "published_in_range"]
    # energy, force, functions of 4 solvers x 2 sizes; energy, force of MTP and GAP
    assert len(t2) == 3 * (3 * 4 * 2 + 2 * 2) and list(t2["element"].unique()) == ["Ni", "Mo", "Si"]
    ours = t2[t2["n_seeds"].notna()]
    assert list(ours.groupby("element", sort=False)["n_seeds"].max()) == [2, 1, 1]
    assert np.all(np.isfinite(ours[["test_mae_mean", "test_mae_min", "test_mae_max"]]))
    assert np.all(np.isfinite(ours.loc[ours["element"] == "Ni", "test_mae_sd"]))
    assert np.all(ours["test_mae_min"] <= ours["test_mae_max"])
    t3 = table("table3")
    assert len(t3) == 13 and list(t3.columns)[1:6] == ["DFT", "GAP", "BLR [52]", "blr-all",
                                                       "blr-all err %"]
    assert t3.shape[1] == 4 + 2 * 4
    t4 = table("table4")
    assert len(t4) == 3 + 3 and list(t4.columns)[:2] == ["model", "energy_mae_meV_per_atom"]
    md = table("md_stability")
    assert len(md) == 2 and md["stable"].dtype == bool  # the run and its model's summary line
    for t in (t4,):
        numbers = t.select_dtypes("number").to_numpy()
        assert np.all(np.isfinite(numbers)), t
    ours = [c for c in t3.columns[4:] if not c.endswith("err %")]  # DFT/GAP/BLR [52] lack some rows
    assert np.all(np.isfinite(t3[ours].to_numpy())), t3
    # every model file records its data, split and versions; <solver>-<n> has n functions
    model = json.loads((run / "results/fits/zuo_Mo/seed1/models/omp-8.json").read_text())
    assert {"split", "data_files", "versions", "inputs"} <= set(model["metadata"])
    assert model["metadata"]["selection"] == "final 8" and len(model["active"]) == 8


@pytest.mark.slow
def test_reproduction_report_comes_out_of_the_default_target(run):
    """Every published number of Tables II-IV and every claim has a row; the test run says its
    numbers are not comparable, and what it does not produce is "not run"."""
    text = (run / "results/reproduction.md").read_text()
    assert "not comparable to the published ones" in text.split("## Published numbers")[0]
    report = pd.read_csv(run / "results/reproduction.csv", comment="#")
    sections = report["section"].value_counts()
    assert (sections["Table II"], sections["Table III"], sections["Table IV"]) == (96, 44, 6)
    assert [f"Claim {k}" for k in range(1, 9)] == list(report["section"].iloc[-8:])
    assert set(report["verdict"]) <= {"agrees", "differs", "not run", "reproduced",
                                      "not reproduced"}
    table2 = report[report["section"] == "Table II"]
    cu = table2[table2["item"].str.startswith("Cu ")]  # not in the test run's Table II
    assert len(cu) == 16 and (cu["verdict"] == "not run").all()
    ours = table2[table2["item"].str.startswith(("Ni ", "Mo ", "Si "))]
    assert len(ours) == 48 and np.all(np.isfinite(ours["ours"]))


@pytest.mark.slow
def test_split_seeds_share_the_design_rows(run):
    """zuo_Ni's two split seeds: one design_chunk job per chunk (rows computed once), each seed
    its own training/validation systems with the same configurations in all, its own models."""
    logs = run / "logs"
    assert len(list(logs.glob("design_chunk/zuo_Ni.*.log"))) == 3  # chunks: train 2, val 1
    assert sorted(p.name for p in logs.glob("design_gather/zuo_Ni.*.log")) == [
        f"zuo_Ni.seed{s}.{part}.log" for s in (1, 2) for part in ("train", "val")]
    split = json.loads((run / "results/data/zuo_Ni/split.json").read_text())
    one, two = split["seeds"]["1"], split["seeds"]["2"]
    assert one == {k: split["indices"][k] for k in ("train", "val")} and one != two
    assert sorted(one["train"] + one["val"]) == sorted(two["train"] + two["val"])
    models = [json.loads((run / f"results/fits/zuo_Ni/seed{s}/models/omp-24.json").read_text())
              for s in (1, 2)]
    assert [m["metadata"]["split"]["seed"] for m in models] == [1, 2]
    assert models[0]["active"] != models[1]["active"] or \
        models[0]["coefficients"] != models[1]["coefficients"]
    assert not list((run / "results/fits/zuo_Ni/design").glob("*.rows.npz"))  # temporary


@pytest.mark.slow
def test_a_plugin_solver_runs_through_the_workflow(run):
    """tests/toy_solvers.py registers one solver; the test config lists it like any other."""
    curve = pd.read_csv(run / "results/fits/zuo_Mo/seed1/curves/lasso_cd.csv")
    assert len(curve) > 5 and np.all(np.isfinite(curve["test_energy_mae"]))
    from sparseace.solvers import Checkpoints
    cp = Checkpoints.load(run / "results/fits/zuo_Mo/seed1/paths/lasso_cd.npz")
    assert cp.method == "lasso_cd" and len(cp) == len(curve)


@pytest.mark.slow
def test_accuracy_cost_figure_and_csv_come_out_of_the_default_target(run):
    for dataset, species in (("zuo_Si", 1), ("water_partial", 2)):
        with Image.open(run / f"results/figures/accuracy_cost_{dataset}.png") as im:
            im.verify()
        t = pd.read_csv(run / f"results/figures/accuracy_cost_{dataset}.csv")
        solvers = ["asp", "omp", "rrqr", "ard", "lasso_cd"] if dataset == "zuo_Si" \
            else ["asp", "omp", "blr"]
        ours = t[t["kind"] == "sparseace"]
        assert sorted(ours["solver"].unique()) == sorted(solvers)
        assert ours.groupby("solver").size().max() <= 2  # models_per_solver: 2
        snap = t[t["kind"] == "snap"]  # twojmax 2: 5 components and a constant per species
        assert list(snap["twojmax"]) == [2] and list(snap["n_functions"]) == [6 * species]
        assert list(t.loc[t["kind"] == "published", "model"]) == (
            ["Si_Zuo_JPCA2020 (published)"] if dataset == "zuo_Si" else [])
        assert np.all(np.isfinite(t[["test_energy_mae", "cost_us_per_atom_step"]]))
        assert (t["cost_us_per_atom_step"] > 0).all() and t["pareto"].any()
        assert (t["structure_atoms"] >= 32).all()


@pytest.mark.slow
def test_report_has_every_figure_and_table_with_captions(run):
    report = run / "results/report.html"
    out = subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory",
                          str(run), "--configfile", str(run / "config/config.yaml"),
                          "--report", str(report)], capture_output=True, text=True,
                         env=workflow_env())
    assert out.returncode == 0, out.stderr[-5000:]
    html = report.read_text()
    for name in [f"fig{n}.png" for n in range(1, 8)] + [
            f"{t}.csv" for t in ("table1", "table2", "table3", "table4", "md_stability")] + [
            "reproduction.md", "reproduction.csv", "accuracy_cost_zuo_Si.png"]:
        assert name in html, name
    for caption in ("Figure 1: energy test MAE (meV/atom) against the number of active basis",
                    "Accuracy against cost: energy test MAE (meV/atom) of each timed model",
                    (REPO / "workflow/report/table3.rst").read_text().split(".")[0]):
        assert caption in html, caption
