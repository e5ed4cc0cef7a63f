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


def scatter_points(ax):
    """(n1, n2, l) of the last scatter drawn on a 3D axis."""
    xs, ys, zs = ax.collections[-1]._offsets3d
    return np.column_stack([xs, ys, zs])


def test_selection_figures(tmp_path, water_basis):
    """Figures 2, 3 and 7 show what was selected; Figures 3 and 7 the three-body (correlation
    order 2) functions over (n1, n2, l), and never an empty plot for an order-2 basis."""
    basis = ACEBasis(["H", "O"], 2, 9)
    f, order = basis.functions, basis.level_order()
    selected = np.sort(np.random.default_rng(1).choice(len(f), 60, replace=False))
    fig2 = plots.pair_selection(f, [10, 60], [selected[:10], selected], order, "O", RUN)
    fig3 = plots.threebody_selection(f, selected, order, RUN, centre="O")
    three = (f["order"] == 2) & (f["kind"] == "manybody") & (f["centre"] == "O")
    n3 = int(three[selected].sum())
    assert n3 > 0 and f"{n3} of 60 active are three-body" in fig3.axes[0].get_title()
    points = scatter_points(fig3.axes[0])
    assert len(points) == n3
    k = selected[three[selected].to_numpy()][0]  # its coordinates: degrees and the common l
    assert sorted(f.at[k, "degree"]) in [sorted(p[:2]) for p in points.tolist()]
    assert set(points[:, 2]) <= {l for ls in f.loc[three, "l"] for l in ls}
    fig7 = plots.species_threebody(f, selected, "O", RUN)
    titles = [ax.get_title() for ax in fig7.axes]
    assert [t.split(":")[0] for t in titles] == ["O-H-H", "O-O-O", "O-O-H"]
    available = sum(len(scatter_points(ax).T[0]) for ax in fig7.axes)
    assert sum(int(t.split()[-2]) for t in titles) == three.sum()
    assert sum(int(t.split()[1]) for t in titles) == n3 and available == n3
    for ax in fig7.axes:
        background = ax.collections[0]._offsets3d[0]
        assert len(background) > 0
    for i, fig in enumerate((fig2, fig3, fig7)):
        plots.save_figure(fig, [tmp_path / f"{i}.png"])
        check_images([tmp_path / f"{i}.png"])


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
    back = pd.read_csv(paths[0], comment="#")
    assert back.shape == t2.shape and np.allclose(back["Mo"], t2["Mo"])
    assert (tmp_path / "table2.md").read_text().startswith(RUN)
    assert "\\begin{table}" in (tmp_path / "table2.tex").read_text()

    # Table III: one column pair per model id (two models of equal size keep their own), the
    # two kinds of C44 and of bulk modulus on separate rows
    dft = {**ref, "C44": 72.2, "bulk_modulus": 88.6}
    t3 = tables.si_properties_table({"asp-20": {"vacancy": 3.5, "C44": 70.0,
                                                "C44_unrelaxed": 100.0},
                                     "omp-20": {"vacancy": 3.6}},
                                    {"DFT": dft, "GAP": {"C44_unrelaxed": 99.1}})
    row = t3.set_index("property")
    assert row.at["vacancy (eV)", "asp-20 err %"] == pytest.approx(100 * (3.5 - 3.67) / 3.67)
    assert row.at["vacancy (eV)", "omp-20"] == 3.6
    assert row.at["C44 relaxed-ion (GPa)", "asp-20"] == 70.0
    assert row.at["C44 clamped-ion (GPa)", "asp-20"] == 100.0
    assert row.at["C44 clamped-ion (GPa)", "GAP"] == 99.1
    assert np.isnan(row.at["C44 clamped-ion (GPa)", "DFT"])
    assert {"B = (C11 + 2 C12)/3 (GPa)", "B from E(V), Birch-Murnaghan (GPa)"} <= set(t3.property)
    t4 = tables.water_table(pd.DataFrame({"model": ["OMP (30)"], "energy_mae": [2.0],
                                          "force_mae": [0.1], "parameters": [30]}),
                            [{"model": "CACE", "energy_mae_meV_per_atom": 0.89,
                              "force_mae_meV_per_A": 27, "parameters": 69320}])
    assert t4["force_mae_meV_per_A"].tolist() == [100.0, 27]


def test_table2_over_split_seeds(tmp_path):
    """Several split seeds: per element, model and quantity the mean, sd, min and max over the
    seeds beside the study's published value and whether that lies in our range; one seed:
    the one-column-per-element layout."""
    from sparseace import study
    from sparseace.solvers import Checkpoints

    lit = {"zuo2020_other_potentials": {
        "energy_mae_meV_per_atom": {"MTP": {"Mo": 2.24, "Ni": 0.42}, "GAP": {"Mo": 2.83, "Ni": 0.48}},
        "force_mae_eV_per_A": {"MTP": {"Mo": 0.09, "Ni": 0.02}, "GAP": {"Mo": 0.09, "Ni": 0.01}}},
        "this_study": {"table2": {"energy_mae_meV_per_atom": {
            "small": {"ASP": {"Mo": 2.5, "Ni": 0.2}}, "large": {"ASP": {"Mo": 9.0}}}}}}
    spec = {"datasets": ["zuo_Ni", "zuo_Mo"], "solvers": ["asp"], "small": 8, "large": 24}

    def errors(energy, force=0.1):
        return pd.DataFrame({"active": [8, 8], "E_MAE_meV_per_atom": [9.9, energy],
                             "F_MAE_eV_per_A": [0.9, force]}, index=pd.Index(
                                 ["dia", "all"], name="config_type"))

    energies = {("zuo_Ni", "asp-8"): [0.3, 0.5, 0.4], ("zuo_Ni", "asp-24"): [0.2, 0.2, 0.2],
                ("zuo_Mo", "asp-8"): [2.0, 3.0, 2.2], ("zuo_Mo", "asp-24"): [2.0, 2.1, 2.2]}
    seeds = {f"{d}/{m}/{seed}": errors(e, force=0.01 * seed)
             for (d, m), values in energies.items() for seed, e in zip((1, 2, 3), values)}
    no_search = {f"{d}/asp": Checkpoints.from_models("asp", [1.0], [[0]], [[1.0]], [0.1])
                 for d in spec["datasets"]}
    table, caption = study.table2(spec, RUN, seeds, {}, lit, no_search)
    assert list(table.columns) == [
        "element", "model", "quantity", "test_mae_mean", "test_mae_sd", "test_mae_min",
        "test_mae_max", "n_seeds", "published", "published_in_range"]
    row = table.set_index(["element", "model", "quantity"])
    ni = row.loc[("Ni", "ASP (small)", "energy MAE (meV/atom)")]
    assert ni["test_mae_mean"] == pytest.approx(0.4) and ni["test_mae_sd"] == pytest.approx(0.1)
    assert (ni["test_mae_min"], ni["test_mae_max"], ni["n_seeds"]) == (0.3, 0.5, 3)
    assert ni["published"] == 0.2 and not ni["published_in_range"]
    assert row.loc[("Mo", "ASP (small)", "energy MAE (meV/atom)"), "published_in_range"]
    force = row.loc[("Mo", "ASP (large)", "force MAE (eV/A)")]
    assert force["test_mae_max"] == pytest.approx(0.03) and pd.isna(force["published_in_range"])
    assert row.loc[("Ni", "GAP", "energy MAE (meV/atom)"), "published"] == 0.48
    assert pd.isna(row.loc[("Ni", "GAP", "energy MAE (meV/atom)"), "test_mae_mean"])
    assert list(table["element"]) == ["Ni"] * 10 + ["Mo"] * 10  # ours: energy, force, functions
    assert list(dict.fromkeys(table["model"].iloc[:10])) == ["ASP (small)", "ASP (large)", "MTP",
                                                             "GAP"]
    assert "split seeds [1, 2, 3]" in caption and "Ni 0 of 1, Mo 1 of 2" in caption
    paths = tables.write_table(table, tmp_path / "table2", caption)
    back = pd.read_csv(paths[0], comment="#")
    assert back["published_in_range"].iloc[0] == False  # noqa: E712  (CSV: True/False/empty)
    assert back["published_in_range"].isna().sum() == table["published_in_range"].isna().sum()
    one = {k: v for k, v in seeds.items() if k.endswith("/1")}
    wide, caption = study.table2(spec, RUN, one, {}, lit, no_search)
    assert list(wide.columns) == ["model", "quantity", "Ni", "Mo"] and "seeds" not in caption
    assert wide.iloc[0].tolist() == ["ASP (small)", "energy MAE (meV/atom)", 0.3, 2.0]


def test_collapsed_properties_are_blank_and_named(tmp_path):
    """A property a model collapsed (None, reason in ``failures``): a blank Table III cell, the
    model and property named in the caption, no point in Figure 5."""
    from sparseace import study

    lit = {"si_properties": {"DFT": {"vacancy": 3.67, "interstitial_tetrahedral": 3.91},
                             "GAP": {"vacancy": 3.53, "interstitial_tetrahedral": 3.71}}}
    properties = {
        "asp-10": {"active": 10, "values": {"vacancy": None, "interstitial_tetrahedral": 4.0},
                   "failures": {"vacancy": "atoms 6 (Si) and 8 (Si) are 0.438 Å apart"}},
        "asp-20": {"active": 20, "values": {"vacancy": 3.5, "interstitial_tetrahedral": 4.1},
                   "failures": {}}}
    spec = {"models": ["asp-10", "asp-20"]}
    t3, caption = study.make("table3", spec, RUN, properties=properties, literature=lit)
    row = t3.set_index("property")
    assert np.isnan(row.at["vacancy (eV)", "asp-10"]) and row.at["vacancy (eV)", "asp-20"] == 3.5
    assert "asp-10: vacancy" in caption and "asp-20" not in caption.split("floor")[-1]
    fig = study.make("fig5", spec, RUN, properties=properties, literature=lit)
    y = fig.axes[0].lines[0].get_ydata()
    assert np.isnan(y[0]) and y[1] == pytest.approx(100 * (3.5 - 3.67) / 3.67)


def test_table2_states_every_model_size_and_why_an_ard_model_is_smaller():
    """Table II has a 'functions' row per model; the caption gives each ARD model's threshold
    and size, and why one has fewer than 0.95 n functions."""
    from sparseace import study
    from sparseace.solvers import Checkpoints

    lit = {"zuo2020_other_potentials": {
        "energy_mae_meV_per_atom": {"MTP": {"Mo": 2.83}, "GAP": {"Mo": 2.24}},
        "force_mae_eV_per_A": {"MTP": {"Mo": 0.09}, "GAP": {"Mo": 0.09}}}}
    errors = {f"zuo_Mo/{s}-{n}/1": pd.DataFrame({"active": [k], "E_MAE_meV_per_atom": [1.0],
                                                 "F_MAE_eV_per_A": [0.1]}, index=["all"])
              for s, n, k in (("asp", 10, 10), ("asp", 20, 20), ("ard", 10, 10), ("ard", 20, 15))}
    search = {"10": {"size": 10, "threshold": 1.5, "next_threshold": 2.0, "next_size": 12},
              "20": {"size": 15, "threshold": 2.5, "next_threshold": 2.5000000001,
                     "next_size": 30, "note": "the model size jumps from 15 to 30 between "
                                              "thresholds 2.5 and 2.5000000001"}}
    cp = Checkpoints.from_models("ard", [1.0], [[0]], [[1.0]], [0.1], {"size_search": search})
    spec = {"datasets": ["zuo_Mo"], "solvers": ["asp", "ard"], "small": 10, "large": 20}
    asp = Checkpoints.from_models("asp", [1.0], [[0]], [[1.0]], [0.1])
    t2, caption = study.make("table2", spec, RUN, seed_errors=errors, errors={}, literature=lit,
                             checkpoints={"zuo_Mo/asp": asp, "zuo_Mo/ard": cp})
    sizes = t2[t2["quantity"] == "functions"].set_index("model")["Mo"]
    assert sizes.to_dict() == {"ASP (small)": 10, "ASP (large)": 20, "ARD (small)": 10,
                               "ARD (large)": 15}
    assert "zuo_Mo ARD small: threshold_lambda 1.5, 10 functions;" in caption
    assert "zuo_Mo ARD large: threshold_lambda 2.5, 15 functions (the model size jumps" in caption


def test_table2_shows_refits_of_52_beside_its_published_values():
    """Table II's refits of [52]'s protocol (other datasets, models rrqr-all / blr-all) are rows
    of their own, labelled, with their function counts in the caption, next to [52]'s
    published values; the study's sparse models keep theirs."""
    from sparseace import study
    from sparseace.solvers import Checkpoints

    def err(e, f, active):
        return pd.DataFrame({"E_MAE_meV_per_atom": [e], "F_MAE_eV_per_A": [f],
                             "active": [active]}, index=pd.Index(["all"], name="config_type"))

    spec = {"datasets": ["zuo_Mo", "zuo_Ni"], "solvers": ["asp"], "small": 300, "large": 1000,
            "refits": {"models": ["rrqr-all"], "small": ["zuo_Mo_52s", "zuo_Ni_52s"],
                       "large": ["zuo_Mo_52l", "zuo_Ni_52l"]}}
    seed_errors = {f"{ds}/asp-{n}/1": err(1.0, 0.1, n) for ds in spec["datasets"]
                   for n in (300, 1000)}
    asp = Checkpoints.from_models("asp", [1.0], [[0]], [[1.0]], [0.1])
    errors = {"zuo_Mo_52s/rrqr-all": err(2.5, 0.12, 299),
                   "zuo_Ni_52s/rrqr-all": err(0.4, 0.02, 299),
                   "zuo_Mo_52l/rrqr-all": err(2.9, 0.09, 1016),
              "zuo_Ni_52l/rrqr-all": err(0.3, 0.01, 1016)}
    published = {q: {"small": {"Mo": 2.597, "Ni": 0.416}, "large": {"Mo": 2.911, "Ni": 0.34}}
                 for q in ("energy_mae_meV_per_atom", "force_mae_eV_per_A")}
    lit = {"zuo2020_other_potentials": {q: {"MTP": {"Mo": 1, "Ni": 1}, "GAP": {"Mo": 1, "Ni": 1}}
                                        for q in published},
           "acepotentials2023_zuo": published}
    t2, caption = study.make("table2", spec, RUN, seed_errors=seed_errors, errors=errors,
                             literature=lit, checkpoints={f"{ds}/asp": asp
                                                          for ds in spec["datasets"]})
    energy = t2[t2.quantity.str.startswith("energy")].set_index("model")
    assert energy.at["RRQR refit of [52] (small)", "Mo"] == 2.5
    assert energy.at["RRQR refit of [52] (large)", "Ni"] == 0.3
    assert energy.at["[52] published (small)", "Ni"] == 0.416
    assert energy.at["ASP (small)", "Mo"] == 1.0
    assert "small 299 functions" in caption and "large 1016 functions" in caption
    assert sorted(study.refit_models(spec))[0] == ("zuo_Mo", "large", "zuo_Mo_52l", "rrqr-all")


def test_table3_names_its_protocol_and_published_models():
    """Table III names the property protocol its models were computed by and shows every
    published model of the literature block (e.g. [52]'s BLR) as a column."""
    from sparseace import study

    lit = {"si_properties": {"units": {"defects": "eV"}, "DFT": {"vacancy": 3.67},
                             "GAP": {"vacancy": 3.53}, "BLR [52]": {"vacancy": 3.52}}}
    properties = {"asp-20": {"active": 20, "values": {"vacancy": 3.5}, "failures": {},
                             "protocol": "study_notebook"}}
    t3, caption = study.make("table3", {"models": ["asp-20"]}, RUN, properties=properties,
                             literature=lit)
    assert t3.set_index("property").at["vacancy (eV)", "BLR [52]"] == 3.52
    assert "units" not in t3.columns
    assert "property protocol: study_notebook" in caption
