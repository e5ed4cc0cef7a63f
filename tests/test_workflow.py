"""End to end: the whole workflow on a small configuration (real mirror data, tiny bases) and a
check of every figure and table it produces."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import REPO, SNAKEMAKE


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

    t1 = table("table1")
    assert list(t1["solver"]) == ["RRQR", "BLR", "ARD", "ASP", "OMP"]
    t2 = table("table2")
    assert list(t2.columns) == ["model", "quantity", "Ni", "Mo", "Si"]
    assert len(t2) == 2 * (4 * 2 + 2)
    t3 = table("table3")
    assert len(t3) == 11 and t3.shape[1] == 3 + 2 * 4
    t4 = table("table4")
    assert len(t4) == 3 + 3 and list(t4.columns)[:2] == ["model", "energy_mae_meV_per_atom"]
    md = table("md_stability")
    assert len(md) == 1 and md["stable"].dtype == bool
    for t in (t2, t3, t4):
        numbers = t.select_dtypes("number").to_numpy()
        assert np.all(np.isfinite(numbers)), t
    # every model file records its data, split and versions
    model = json.loads(next((run / "results/fits/zuo_Mo/models").glob("*.json")).read_text())
    assert {"split", "data_files", "versions", "inputs"} <= set(model["metadata"])


@pytest.mark.slow
def test_report_has_every_figure_and_table_with_captions(run):
    report = run / "results/report.html"
    out = subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory",
                          str(run), "--configfile", str(run / "config/config.yaml"),
                          "--report", str(report)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-5000:]
    html = report.read_text()
    for name in [f"fig{n}.png" for n in range(1, 8)] + [
            f"{t}.csv" for t in ("table1", "table2", "table3", "table4", "md_stability")]:
        assert name in html, name
    for caption in ("Figure 1: energy test MAE (meV/atom) against the number of active basis",
                    (REPO / "workflow/report/table3.rst").read_text().split(".")[0]):
        assert caption in html, caption
