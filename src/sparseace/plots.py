"""The study's figures (matplotlib).  Each function takes tables and returns a Figure.

Every figure carries a footer naming the run (full study or reduced run) and its data.
Curves are pandas DataFrames with at least the columns ``solver``, ``size`` (number of active
functions) and ``test_energy_mae`` (meV/atom); ``dataset`` when several panels are drawn.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
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


def _threebody(functions: pd.DataFrame, centre: str | None = None) -> pd.DataFrame:
    """The three-body functions (correlation order 2) with coordinates (n1, n2, l): the radial
    degrees of the two factors, a neighbour of the centre's species first, like neighbours in
    ascending degree, and their common angular momentum l (l1 = l2 for a rotation
    invariant); ``pair``: the neighbour species in the same order."""
    f = functions[(functions["kind"] == "manybody") & (functions["order"] == 2)]
    if centre is not None:
        f = f[f["centre"] == centre]
    rows = []
    for c, species, degree, l in zip(f["centre"], f["species"], f["degree"], f["l"]):
        factors = sorted(zip(species, degree), key=lambda t: (t[0] != c, t[0], t[1]))
        rows.append({"n1": factors[0][1], "n2": factors[1][1], "l": l[0],
                     "pair": (factors[0][0], factors[1][0])})
    return pd.DataFrame(rows, index=f.index, columns=["n1", "n2", "l", "pair"])


def _scatter3d(ax, coords: pd.DataFrame, title: str, colour: str, background=None):
    if background is not None:
        ax.scatter(background["n1"], background["n2"], background["l"], s=4, c="0.8",
                   depthshade=False, label="in the basis")
    ax.scatter(coords["n1"], coords["n2"], coords["l"], s=12, c=colour, depthshade=True,
               label="selected")
    ax.set_xlabel("$n_1$")
    ax.set_ylabel("$n_2$")
    ax.set_zlabel("$l$")
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=9)


def threebody_selection(functions: pd.DataFrame, selected, level_order, run_label: str,
                        centre: str | None = None):
    """Three-body (correlation order 2) functions of a sparse model in 3D over (n1, n2, l),
    next to those of the level-ordered basis of the same size (Figure 3)."""
    three = _threebody(functions, centre)
    sparse = three.loc[three.index.intersection(np.asarray(selected))]
    dense = three.loc[three.index.intersection(np.asarray(level_order)[:len(selected)])]
    fig = plt.figure(figsize=(10, 4.6))
    for i, (coords, title, colour) in enumerate(((sparse, "ASP", "C0"),
                                                  (dense, "level-ordered", "C2"))):
        _scatter3d(fig.add_subplot(1, 2, i + 1, projection="3d"), coords,
                   f"{title}: {len(coords)} of {len(selected)} active are three-body", colour)
    stamp(fig, run_label)
    return fig


def species_threebody(functions: pd.DataFrame, selected, centre: str, run_label: str):
    """Three-body functions with a given centre, one panel per pair of neighbour species
    (for water's O centre: O-H-H, O-O-O, O-O-H) over (n1, n2, l): those in the basis and those
    the sparse model selected (Figure 7)."""
    three = _threebody(functions, centre)
    groups = sorted(set(three["pair"]), key=lambda p: (p[0] != p[1], p))
    fig = plt.figure(figsize=(4.2 * len(groups), 4.4))
    chosen = three.index.intersection(np.asarray(selected))
    for i, pair in enumerate(groups):
        available = three[three["pair"] == pair]
        picked = available.loc[available.index.intersection(chosen)]
        ax = fig.add_subplot(1, len(groups), i + 1, projection="3d")
        _scatter3d(ax, picked, f"{centre}-{'-'.join(pair)}: {len(picked)} of {len(available)}"
                               " selected", "C0", background=available)
    fig.axes[0].legend(fontsize=7, loc="upper left")
    stamp(fig, run_label)
    return fig


def defect_errors(values: pd.DataFrame, reference: dict, gap: dict, run_label: str):
    """Percentage error of point-defect formation energies against basis size (Figure 5).

    ``values``: columns solver, size and one column per defect (eV; None where the model
    collapsed the defect)."""
    defects = [d for d in ("vacancy", "interstitial_tetrahedral", "interstitial_hexagonal",
                           "interstitial_dumbbell") if d in values]
    fig, axes = plt.subplots(1, len(defects), figsize=(3.6 * len(defects), 3.4), squeeze=False)
    for ax, defect in zip(axes[0], defects):
        ref = reference[defect]
        for solver, d in values.groupby("solver"):
            d = d.sort_values("size")
            err = 100 * (pd.to_numeric(d[defect]) - ref) / ref  # None: collapsed, not drawn
            _solver_curve(ax, d.assign(err=err), solver, "err")
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


def accuracy_cost(table: pd.DataFrame, title: str, run_label: str):
    """Test energy MAE against LAMMPS cost (µs/atom/step, log-log): a line per solver through
    its timed checkpoints, SNAP fits (squares, labelled 2J), published potentials (stars), the
    Pareto front (dashed staircase, ringed points).  ``table``: ``sparseace.cost.accuracy_cost``."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    x, y = "cost_us_per_atom_step", "test_energy_mae"
    for solver, d in table[table["kind"] == "sparseace"].groupby("solver", sort=False):
        entry = SOLVERS.get(solver)
        d = d.sort_values("n_functions")
        ax.plot(d[x], d[y], marker=entry.marker if entry else ".", ms=5, lw=1,
                color=entry.colour if entry else None, label=entry.label if entry else solver)
    snap = table[table["kind"] == "snap"].sort_values("twojmax")
    if len(snap):
        ax.plot(snap[x], snap[y], "s-", color="0.2", ms=5, lw=1,
                label=f"SNAP (our fit, {snap['solver'].iloc[0].upper()})")
        for _, r in snap.iterrows():
            ax.annotate(f"2J={int(r['twojmax'])}", (r[x], r[y]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    published = table[table["kind"] == "published"]
    for (_, r), colour in zip(published.iterrows(), ("tab:red", "tab:brown", "tab:pink")):
        ax.plot(r[x], r[y], "*", ms=11, color=colour, label=r["model"])
    front = table[table["pareto"]].sort_values(x)
    ax.step(front[x], front[y], where="post", color="k", ls="--", lw=0.8, label="Pareto front")
    ax.plot(front[x], front[y], "o", mfc="none", mec="k", ms=10)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cost in LAMMPS (µs per atom per step, one core)")
    ax.set_ylabel("energy test MAE (meV/atom)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    stamp(fig, run_label)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
