"""The study's figures (matplotlib).  Each function takes tables and returns a Figure.

Every figure carries a footer naming the run (full study or reduced run) and its data.
Curves are pandas DataFrames with at least the columns ``solver``, ``size`` (number of active
functions) and ``test_energy_mae`` (meV/atom); ``dataset`` when several panels are drawn.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .provenance import atomic_path  # noqa: E402
from .solvers import SOLVERS  # noqa: E402


def stamp(fig, run_label: str) -> None:
    """Footer stating the run and data the figure comes from."""
    fig.text(0.01, 0.005, run_label, fontsize=7, color="0.35", ha="left", va="bottom")


def save_figure(fig, paths) -> None:
    """Write the figure to every path (format from the extension), atomically."""
    for path in paths:
        suffix = "." + str(path).rsplit(".", 1)[-1]
        with atomic_path(path, suffix) as tmp:
            fig.savefig(tmp, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _solver_curve(ax, df, solver, y="test_energy_mae"):
    entry = SOLVERS.get(solver)
    label, colour, marker = ((entry.label, entry.colour, entry.marker) if entry
                             else (solver.upper(), None, "."))
    d = df[df["size"] > 0].sort_values("size")  # an empty model has no place on a log axis
    path = entry is not None and entry.kind == "path"
    ax.plot(d["size"], d[y], color=colour, marker=None if path and len(d) > 30 else marker,
            ms=4, lw=1.2, label=label)


def error_curves(curves: pd.DataFrame, panels, solvers, run_label: str,
                 title: str = "", y: str = "test_energy_mae",
                 ylabel: str = "energy test MAE (meV/atom)"):
    """Error against number of active functions, one panel per dataset (Figures 1, 4, 6)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        d = curves[curves["dataset"] == panel]
        for solver in solvers:
            if (d["solver"] == solver).any():
                _solver_curve(ax, d[d["solver"] == solver], solver, y)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("active basis functions")
        ax.set_title(panel)
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel(ylabel)
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    stamp(fig, run_label)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def pair_selection(functions: pd.DataFrame, sizes, supports, level_order, centre: str,
                   run_label: str):
    """Which pair (two-body) functions are active as the model grows (Figure 2): the sparse
    path's checkpoints next to the level-ordered dense basis of the same size."""
    pair = functions.index[(functions["kind"] == "pair") & (functions["centre"] == centre)]
    n_of = {k: functions.at[k, "n"][0] for k in pair}
    rank = np.empty(len(level_order), dtype=np.int64)
    rank[level_order] = np.arange(len(level_order))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
    for size, support in zip(sizes, supports):
        active = np.intersect1d(support, pair)
        axes[0].scatter(np.full(len(active), size), [n_of[k] for k in active], s=8, c="C0")
        dense = [k for k in pair if rank[k] < size]
        axes[1].scatter(np.full(len(dense), size), [n_of[k] for k in dense], s=8, c="C2")
    for ax, title in zip(axes, ("ASP path", "level-ordered dense basis")):
        ax.set_xscale("log")
        ax.set_xlabel("active basis functions")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"pair function index n (centre {centre})")
    stamp(fig, run_label)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _factor_coordinates(functions: pd.DataFrame, ids):
    """Sorted (n_t + l_t) of the three factors of each function (radial degree n_t)."""
    return np.array([sorted(d + l for d, l in zip(functions.at[k, "degree"], functions.at[k, "l"]))
                     for k in ids], dtype=float).reshape(-1, 3)


def threebody_selection(functions: pd.DataFrame, selected, level_order, order: int,
                        run_label: str, centre: str | None = None):
    """Three-factor (correlation order 3) functions of a sparse model in 3D over the sorted
    (n + l) of their factors, next to those of the level-ordered basis of the same size
    (Figure 3)."""
    mask = (functions["kind"] == "manybody") & (functions["order"] == order)
    if centre is not None:
        mask &= functions["centre"] == centre
    candidates = set(functions.index[mask])
    sparse = [k for k in selected if k in candidates]
    dense = [k for k in level_order[:len(selected)] if k in candidates]
    fig = plt.figure(figsize=(10, 4.6))
    for i, (ids, title, colour) in enumerate(((sparse, "ASP", "C0"),
                                               (dense, "level-ordered", "C2"))):
        ax = fig.add_subplot(1, 2, i + 1, projection="3d")
        xyz = _factor_coordinates(functions, ids)
        ax.scatter(*xyz.T, s=10, c=colour, depthshade=True)
        ax.set_xlabel("$n_1+l_1$")
        ax.set_ylabel("$n_2+l_2$")
        ax.set_zlabel("$n_3+l_3$")
        ax.set_title(f"{title}: {len(ids)} of {len(selected)} active are 3-factor")
    stamp(fig, run_label)
    return fig


def defect_errors(values: pd.DataFrame, reference: dict, gap: dict, run_label: str):
    """Percentage error of point-defect formation energies against basis size (Figure 5).

    ``values``: columns solver, size and one column per defect (eV)."""
    defects = [d for d in ("vacancy", "interstitial_tetrahedral", "interstitial_hexagonal",
                           "interstitial_dumbbell") if d in values]
    fig, axes = plt.subplots(1, len(defects), figsize=(3.6 * len(defects), 3.4), squeeze=False)
    for ax, defect in zip(axes[0], defects):
        ref = reference[defect]
        for solver, d in values.groupby("solver"):
            d = d.sort_values("size")
            _solver_curve(ax, d.assign(err=100 * (d[defect] - ref) / ref), solver, "err")
        ax.axhline(100 * (gap[defect] - ref) / ref, color="k", ls="--", lw=1, label="GAP")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("active basis functions")
        ax.set_title(defect.replace("_", " "))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("error vs DFT (%)")
    axes[0, 0].legend(fontsize=8)
    stamp(fig, run_label)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def species_triples(functions: pd.DataFrame, selected, centre: str, order: int, run_label: str):
    """Three-factor functions with a given centre by neighbour-species triple: available in the
    basis and selected by the sparse model (Figure 7)."""
    mask = ((functions["kind"] == "manybody") & (functions["order"] == order)
            & (functions["centre"] == centre))
    triple = functions.loc[mask, "species"].map(lambda s: "".join(sorted(s)))
    available = triple.value_counts().sort_index()
    chosen = triple[triple.index.isin(selected)].value_counts().reindex(available.index, fill_value=0)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    x = np.arange(len(available))
    ax.bar(x - 0.2, available.values, 0.4, label="in the basis", color="0.7")
    ax.bar(x + 0.2, chosen.values, 0.4, label="selected by ASP", color="C0")
    ax.set_xticks(x, [f"{centre}|{t}" for t in available.index])
    ax.set_yscale("log")
    ax.set_ylabel("three-factor functions")
    ax.set_xlabel("centre | neighbour species")
    ax.legend(fontsize=8)
    stamp(fig, run_label)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
