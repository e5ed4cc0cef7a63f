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
    t2 = table("table2")
    assert list(t2.columns) == ["model", "quantity", "Ni", "Mo", "Si"]
    assert len(t2) == 2 * (4 * 2 + 2)
    t3 = table("table3")
    assert len(t3) == 13 and list(t3.columns)[1:6] == ["DFT", "GAP", "BLR [52]", "blr-all",
                                                       "blr-all err %"]
    assert t3.shape[1] == 4 + 2 * 4
    t4 = table("table4")
    assert len(t4) == 3 + 3 and list(t4.columns)[:2] == ["model", "energy_mae_meV_per_atom"]
    md = table("md_stability")
    assert len(md) == 2 and md["stable"].dtype == bool  # the run and its model's summary line
    for t in (t2, t4):
        numbers = t.select_dtypes("number").to_numpy()
        assert np.all(np.isfinite(numbers)), t
    ours = [c for c in t3.columns[4:] if not c.endswith("err %")]  # DFT/GAP/BLR [52] lack some rows
    assert np.all(np.isfinite(t3[ours].to_numpy())), t3
    # every model file records its data, split and versions; <solver>-<n> has n functions
    model = json.loads((run / "results/fits/zuo_Mo/models/omp-8.json").read_text())
    assert {"split", "data_files", "versions", "inputs"} <= set(model["metadata"])
    assert model["metadata"]["selection"] == "final 8" and len(model["active"]) == 8


@pytest.mark.slow
def test_a_plugin_solver_runs_through_the_workflow(run):
    """tests/toy_solvers.py registers one solver; the test config lists it like any other."""
    curve = pd.read_csv(run / "results/fits/zuo_Mo/curves/lasso_cd.csv")
    assert len(curve) > 5 and np.all(np.isfinite(curve["test_energy_mae"]))
    from sparseace.solvers import Checkpoints
    cp = Checkpoints.load(run / "results/fits/zuo_Mo/paths/lasso_cd.npz")
    assert cp.method == "lasso_cd" and len(cp) == len(curve)


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
            f"{t}.csv" for t in ("table1", "table2", "table3", "table4", "md_stability")]:
        assert name in html, name
    for caption in ("Figure 1: energy test MAE (meV/atom) against the number of active basis",
                    (REPO / "workflow/report/table3.rst").read_text().split(".")[0]):
        assert caption in html, caption
