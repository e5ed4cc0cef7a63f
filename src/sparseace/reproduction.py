"""The reproduction report: every published number of the study's Tables II-IV next to ours,
and every claim of the study checked from our results.

Pure functions from pandas tables and dicts to report rows; ``workflow/scripts/reproduction.py``
reads the run's files and writes ``results/reproduction.md`` and ``.csv`` (the same rows).

A number row: published value, ours (one value, or mean, sd, min and max over split seeds),
ratio ours/published and a verdict: "agrees" when |ratio - 1| <= the configured tolerance,
"differs" otherwise, "not run" when the run did not produce that number (never dropped).  A
claim row: verdict "reproduced", "not reproduced" or "not run", and the numbers behind it.

Errors are energy test MAE in meV/atom unless named otherwise; curve errors are compared in
log10(MAE) interpolated linearly in the number of active functions.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

AGREES, DIFFERS, NOT_RUN = "agrees", "differs", "not run"
REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"

#: columns of the report (CSV and Markdown)
COLUMNS = ["section", "item", "published", "ours", "ours_sd", "ours_min", "ours_max", "n_seeds",
           "ratio", "tolerance", "verdict", "evidence", "note"]

#: the claims of the study, as the report states them
CLAIMS = {
    1: "Table II: OMP and ASP beat the best of [52]'s checkpoints (RRQR) on every element but Li",
    2: "Figure 1: OMP and ASP reach lower test MAE than RRQR and ARD over most of the range of "
       "basis sizes",
    3: "Figure 1: ASP's error curve is smoother than OMP's",
    4: "Figure 4: ASP and OMP moderately below BLR as the basis grows (GAP-Si)",
    5: "Table III: ASP at 2,500 functions about as accurate as BLR and GAP (mean absolute % "
       "error against DFT)",
    6: "Figure 5: the point-defect error of ASP decreases monotonically with basis size",
    7: "Figure 6 and Table IV: OMP and ASP comparable, both well below BLR; OMP-12000 below "
       "CACE (smaller) in energy MAE with fewer than half its parameters",
    8: "MD: the sparse models complete 1 ns NVT at 300 K and 500 K without instability",
}

#: a ratio of errors "moderately below" 1 is at least this (not a factor of two or more)
MODERATE = 0.5
#: the length (ps) of the study's MD runs (claim 8)
MD_LENGTH_PS = 1000.0
#: functions of the study's "small" and "large" Table II models (this_study.table2)
PUBLISHED_SIZES = {"small": 300, "large": 1000}
#: point defects of Table III (Figure 5)
DEFECTS = ("vacancy", "interstitial_tetrahedral", "interstitial_hexagonal",
           "interstitial_dumbbell")
#: Table III's published columns -> our property key of the same kind: the study's bulk
#: modulus is an E(V) value (its rows are not (C11 + 2 C12)/3 of their C11 and C12, e.g. BLR
#: 88.1 against 92.7) and its C44 is clamped-ion (this_study.table3.note)
TABLE3_KEYS = {"bulk_modulus": "bulk_modulus_eos", "C44": "C44_unrelaxed"}


def banner(study: str, only: list | None = None) -> str | None:
    """The warning heading the report of a run other than the full study (config ``study``)
    or of part of it (config ``only``)."""
    lines = []
    if study != "full":
        lines.append(f"**This is a {study} run (config study={study}): its datasets, basis "
                     "sizes and MD lengths are reduced, so its numbers are not comparable to the "
                     "published ones.** Its verdicts against published numbers say only how far "
                     "this run is from them; its claim checks run on what it has.")
    if only:
        lines.append(f"**This run covers part of the study: the datasets {', '.join(only)} "
                     "(config only).** The published numbers and claims of the other datasets "
                     "are not run.")
    return "\n\n".join(lines) or None


# ---------------------------------------------------------------------- number rows
def _stats(value) -> dict:
    """ours, ours_sd, ours_min, ours_max, n_seeds of one cell: a number (one split seed) or a
    mapping with ``mean``, ``sd``, ``min``, ``max``, ``n_seeds`` (several)."""
    if isinstance(value, dict):
        return {"ours": value["mean"], "ours_sd": value["sd"], "ours_min": value["min"],
                "ours_max": value["max"], "n_seeds": int(value["n_seeds"])}
    return {"ours": value, "ours_sd": np.nan, "ours_min": value, "ours_max": value,
            "n_seeds": 1}


def number_row(section: str, item: str, published: float, ours, tolerance: float,
               note: str = "") -> dict:
    """One published number next to ours (``None``: not run); verdict by relative tolerance."""
    row = {"section": section, "item": item, "published": float(published),
           "tolerance": tolerance, "evidence": "", "note": note}
    if ours is None or (not isinstance(ours, dict) and not np.isfinite(ours)):
        return {**row, "verdict": NOT_RUN}
    row.update(_stats(ours))
    row["ratio"] = row["ours"] / row["published"]
    row["verdict"] = AGREES if abs(row["ratio"] - 1) <= tolerance else DIFFERS
    return row


def table2_cells(table2: pd.DataFrame) -> pd.DataFrame:
    """Our Table II as long rows: element, solver (label, e.g. "ASP"), model ("small"/"large"),
    quantity ("energy": meV/atom, "force": eV/Å) and ``value``, or ``mean``, ``sd``, ``min``,
    ``max``, ``n_seeds`` over split seeds.

    Accepts Table II as ``tables`` writes it: one column per element (one split seed), or one
    row per element with ``test_mae_mean``, ``_sd``, ``_min``, ``_max`` and ``n_seeds`` (several
    seeds, ``tables.zuo_seed_table``). Literature rows (no "(small)"/"(large)") are skipped."""
    missing = {"model", "quantity"} - set(table2.columns)
    if missing:
        raise ValueError(f"Table II has no column {sorted(missing)} (columns: "
                         f"{list(table2.columns)})")
    seeds = "test_mae_mean" in table2.columns
    rows = []
    for _, r in table2.iterrows():
        label, _, size = str(r["model"]).rpartition(" (")
        if size not in ("small)", "large)"):
            continue
        cell = {"solver": label, "model": size[:-1],
                "quantity": str(r["quantity"]).split()[0].lower()}
        if seeds:
            rows.append({"element": r["element"], **cell,
                         **{k: r[f"test_mae_{k}"] for k in ("mean", "sd", "min", "max")},
                         "n_seeds": r["n_seeds"]})
        else:
            rows += [{"element": el, **cell, "value": r[el]} for el in table2.columns
                     if el not in ("model", "quantity")]
    return pd.DataFrame(rows)


def _cell_value(row: pd.Series):
    """A number (one seed) or the stats mapping of ``_stats``."""
    if "mean" in row.index and pd.notna(row.get("mean")):
        return {k: row[k] for k in ("mean", "sd", "min", "max", "n_seeds")}
    return float(row["value"])


def table2_rows(published: dict, ours: pd.DataFrame, sizes: dict, active: dict,
                tolerance: dict) -> list[dict]:
    """Rows of Table II: every published cell (this_study.table2) next to ours.

    ``ours``: ``table2_cells``; ``sizes``: "small"/"large" -> our number of functions;
    ``active``: (element, solver label, model) -> active functions of our model (ARD's may be
    fewer); ``tolerance``: "energy"/"force" -> relative tolerance."""
    rows = []
    for quantity, block, unit in (("energy", "energy_mae_meV_per_atom", "meV/atom"),
                                  ("force", "force_mae_eV_per_A", "eV/Å")):
        for model, by_solver in published[block].items():
            for solver, by_element in by_solver.items():
                for element, value in by_element.items():
                    ours_solver = solver
                    if solver == "RRQR":  # [52]'s models: our refit of its protocol, if any
                        ours_solver = next((s for s in REFERENCE_52 if (
                            (ours["element"] == element) & (ours["solver"] == s)).any()), solver)
                    cell = ours[(ours["element"] == element) & (ours["solver"] == ours_solver)
                                & (ours["model"] == model) & (ours["quantity"] == quantity)]
                    notes = []
                    if sizes.get(model) not in (None, PUBLISHED_SIZES[model]):
                        notes.append(f"{model} = {sizes[model]} functions here (published "
                                     f"{PUBLISHED_SIZES[model]})")
                    n = active.get((element, solver, model))
                    if solver == "ARD" and n is not None:
                        notes.append(f"our ARD model has {n} functions")
                    if solver == "RRQR":
                        notes.append("published: [52]'s results; ours: " + (
                            "RRQR on our basis" if ours_solver == "RRQR" else
                            f"{ours_solver}'s protocol (its per-order degrees, whole training file)"))
                    rows.append(number_row(
                        "Table II", f"{element} {quantity} MAE ({unit}), {solver} {model}",
                        value, _cell_value(cell.iloc[0]) if len(cell) else None,
                        tolerance[quantity], "; ".join(notes)))
    return rows


def _stand_ins(published_labels, models) -> dict:
    """Published row label -> our model id standing for it: the config's models in the order
    of the published rows (the config comments say which stands for which), a published row
    whose solver is not the next model's (e.g. the study's "BLR", [52]'s model, when the config
    fits no BLR model) having none."""
    stand_in, queue = {}, list(models)
    for label in published_labels:
        if queue and queue[0].split("-")[0] == label.split()[0].lower():
            stand_in[label] = queue.pop(0)
    return stand_in


def table3_rows(published: dict, properties: dict, models: list, tolerance: float,
                dataset: str = "") -> list[dict]:
    """Rows of Table III: every published property of the study's models next to ours.

    ``published``: this_study.table3 (columns, rows); ``properties``: model id -> property
    record (``values``, ``active``); ``models``: the config's Table III models, standing for the
    published rows in order; ``dataset``: the one they are fitted to."""
    rows = []
    stand_in = _stand_ins(list(published["rows"]), models)
    for label, values in published["rows"].items():
        model = stand_in.get(label)
        record = properties.get(model)
        for column, value in zip(published["columns"], values):
            key = TABLE3_KEYS.get(column, column)
            ours = None if record is None else record["values"].get(key)
            notes = []
            if record is not None:
                notes.append(f"ours: {dataset}/{model} ({record['active']} functions)"
                             + (f", {key}" if key != column else ""))
                if ours is None:
                    notes.append(f"no value: {record.get('failures', {}).get(key, 'not computed')}")
            if label == "BLR":
                notes.append("published: [52]'s 5,434-function model")
            rows.append(number_row("Table III", f"{label}: {column}", value,
                                   np.nan if ours is None else ours, tolerance,
                                   "; ".join(notes)))
    return rows


def table4_rows(published: list, ours: list, tolerance: dict, dataset: str = "") -> list[dict]:
    """Rows of Table IV: the study's OMP water models next to ours.  ``ours``: the config's
    Table IV models in order (dicts with model, energy_mae_meV_per_atom,
    force_mae_meV_per_A, parameters), standing for the published rows in order, fitted to
    ``dataset``."""
    rows = []
    for i, pub in enumerate(published):
        mine = ours[i] if i < len(ours) else None
        label = f"{pub['model']} ({pub['parameters']})"
        note = "" if mine is None else (
            f"ours: {dataset}/{mine['model']} ({mine['parameters']} parameters)")
        for quantity, key, unit in (("energy", "energy_mae_meV_per_atom", "meV/atom"),
                                    ("force", "force_mae_meV_per_A", "meV/Å")):
            rows.append(number_row("Table IV", f"{label}: {quantity} MAE ({unit})", pub[key],
                                   None if mine is None else mine[key], tolerance[quantity],
                                   note))
    return rows


# ---------------------------------------------------------------------- claims
def claim_row(number: int, verdict: str, evidence: str) -> dict:
    return {"section": f"Claim {number}", "item": CLAIMS[number], "verdict": verdict,
            "evidence": evidence, "note": ""}


def _fmt(x: float) -> str:
    return f"{x:.3g}"


#: Table II rows standing for [52]'s models: our refits of its protocol where the config has
#: them, else RRQR on our basis
REFERENCE_52 = ("RRQR refit of [52]", "BLR refit of [52]", "RRQR")


def claim1(cells: pd.DataFrame | None) -> dict:
    """Claim 1.  Per element, each solver's best energy MAE over its small and large model
    (mean over seeds where several); reproduced when ASP's and OMP's best are below the best of
    [52]'s models (``REFERENCE_52``) on every element of the run except Li (Li is reported, not
    judged)."""
    if cells is None or cells.empty:
        return claim_row(1, NOT_RUN, "no Table II in this run")
    energy = cells[cells["quantity"] == "energy"].copy()
    energy["mae"] = [float(v["mean"]) if isinstance(v, dict) else v
                     for v in (_cell_value(r) for _, r in energy.iterrows())]
    best = energy.groupby(["element", "solver"])["mae"].min().unstack()
    refs = [s for s in best.columns if s in REFERENCE_52]
    if not {"ASP", "OMP"} <= set(best.columns) or not refs:
        return claim_row(1, NOT_RUN, f"solvers in Table II: {sorted(best.columns)}")
    reference = best[refs].min(axis=1)
    parts, failed = [], []
    for element, b in best.iterrows():
        ok = b["ASP"] < reference[element] and b["OMP"] < reference[element]
        parts.append(f"{element}: ASP {_fmt(b['ASP'])}, OMP {_fmt(b['OMP'])}, [52] "
                     f"{_fmt(reference[element])}{'' if ok else ' (not beaten)'}")
        if not ok and element != "Li":
            failed.append(element)
    judged = [e for e in best.index if e != "Li"]
    if not judged:
        return claim_row(1, NOT_RUN, "; ".join(parts))
    return claim_row(1, NOT_REPRODUCED if failed else REPRODUCED,
                     f"best energy MAE (meV/atom) of small/large: {'; '.join(parts)}")


def log_mae_on_grid(curves: pd.DataFrame, dataset: str, solvers, upper_half=False):
    """log10 test energy MAE of each solver's curve on a common grid of sizes (DataFrame, index
    size), or None when a solver has no curve.  Grid: every checkpoint size of these curves
    inside the range all of them cover (size >= 1); each curve interpolated linearly in size,
    at a size reached by several checkpoints the last one along the path.  ``upper_half``: only
    sizes in the upper half of that range (where the basis has grown)."""
    d = curves[(curves["dataset"] == dataset) & (curves["size"] >= 1)]
    per = {}
    for s in solvers:
        c = d[d["solver"] == s].sort_values("checkpoint" if "checkpoint" in d else "size")
        c = c.drop_duplicates("size", keep="last").sort_values("size")
        if c.empty:
            return None
        per[s] = c
    lo = max(c["size"].min() for c in per.values())
    hi = min(c["size"].max() for c in per.values())
    grid = np.unique(np.concatenate([c["size"].to_numpy() for c in per.values()]))
    grid = grid[(grid >= (lo + hi) / 2 if upper_half else grid >= lo) & (grid <= hi)]
    if len(grid) == 0:
        return None
    return pd.DataFrame({s: np.interp(grid, c["size"], np.log10(c["test_energy_mae"]))
                         for s, c in per.items()}, index=pd.Index(grid, name="size"))


def claim2(curves: pd.DataFrame | None, datasets: list) -> dict:
    """Claim 2.  Per dataset of Figure 1, the fraction of grid sizes (``log_mae_on_grid``) where
    both ASP and OMP are below both RRQR and ARD; reproduced when it exceeds 1/2 everywhere."""
    if curves is None or not datasets:
        return claim_row(2, NOT_RUN, "no Figure 1 in this run")
    parts, verdicts = [], []
    for ds in datasets:
        g = log_mae_on_grid(curves, ds, ["asp", "omp", "rrqr", "ard"])
        if g is None:
            parts.append(f"{ds}: no common range of ASP, OMP, RRQR, ARD")
            verdicts.append(NOT_RUN)
            continue
        frac = float(np.mean(g[["asp", "omp"]].max(axis=1) < g[["rrqr", "ard"]].min(axis=1)))
        parts.append(f"{ds}: {frac:.0%} of {len(g)} sizes ({g.index.min()}-{g.index.max()})")
        verdicts.append(REPRODUCED if frac > 0.5 else NOT_REPRODUCED)
    return claim_row(2, _combine(verdicts), "ASP and OMP below RRQR and ARD at " +
                     "; ".join(parts))


def _combine(verdicts) -> str:
    """Not reproduced if any part is; otherwise reproduced if any part ran (the evidence names
    the parts not run); otherwise not run."""
    if NOT_REPRODUCED in verdicts:
        return NOT_REPRODUCED
    return REPRODUCED if REPRODUCED in verdicts else NOT_RUN


def roughness(curve: pd.DataFrame) -> tuple[int, float]:
    """Number and total size of the increases of log10 test MAE from one checkpoint to the next
    along a path (in path order; models of size 0 left out).  0, 0.0 for a monotone curve."""
    c = curve[curve["size"] >= 1]
    c = c.sort_values("checkpoint") if "checkpoint" in c else c
    steps = np.diff(np.log10(c["test_energy_mae"].to_numpy()))
    rises = steps[steps > 0]
    return int(len(rises)), float(rises.sum())


def claim3(curves: pd.DataFrame | None, datasets: list) -> dict:
    """Claim 3.  Per dataset of Figure 1, ``roughness`` of the ASP and OMP paths; reproduced when
    ASP's total increase of log10 MAE is smaller than OMP's on every dataset."""
    if curves is None or not datasets:
        return claim_row(3, NOT_RUN, "no Figure 1 in this run")
    parts, verdicts = [], []
    for ds in datasets:
        d = curves[curves["dataset"] == ds]
        asp, omp = d[d["solver"] == "asp"], d[d["solver"] == "omp"]
        if asp.empty or omp.empty:
            parts.append(f"{ds}: ASP or OMP not fitted")
            verdicts.append(NOT_RUN)
            continue
        (na, sa), (no, so) = roughness(asp), roughness(omp)
        parts.append(f"{ds}: ASP {na} rises totalling {sa:.3g}, OMP {no} totalling {so:.3g}")
        verdicts.append(REPRODUCED if sa < so else NOT_REPRODUCED)
    return claim_row(3, _combine(verdicts),
                     "increases of log10 test MAE along the path: " + "; ".join(parts))


def _median_ratio(g: pd.DataFrame, a: str, b: str) -> float:
    """Median over the grid of MAE_a / MAE_b."""
    return float(np.median(10 ** (g[a] - g[b])))


def claim4(curves: pd.DataFrame | None, dataset: str | None) -> dict:
    """Claim 4.  On the upper half of the common size range of Figure 4's ASP, OMP and BLR
    curves, the median ratio of ASP's and of OMP's MAE to BLR's; reproduced when both lie in
    [MODERATE, 1) (below BLR, not by a factor of two or more)."""
    g = None if curves is None or dataset is None else log_mae_on_grid(
        curves, dataset, ["asp", "omp", "blr"], upper_half=True)
    if g is None:
        return claim_row(4, NOT_RUN, "no Figure 4 curves of ASP, OMP and BLR in this run")
    r = {s: _median_ratio(g, s, "blr") for s in ("asp", "omp")}
    ok = all(MODERATE <= v < 1 for v in r.values())
    return claim_row(4, REPRODUCED if ok else NOT_REPRODUCED,
                     f"{dataset}, sizes {g.index.min()}-{g.index.max()}: median MAE ratio to "
                     f"BLR ASP {r['asp']:.3f}, OMP {r['omp']:.3f}")


def mean_abs_percent_error(values: dict, reference: dict, keys) -> float:
    """Mean over ``keys`` of |value - reference| / reference, in %."""
    return float(np.mean([100 * abs(values[k] - reference[k]) / reference[k] for k in keys]))


def _has(values: dict, key) -> bool:
    v = values.get(key)
    return v is not None and math.isfinite(v)


def claim5(properties: dict, asp_model: str | None, blr_model: str | None, dft: dict, gap: dict,
           comparable: float) -> dict:
    """Claim 5.  Mean absolute % error against DFT over the properties that DFT, GAP and our ASP
    and BLR models all have a value of the same kind for; reproduced when ASP's is at most
    ``comparable`` times BLR's and GAP's (about as accurate, or better)."""
    if asp_model not in properties or blr_model not in properties:
        return claim_row(5, NOT_RUN, "no Table III models standing for ASP (2500) and BLR")
    asp, blr = properties[asp_model]["values"], properties[blr_model]["values"]
    keys = [k for k in dft if all(_has(v, k) for v in (dft, gap, asp, blr))]
    if not keys:
        return claim_row(5, NOT_RUN, "no property shared by DFT, GAP and our models")
    e = {name: mean_abs_percent_error(v, dft, keys)
         for name, v in ((asp_model, asp), (blr_model, blr), ("GAP", gap))}
    ok = e[asp_model] <= comparable * min(e[blr_model], e["GAP"])
    return claim_row(5, REPRODUCED if ok else NOT_REPRODUCED,
                     f"mean absolute error vs DFT over {len(keys)} properties: " +
                     ", ".join(f"{k} {v:.2f} %" for k, v in e.items()))


def claim6(properties: dict, models: list, dft: dict) -> dict:
    """Claim 6.  Point-defect error of each of Figure 5's ASP models: mean |% error| against DFT
    over the four defects; reproduced when it strictly decreases with the number of functions.
    A model missing a defect (collapsed relaxation) is left out and named."""
    points, missing = [], []
    for m in models:
        values = properties[m]["values"]
        if all(_has(values, k) for k in DEFECTS):
            points.append((properties[m]["active"],
                           mean_abs_percent_error(values, dft, DEFECTS)))
        else:
            missing.append(m)
    points.sort()
    text = ", ".join(f"{n}: {e:.2f} %" for n, e in points) or "none"
    if missing:
        text += f"; without all four defects: {', '.join(missing)}"
    if len(points) < 2:
        return claim_row(6, NOT_RUN, f"ASP models with point defects: {text}")
    errors = [e for _, e in points]
    ok = all(b < a for a, b in zip(errors, errors[1:]))
    return claim_row(6, REPRODUCED if ok else NOT_REPRODUCED,
                     f"ASP point-defect mean absolute error vs DFT by functions: {text}")


def claim7(curves: pd.DataFrame | None, dataset: str | None, largest_omp: dict | None,
           cace_small: dict, comparable: float) -> dict:
    """Claim 7.  On Figure 6's common size range: median MAE ratio ASP/OMP within
    [1/comparable, comparable] and both sparse medians to BLR below 1/comparable (well below);
    and Table IV's largest OMP model below CACE (smaller) in energy MAE with fewer than half its
    parameters.  Reproduced when all three hold."""
    g = None if curves is None or dataset is None else log_mae_on_grid(
        curves, dataset, ["asp", "omp", "blr"])
    if g is None or largest_omp is None:
        return claim_row(7, NOT_RUN, "no Figure 6 curves of ASP, OMP, BLR or Table IV model")
    r_ao = _median_ratio(g, "asp", "omp")
    r_blr = {s: _median_ratio(g, s, "blr") for s in ("asp", "omp")}
    checks = [1 / comparable <= r_ao <= comparable,
              all(v < 1 / comparable for v in r_blr.values()),
              largest_omp["energy_mae_meV_per_atom"] < cace_small["energy_mae_meV_per_atom"]
              and 2 * largest_omp["parameters"] < cace_small["parameters"]]
    return claim_row(7, REPRODUCED if all(checks) else NOT_REPRODUCED,
                     f"{dataset}, sizes {g.index.min()}-{g.index.max()}: median MAE ratio "
                     f"ASP/OMP {r_ao:.3f}, ASP/BLR {r_blr['asp']:.3f}, OMP/BLR "
                     f"{r_blr['omp']:.3f}; {largest_omp['model']}: "
                     f"{largest_omp['energy_mae_meV_per_atom']:.3g} meV/atom with "
                     f"{largest_omp['parameters']} parameters, CACE (smaller) "
                     f"{cace_small['energy_mae_meV_per_atom']} with {cace_small['parameters']}")


def claim8(runs: pd.DataFrame | None) -> dict:
    """Claim 8.  Every MD run of an ASP or OMP model (md_stability rows, one per run) stable, at
    300 K and at 500 K, for MD_LENGTH_PS.  Reproduced when all are; not reproduced when any is
    unstable; not run when a temperature is missing or the runs are shorter."""
    if runs is None or runs.empty:
        return claim_row(8, NOT_RUN, "no MD runs in this run")
    runs = runs[runs["start"].astype(str) != "all"]
    sparse = runs[runs["model"].str.rpartition("-")[0].isin(["asp", "omp"])]
    if sparse.empty:
        return claim_row(8, NOT_RUN, "no MD runs of ASP or OMP models")
    stable = sparse["stable"].astype(str).str.lower() == "true"
    temps = sorted({int(float(t)) for t in sparse["temperature_K"]})
    length = float(sparse.loc[stable, "time_ps"].astype(float).min()) if stable.any() else 0.0
    text = (f"{int(stable.sum())}/{len(sparse)} runs of {sparse['model'].nunique()} models "
            f"stable, at {', '.join(f'{t} K' for t in temps)}, shortest stable run "
            f"{length:g} ps")
    if not stable.all():
        bad = sparse[~stable]
        return claim_row(8, NOT_REPRODUCED, text + "; unstable: " + ", ".join(
            f"{r.dataset}/{r.model} {r.temperature_K} K after {r.time_ps} ps" for r in
            bad.itertuples()))
    if not {300, 500} <= set(temps) or length < MD_LENGTH_PS:
        return claim_row(8, NOT_RUN, text + f" (the claim needs {MD_LENGTH_PS:g} ps at 300 K "
                         "and 500 K)")
    return claim_row(8, REPRODUCED, text)


# ---------------------------------------------------------------------- the report
def report_frame(number_rows: list[dict], claim_rows: list[dict]) -> pd.DataFrame:
    """All rows, numbers first, in the report's columns."""
    frame = pd.DataFrame(number_rows + claim_rows).reindex(columns=COLUMNS)
    return frame.astype({"n_seeds": "Int64"})


def _ours_text(r) -> str:
    if r["verdict"] == NOT_RUN or pd.isna(r["ours"]):
        return ""
    if r["n_seeds"] > 1:
        return (f"{r['ours']:.4g} ± {r['ours_sd']:.2g} ({r['ours_min']:.4g}–"
                f"{r['ours_max']:.4g}, {int(r['n_seeds'])} seeds)")
    return f"{r['ours']:.4g}"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|")


def markdown(frame: pd.DataFrame, study: str, title: str, only: list | None = None) -> str:
    """The report in Markdown: banner (runs other than the full study), verdict counts, the
    published numbers, then the claims."""
    numbers = frame[~frame["section"].str.startswith("Claim")]
    claims = frame[frame["section"].str.startswith("Claim")]
    lines = [f"# {title}", ""]
    warning = banner(study, only)
    if warning:
        lines += [warning, ""]
    counts = numbers["verdict"].value_counts()
    lines += ["Published numbers: " + ", ".join(f"{counts.get(v, 0)} {v}"
                                                for v in (AGREES, DIFFERS, NOT_RUN)) +
              " (agrees: |ours/published - 1| within the tolerance). Claims: " +
              ", ".join(f"{(claims['verdict'] == v).sum()} {v}"
                        for v in (REPRODUCED, NOT_REPRODUCED, NOT_RUN)) + ".", ""]
    table = pd.DataFrame({
        "table": numbers["section"], "number": numbers["item"],
        "published": numbers["published"].map(lambda x: f"{x:.4g}"),
        "ours": [_ours_text(r) for _, r in numbers.iterrows()],
        "ratio": numbers["ratio"].map(lambda x: "" if pd.isna(x) else f"{x:.2f}"),
        "tolerance": numbers["tolerance"].map(lambda x: f"{x:.0%}"),
        "verdict": numbers["verdict"], "note": numbers["note"].map(_cell)})
    lines += ["## Published numbers", "", table.to_markdown(index=False), "",
              "## Claims", "",
              pd.DataFrame({"claim": claims["section"], "statement": claims["item"],
                            "verdict": claims["verdict"],
                            "evidence": claims["evidence"].map(_cell)}).to_markdown(index=False),
              ""]
    return "\n".join(lines)


def build(specs: dict, settings: dict, literature: dict, table2: pd.DataFrame | None = None,
          errors: dict | None = None, properties: dict | None = None,
          curves: dict | None = None, md: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every row of the report from a run's outputs.

    ``specs``: the config's ``figures``; ``settings``: its ``reproduction`` (``tolerance``,
    ``comparable``); ``literature``: literature_values.yaml (``this_study``, ``si_properties``,
    ``water_other_models``); ``table2``: our Table II (``table2_cells``); ``errors``:
    "<dataset>/<model id>" -> test error table (index config_type, row "all"; columns active,
    E_MAE_meV_per_atom, F_MAE_eV_per_A) of the Table II and IV models; ``properties``: model id
    -> silicon property record of the Table III and Figure 5 models; ``curves``: figure name
    (fig1, fig4, fig6) -> its error curves (dataset, solver, checkpoint, size,
    test_energy_mae); ``md``: the MD stability table (one row per run, and summary rows with
    start "all")."""
    from .solvers import SOLVERS

    if "this_study" not in literature:
        raise ValueError("literature values have no block this_study (the study's published "
                         "Tables II-IV)")
    errors, properties, curves = errors or {}, properties or {}, curves or {}
    published, tol = literature["this_study"], settings["tolerance"]

    # Table II
    spec2 = specs.get("table2", {})
    sizes = {"small": spec2.get("small"), "large": spec2.get("large")}
    cells = (table2_cells(table2) if table2 is not None else
             pd.DataFrame(columns=["element", "solver", "model", "quantity", "value"]))
    active = {}
    for key, table in errors.items():
        dataset, model = key.split("/")
        solver, _, n = model.rpartition("-")
        for label, size in sizes.items():
            if dataset in spec2.get("datasets", []) and n == str(size):
                active[(dataset.split("_")[-1], SOLVERS[solver].label, label)] = int(
                    table["active"].iloc[0])
    rows = table2_rows(published["table2"], cells, sizes, active,
                       {"energy": tol["table2_energy"], "force": tol["table2_force"]})

    # Table III
    models3 = specs.get("table3", {}).get("models", [])
    rows += table3_rows(published["table3"], properties, models3, tol["table3"],
                        specs.get("table3", {}).get("dataset", ""))

    # Table IV
    spec4 = specs.get("table4")
    ours4 = []
    for n in (spec4 or {}).get("sizes", []):
        table = errors.get(f"{spec4['dataset']}/{spec4['solver']}-{n}")
        if table is not None:
            ours4.append({"model": f"{spec4['solver']}-{n}",
                          "energy_mae_meV_per_atom": table.loc["all", "E_MAE_meV_per_atom"],
                          "force_mae_meV_per_A": 1e3 * table.loc["all", "F_MAE_eV_per_A"],
                          "parameters": int(table["active"].iloc[0])})
    rows += table4_rows(published["table4"], ours4,
                        {"energy": tol["table4_energy"], "force": tol["table4_force"]},
                        (spec4 or {}).get("dataset", ""))

    # claims
    comparable = settings["comparable"]
    si = literature["si_properties"]
    stand_in = _stand_ins(list(published["table3"]["rows"]), models3)
    fig5 = specs.get("fig5", {})
    asp5 = [f"asp-{n}" for n in fig5.get("sizes", []) if "asp" in fig5.get("solvers", [])]
    cace = next(m for m in literature["water_other_models"] if m["model"] == "CACE (smaller)")

    def datasets_of(name):
        spec = specs.get(name, {})
        return list(spec.get("datasets", [spec["dataset"]] if "dataset" in spec else []))

    claims = [
        claim1(cells if table2 is not None else None),
        claim2(curves.get("fig1"), datasets_of("fig1")),
        claim3(curves.get("fig1"), datasets_of("fig1")),
        claim4(curves.get("fig4"), (datasets_of("fig4") or [None])[0]),
        claim5(properties, stand_in.get("ASP (2500)"), stand_in.get("BLR"), si["DFT"], si["GAP"],
               comparable),
        claim6(properties, [m for m in asp5 if m in properties], si["DFT"]),
        claim7(curves.get("fig6"), (datasets_of("fig6") or [None])[0],
               ours4[-1] if ours4 else None, cace, comparable),
        claim8(md),
    ]
    return report_frame(rows, claims)
