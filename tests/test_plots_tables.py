"""Figures and tables: they draw from tables of results, save valid files, count correctly."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sparseace import plots, tables
from sparseace.basis import ACEBasis

RUN = "reduced run; data: synthetic"


@pytest.fixture(scope="module")
def water_basis():
    return ACEBasis(["H", "O"], 3, 7)


def check_images(paths):
    for path in paths:
        assert path.stat().st_size > 1000
        if path.suffix == ".png":
            with Image.open(path) as im:
                im.verify()
                assert im.format == "PNG"
        else:
            assert path.read_bytes()[:5] == b"%PDF-"


def test_error_curves(tmp_path):
    rng = np.random.default_rng(0)
    curves = pd.concat([pd.DataFrame({"dataset": ds, "solver": s, "size": np.arange(1, 40),
                                      "test_energy_mae": 10 / np.arange(1, 40) + rng.random(39)})
                        for ds in ("zuo_Mo", "zuo_Si") for s in ("asp", "omp", "rrqr")])
    empty = pd.DataFrame({"dataset": "zuo_Mo", "solver": "ard", "size": [0, 0, 5, 20],
                          "test_energy_mae": [5000.0, 5000.0, 3.0, 2.0]})  # ARD's empty models
    curves = pd.concat([curves, empty])
    fig = plots.error_curves(curves, ["zuo_Mo", "zuo_Si"], ["asp", "omp", "rrqr", "ard"], RUN)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4 and len(fig.axes[1].lines) == 3
    ard = fig.axes[0].lines[-1]
    assert list(ard.get_xdata()) == [5, 20] and list(ard.get_ydata()) == [3.0, 2.0]
    assert any(RUN in t.get_text() for t in fig.texts)
    paths = [tmp_path / "f.png", tmp_path / "f.pdf"]
    plots.save_figure(fig, paths)
    check_images(paths)


def test_selection_figures(tmp_path, water_basis):
    f = water_basis.functions
    order = water_basis.level_order()
    selected = np.sort(np.random.default_rng(1).choice(len(f), 60, replace=False))
    fig2 = plots.pair_selection(f, [10, 60], [selected[:10], selected], order, "O", RUN)
    fig3 = plots.threebody_selection(f, selected, order, 3, RUN, centre="O")
    n3 = int(((f.loc[selected, "order"] == 3) & (f.loc[selected, "centre"] == "O")).sum())
    assert f"{n3} of 60" in fig3.axes[0].get_title()
    fig7 = plots.species_triples(f, selected, "O", 3, RUN)
    heights = [p.get_height() for p in fig7.axes[0].patches]
    available = f[(f["order"] == 3) & (f["centre"] == "O") & (f["kind"] == "manybody")]
    assert sum(heights[: len(heights) // 2]) == len(available)
    for i, fig in enumerate((fig2, fig3, fig7)):
        plots.save_figure(fig, [tmp_path / f"{i}.png"])
        check_images([tmp_path / f"{i}.png"])


def test_factor_coordinates_sorted(water_basis):
    f = water_basis.functions
    ids = f.index[f["order"] == 3][:20]
    xyz = plots._factor_coordinates(f, ids)
    assert np.all(np.diff(xyz, axis=1) >= 0)
    k = ids[-1]
    assert sorted(xyz[-1]) == sorted(d + l for d, l in zip(f.at[k, "degree"], f.at[k, "l"]))


def test_defect_errors_and_tables(tmp_path):
    ref = {"vacancy": 3.67, "interstitial_tetrahedral": 3.91}
    values = pd.DataFrame({"solver": ["asp", "asp", "blr"], "size": [10, 20, 20],
                           "vacancy": [3.0, 3.5, 3.6], "interstitial_tetrahedral": [4, 4.2, 3.9]})
    fig = plots.defect_errors(values, ref, {"vacancy": 3.53, "interstitial_tetrahedral": 3.71}, RUN)
    y = fig.axes[0].lines[0].get_ydata()
    assert np.allclose(y, 100 * (np.array([3.0, 3.5]) - 3.67) / 3.67)
    plots.save_figure(fig, [tmp_path / "d.png"])

    lit = {"energy_mae_meV_per_atom": {"MTP": {"Mo": 2.83}, "GAP": {"Mo": 2.24}},
           "force_mae_eV_per_A": {"MTP": {"Mo": 0.09}, "GAP": {"Mo": 0.09}}}
    errors = pd.DataFrame({"element": ["Mo", "Mo"], "solver": ["asp", "asp"],
                           "model": ["small", "large"], "energy_mae": [3.0, 2.0],
                           "force_mae": [0.2, 0.1]})
    t2 = tables.zuo_table(errors, lit)
    assert list(t2.columns) == ["model", "quantity", "Mo"] and len(t2) == 8
    paths = tables.write_table(t2, tmp_path / "table2", RUN)
    back = tables.read_table(paths[0])
    assert back.shape == t2.shape and np.allclose(back["Mo"], t2["Mo"])
    assert (tmp_path / "table2.md").read_text().startswith(RUN)
    assert "\\begin{table}" in (tmp_path / "table2.tex").read_text()

    t3 = tables.si_properties_table({"ASP (20)": {"vacancy": 3.5}}, {"DFT": ref, "GAP": ref})
    assert t3.loc[t3.property == "vacancy", "ASP (20) err %"].item() == pytest.approx(
        100 * (3.5 - 3.67) / 3.67)
    t4 = tables.water_table(pd.DataFrame({"model": ["OMP (30)"], "energy_mae": [2.0],
                                          "force_mae": [0.1], "parameters": [30]}),
                            [{"model": "CACE", "energy_mae_meV_per_atom": 0.89,
                              "force_mae_meV_per_A": 27, "parameters": 69320}])
    assert t4["force_mae_meV_per_A"].tolist() == [100.0, 27]
