"""End to end: the whole workflow on a small configuration (real mirror data, tiny bases) and a
check of every figure and table it produces."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def small_config(tmp_path):
    (tmp_path / "config").mkdir()
    path = tmp_path / "config/config.yaml"
    path.write_text((REPO / "tests/workflow_config.yaml").read_text())
    return path


def workflow_env(**extra):
    """The environment of workflow runs: the test's solver plugin (tests/toy_solvers.py) on the
    path."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests"),
                                                      env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def run(tmp_path_factory, mirror):
    tmp = tmp_path_factory.mktemp("workflow")
    configfile = small_config(tmp)
    out = subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory",
                          str(tmp), "--configfile", str(configfile), "--cores", "2"],
                         capture_output=True, text=True,
                         env=workflow_env(SPARSEACE_MIRROR=str(mirror)))
    assert out.returncode == 0, out.stderr[-5000:]
    return tmp


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
    assert len(t3) == 13 and list(t3.columns)[3:5] == ["blr-all", "blr-all err %"]
    assert t3.shape[1] == 3 + 2 * 4
    t4 = table("table4")
    assert len(t4) == 3 + 3 and list(t4.columns)[:2] == ["model", "energy_mae_meV_per_atom"]
    md = table("md_stability")
    assert len(md) == 1 and md["stable"].dtype == bool
    for t in (t2, t4):
        numbers = t.select_dtypes("number").to_numpy()
        assert np.all(np.isfinite(numbers)), t
    ours = [c for c in t3.columns[3:] if not c.endswith("err %")]  # DFT/GAP lack some rows
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
