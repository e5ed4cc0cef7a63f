"""The sparseace command: fit a sparse ACE potential to your own extxyz data, report its
errors, print basis sizes, export a model to LAMMPS and run an MD stability check.

    sparseace fit train.xyz --elements Si --eref Si=-158.54 -o Si.json
    sparseace errors Si.json test.xyz
    sparseace basis --elements H O --order 4 --totaldegree 14
    sparseace export-lammps Si.json
    sparseace md Si.json start.xyz --temperature 300 --time-ps 10

"sparseace COMMAND --help" explains every option.  A mistake in the input ends the command
with one message naming the file, frame and option (exit status 2 for the command line, 1 for
the data); progress goes to stderr, tables to stdout.
"""

from __future__ import annotations

import argparse
import logging
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .io import DataError
from .outputs import OutputError, same_file

SOLVER_DEFAULTS = {  # the study's solver settings (config/paper.yaml)
    "asp": {"debias": "tsvd"},
    "omp": {"debias": "none"},
    "rrqr": {"rtol": 1e-15},
    "blr": {"variance_floor": 1e-4},
    "ard": {"threshold_lambdas": [1.0, 3.0, 10.0, 30.0, 100.0, 1e3, 1e4, 1e5], "max_iter": 500,
            "tol": 0.1},
}
DEFAULT_MAX_ACTIVE = 500
PAIR_EXAMPLES = {"--eref": "Si=-158.54", "--weights": "E=30,F=1,V=1", "--r0": "Al=2.8"}
RULE_HELP = ("'final' (the last model), 'final N' (the model of N active functions: for asp/omp "
             "where the path first reaches N, for rrqr/blr the level-ordered basis of N, for ard "
             "the threshold whose model is largest with at most N), 'bysize N' (lowest validation "
             "error with at most N active), 'byerror Q' (smallest model within Q times the lowest "
             "validation error)")


class UsageError(Exception):
    """A mistake on the command line; the message names the option."""


# ---------------------------------------------------------------------- option values
def _pairs(text: str, option: str) -> dict[str, float]:
    """{name: number} from 'A=1,B=2' (or several such words joined by spaces)."""
    out = {}
    for item in re.split(r"[,\s]+", text.strip()) if text.strip() else []:
        name, sep, value = item.partition("=")
        try:
            if not (sep and name):
                raise ValueError
            number = float(value)
        except ValueError:
            raise UsageError(f"option {option}: {item!r} is not NAME=NUMBER "
                             f"(e.g. {option} {PAIR_EXAMPLES[option]})") from None
        if not np.isfinite(number):
            raise UsageError(f"option {option}: {item!r}: the value must be a finite number")
        if name in out:
            raise UsageError(f"option {option}: {name} given twice ({name}={out[name]:g} and "
                             f"{item})")
        out[name] = number
    return out


def parse_weights(text: str | None, path: str | None) -> dict | None:
    """Loss weights {config_type: {E, F, V}} from ``--weights E=30,F=1,V=1`` (every
    config_type) or a YAML file mapping config_type (and "default") to {E, F, V}."""
    from .design import loss_weights

    if path is None:
        if text is None:
            return None
        table, where = {"default": _pairs(text, "--weights")}, "option --weights"
    else:
        where = f"{path} (option --weights-file)"
        try:
            table = yaml.safe_load(Path(path).read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise UsageError(f"{where}: cannot read ({err})") from None
        if not isinstance(table, dict):
            raise UsageError(f"{where}: expected a mapping config_type -> {{E, F, V}}")
    for config_type, w in table.items():
        bad = (not isinstance(w, dict) or set(w) - {"E", "F", "V"}
               or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0
                      or not np.isfinite(v) for v in w.values()))
        if bad:
            raise UsageError(f"{where}: weights of {config_type!r} must be finite non-negative "
                             f"numbers named E, F, V, got {w!r}")
        if not any(loss_weights(config_type, table)):
            raise UsageError(f"{where}: weights of {config_type!r} are all zero: those "
                             "configurations would not be fitted (give E, F or V a positive "
                             "weight)")
    return {ct: {k: float(v) for k, v in w.items()} for ct, w in table.items()}


def warn_unused_weights(weights: dict | None, frames, where: str) -> None:
    """Warn when ``weights`` names config_types (besides "default") that no frame has."""
    from .io import config_type

    present = sorted({config_type(a) for a in frames})
    unused = sorted(set(weights or {}) - {"default"} - set(present))
    if unused:
        logging.getLogger(__name__).warning(
            "warning: %s: config_type(s) %s are not in the training or validation data (its "
            "config_types: %s): their weights are unused", where, unused, present)


def parse_eref(items, elements) -> dict[str, float]:
    """Isolated-atom energies from ``--eref Si=-158.54 O=-93.8`` (0 for elements not given)."""
    given = _pairs(" ".join(items or []), "--eref")
    unknown = sorted(set(given) - set(elements))
    if unknown:
        raise UsageError(f"option --eref: element(s) {unknown} not in --elements {list(elements)}")
    return {e: given.get(e, 0.0) for e in elements}


def parse_rule(rule: str) -> tuple[str, int | None]:
    """Check a selection rule's syntax; returns (rule, N), N the model size it names if any."""
    kind, _, arg = rule.strip().partition(" ")
    arg = arg.strip()
    try:
        if kind == "final" and not arg:
            return "final", None
        if kind in ("final", "bysize") and int(arg) >= 1:
            return f"{kind} {int(arg)}", int(arg)
        if kind == "byerror" and float(arg) >= 1:
            return f"byerror {float(arg):g}", None
    except ValueError:
        pass
    raise UsageError(f"option --select {rule!r} is not a selection rule: {RULE_HELP}")


def model_size_settings(args, basis) -> tuple[int, str, int | None]:
    """(max_active, selection rule, model size it names) of a fit, checked against the basis
    and, for sparse paths, against --max-active."""
    from .solvers import SOLVERS

    max_active = args.max_active or min(DEFAULT_MAX_ACTIVE, len(basis))
    if max_active > len(basis):
        raise UsageError(f"option --max-active {max_active}: the basis has only {len(basis)} "
                         "functions (raise --totaldegree or --order, or lower --max-active)")
    rule, size = parse_rule(args.select or f"final {max_active}")
    path = SOLVERS[args.solver].kind == "path"
    limit, what = (max_active, f"--max-active {max_active}, where the {args.solver} path "
                   "ends") if path else (len(basis), f"the basis's {len(basis)} functions")
    if rule.startswith("final ") and size > limit:
        raise UsageError(f"option --select {rule!r} asks for a model of {size} functions, "
                         f"more than {what}")
    return max_active, rule, size


def parse_solver_options(solver: str, items) -> dict:
    """The study's options of ``solver`` updated by ``--solver-option KEY=VALUE`` (YAML values),
    checked against the solver's options in the registry."""
    from .solvers import check_options

    options = dict(SOLVER_DEFAULTS.get(solver, {}))
    for item in items or []:
        key, sep, value = item.partition("=")
        if not (sep and key):
            raise UsageError(f"option --solver-option: {item!r} is not KEY=VALUE "
                             "(e.g. --solver-option debias=none)")
        try:
            options[key] = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise UsageError(f"option --solver-option {item!r}: bad value ({err})") from None
        if isinstance(options[key], str):  # YAML reads 1e-15 (no dot) as a string
            try:
                options[key] = float(options[key])
            except ValueError:
                pass
    try:
        return check_options(solver, options)
    except ValueError as err:
        raise UsageError(f"option --solver-option: {err}") from None


# ---------------------------------------------------------------------- data
def read_frames(path, args, elements, elements_from: str = "option --elements") -> list:
    """Canonical frames of an extxyz file with the key names of the options; errors name the
    option to change and, for a missing key, the keys the frame has.  Structures no evaluation
    accepts (a periodic cell of zero volume, coincident atoms) are refused here, before any
    work."""
    from .basis.neighbours import COINCIDENT_DISTANCE, closest_pair_within
    from .io import read_extxyz

    try:
        frames = read_extxyz(path, args.energy_key, args.forces_key, args.virial_key or None,
                           args.config_type_key, elements=elements)
    except DataError as err:
        message = str(err)
        hints = {"energy_key": "--energy-key", "forces_key": "--forces-key",
                 "virial_key": "--virial-key"}
        for attr, flag in hints.items():
            if f"field {getattr(args, attr)} " in message + " ":
                hint = f" (option {flag} {getattr(args, attr)}"
                if message.endswith("missing"):
                    hint += f"; this frame has {_frame_keys(path, message)}"
                raise DataError(message + hint + ")") from None
        if "field symbols" in message:
            raise DataError(f"{message} ({elements_from})") from None
        raise
    for index, atoms in enumerate(frames):
        try:
            closest_pair_within(atoms, COINCIDENT_DISTANCE)
        except ValueError as err:
            raise DataError(f"{path}, frame {index}: {err}") from None
    return frames


def _frame_keys(path, message: str) -> str:
    """The labels of the frame a message names, as 'info keys ...; per-atom keys ...'."""
    import ase.io

    match = re.search(r", frame (\d+):", message)
    try:
        atoms = ase.io.read(path, index=int(match.group(1)) if match else 0, format="extxyz")
    except Exception:  # the frame was read once already; this is only a hint
        return "keys that could not be listed"
    results = atoms.calc.results if atoms.calc is not None else {}
    per_atom = sorted(set(atoms.arrays) - {"numbers", "positions"}
                      | {k for k, v in results.items() if np.ndim(v) == 2})
    per_config = sorted(set(atoms.info) | {k for k, v in results.items() if np.ndim(v) < 2})
    return f"per-configuration keys {per_config} and per-atom keys {per_atom}"


def validation_split(frames, fraction: float, seed: int):
    """(train, val) frames: a seeded fraction of the training file for validation."""
    from .split import split_indices

    if not 0 < fraction < 1:
        raise UsageError(f"option --val-fraction {fraction}: must lie strictly between 0 and 1")
    if len(frames) < 2:
        raise UsageError("the training file has fewer than 2 configurations: give --val VAL.xyz")
    parts = split_indices("official_test", [a.info["config_type"] for a in frames],
                          len(frames), seed, fraction, 0.0)
    return [frames[i] for i in parts["train"]], [frames[i] for i in parts["val"]], parts


def file_record(path, frames) -> dict:
    from .provenance import file_sha256

    return {"path": str(Path(path).resolve()), "sha256": file_sha256(path),
            "configs": len(frames)}


# ---------------------------------------------------------------------- error tables
def error_summary(tables: dict) -> pd.DataFrame:
    """{split: ``metrics.model_errors`` table} -> one table in meV/atom (E, V) and meV/Å (F);
    a split of one config_type has only its "all" row."""
    rows = []
    for split, table in tables.items():
        if len(table) == 2:
            table = table.iloc[1:]
        for config_type, r in table.iterrows():
            rows.append({"split": split, "config_type": config_type, "configs": int(r["configs"]),
                         "E_MAE_meV/atom": r["E_MAE_meV_per_atom"],
                         "E_RMSE_meV/atom": r["E_RMSE_meV_per_atom"],
                         "F_MAE_meV/A": 1e3 * r["F_MAE_eV_per_A"],
                         "F_RMSE_meV/A": 1e3 * r["F_RMSE_eV_per_A"],
                         "V_MAE_meV/atom": r["V_MAE_meV_per_atom"],
                         "V_RMSE_meV/atom": r["V_RMSE_meV_per_atom"]})
    return pd.DataFrame(rows)


def model_error_tables(model, sets: dict, quiet: bool) -> pd.DataFrame:
    """Error summary of ``model`` on {split: frames}, with a progress bar per split."""
    from tqdm import tqdm

    from .metrics import model_errors

    return error_summary({split: model_errors(model, tqdm(frames, desc=f"errors {split}",
                                                           unit="config", disable=quiet,
                                                           leave=False), split)
                          for split, frames in sets.items()})


def print_table(table: pd.DataFrame, title: str) -> None:
    print(title)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}", na_rep="-"))


# ---------------------------------------------------------------------- commands
#: the option of each basis parameter an error message may name (first match wins)
BASIS_OPTIONS = {"elements": "--elements", "totaldegree": "--totaldegree", "rcut": "--rcut",
                 "r0": "--r0 EL=Å", "order": "--order"}


def _basis(args):
    """The basis of the options, refused before it is built when it has more functions than
    --max-functions or (fit) needs more memory than --max-memory-gb."""
    from .basis import ACEBasis
    from .fitting import fit_matrices, fit_size

    options = {}
    if args.rcut is not None:
        options["rcut"] = args.rcut
    if args.r0:
        options["r0"] = _pairs(" ".join(args.r0), "--r0")
    degree = args.totaldegree[0] if len(args.totaldegree) == 1 else args.totaldegree
    fit = hasattr(args, "max_memory_gb")
    try:
        fit_size(args.elements, args.order, degree, options, fit_matrices(args.jobs) if fit else 0,
                 args.max_functions, args.max_memory_gb if fit else np.inf,
                 {"max_functions": "option --max-functions",
                  "max_memory_gb": "option --max-memory-gb"})
        return ACEBasis(args.elements, args.order, degree, **options)
    except ValueError as err:
        message = str(err)
        if message.startswith("option --"):
            raise UsageError(message) from None
        named = [o for word, o in BASIS_OPTIONS.items() if re.search(rf"\b{word}\b", message)]
        raise UsageError(f"{message} (option {(named or ['--elements/--order/--totaldegree'])[0]})"
                         ) from None


def cmd_basis(args) -> None:
    start = time.perf_counter()
    basis = _basis(args)
    elapsed = time.perf_counter() - start
    table = basis.size_table().pivot_table(index=["kind", "order"], columns="centre",
                                           values="functions", aggfunc="sum", fill_value=0)
    table["all centres"] = table.sum(axis=1)
    print(f"ACE basis: elements {basis.elements}, order {basis.order}, "
          f"total degree {basis.totaldegree}, cutoff {basis.cutoff:.3f} Å")
    print(table.to_string())
    print(f"total: {len(basis)} functions (built in {elapsed:.1f} s)")


def output_paths(model_path) -> dict[str, Path]:
    """The files ``sparseace fit -o MODEL.json`` writes next to the model."""
    model_path = Path(model_path)
    stem = model_path.with_suffix("")
    return {"model": model_path, "checkpoints": Path(f"{stem}.checkpoints.npz"),
            "curve": Path(f"{stem}.curve.png"), "curve_data": Path(f"{stem}.curve.csv"),
            "errors": Path(f"{stem}.errors.csv")}


def learning_curve(checkpoints, selected: int, solver: str, title: str, paths) -> None:
    """Validation RMSE against active functions (PNG and CSV), the selected model marked."""
    from . import plots
    from .provenance import atomic_path

    curve = pd.DataFrame({"dataset": "validation", "solver": solver,
                          "size": checkpoints.sizes, "label": checkpoints.labels,
                          "val_rmse": checkpoints.val_rmse})
    with atomic_path(paths["curve_data"], ".csv") as tmp:
        curve.to_csv(tmp, index_label="checkpoint")
    fig = plots.error_curves(curve, ["validation"], [solver], title, y="val_rmse",
                             ylabel="validation RMSE of the weighted rows")
    ax = fig.axes[0]
    ax.plot(checkpoints.sizes[selected], checkpoints.val_rmse[selected], "k*", ms=12,
            label=f"selected ({checkpoints.sizes[selected]} active)")
    ax.legend(fontsize=8)
    plots.save_figure(fig, [paths["curve"]])


def cmd_fit(args) -> None:
    from .outputs import OutputSet, check_outputs

    paths = output_paths(args.output)
    check_outputs([("-o", args.output), *(("-o", p) for p in list(paths.values())[1:])],
                  [("argument TRAIN.xyz", args.train), ("option --val", args.val),
                   ("option --test", args.test), ("option --weights-file", args.weights_file)])
    with OutputSet(paths, "-o") as staged:
        table, title = _fit(args, staged)
    print_table(table, f"{paths['model']}: {title}")
    print("wrote " + ", ".join(str(p) for p in paths.values()))


def _fit(args, paths) -> tuple[pd.DataFrame, str]:
    """The work of ``cmd_fit``, writing the files of ``output_paths`` at ``paths``; returns the
    error table and the title of the model's line."""
    from tqdm import tqdm

    from .fitting import reduce_design, select_model, solve
    from .solvers import FitSpec, PathTooShortError

    quiet = args.quiet
    weights = parse_weights(args.weights, args.weights_file)
    eref = parse_eref(args.eref, args.elements)
    options = parse_solver_options(args.solver, args.solver_option)
    basis = _basis(args)
    max_active, rule, size = model_size_settings(args, basis)

    if args.val is not None and same_file(args.train, args.val):
        raise UsageError(f"option --val {args.val}: the same file as TRAIN.xyz {args.train}, so "
                         "validation errors would be training errors (give other data, or omit "
                         "--val to hold out --val-fraction of TRAIN)")
    train = read_frames(args.train, args, args.elements)
    files = {"train": file_record(args.train, train)}
    if args.val is not None:
        val = read_frames(args.val, args, args.elements)
        files["val"] = file_record(args.val, val)
        split = {"val": "file"}
    else:
        train, val, parts = validation_split(train, args.val_fraction, args.seed)
        split = {"val": "fraction", "val_fraction": args.val_fraction, "seed": args.seed,
                 "train_indices": parts["train"].tolist(), "val_indices": parts["val"].tolist()}
    test = read_frames(args.test, args, args.elements) if args.test else None
    if test is not None:
        files["test"] = file_record(args.test, test)
    warn_unused_weights(weights, train + val, f"{args.weights_file} (option --weights-file)")
    logging.getLogger(__name__).info(
        "%d training, %d validation%s configurations; %r", len(train), len(val),
        f", {len(test)} test" if test else "", basis)

    factors = {}
    for name, frames in (("train", train), ("val", val)):
        with tqdm(total=len(frames), desc=f"design rows {name}", unit="config",
                  disable=quiet) as bar:
            factors[name] = reduce_design(
                basis, frames, eref, weights, args.chunk_configs, args.jobs,
                source=str(args.val if name == "val" and args.val else args.train),
                on_progress=lambda done, bar=bar: bar.update(done - bar.n))
    fit = FitSpec(sizes=(size,) if size else (), max_active=max_active,
                  checkpoints=args.checkpoints, dense_sizes=args.dense_sizes,
                  level_order=basis.level_order())
    with tqdm(total=1, desc=f"solve ({args.solver})", disable=quiet) as bar:
        try:
            checkpoints = solve(basis, factors["train"], factors["val"], args.prior,
                                args.solver, fit, options)
        except PathTooShortError as err:
            raise UsageError(f"option --select {rule!r}: {err}") from None
        bar.update(1)
    checkpoints.meta.update(data_files=files, split=split)
    checkpoints.save(paths["checkpoints"])
    try:
        model = select_model(checkpoints, rule, basis, eref, {
            "data_files": files, "split": split, "weights": weights,
            "keys": {"energy": args.energy_key, "forces": args.forces_key,
                     "virial": args.virial_key, "config_type": args.config_type_key},
            "fit": {"max_active": max_active, "checkpoints": args.checkpoints,
                    "dense_sizes": args.dense_sizes, "sizes": list(fit.sizes)},
            "command": ["sparseace", *sys.argv[1:]]})
    except ValueError as err:
        raise UsageError(f"option --select {rule!r}: {err}; the {len(checkpoints)} checkpoints "
                         f"have {sorted(set(checkpoints.sizes.tolist()))} active functions "
                         "(no file written)") from None
    model.save(paths["model"])
    learning_curve(checkpoints, model.metadata["checkpoint"], args.solver,
                   f"sparseace fit {args.train}: {args.solver} ({rule})", paths)
    sets = {"train": train, "val": val, **({"test": test} if test else {})}
    table = model_error_tables(model, sets, quiet)
    with _atomic_csv(paths["errors"]) as tmp:
        table.to_csv(tmp, index=False)
    return table, f"{len(model)} active functions of {len(basis)} ({args.solver}, {rule})"


def _atomic_csv(path):
    from .provenance import atomic_path

    return atomic_path(path, ".csv")


def _load_model(path):
    from .model import load_model

    try:
        return load_model(path)
    except OSError as err:
        raise DataError(f"{path}: cannot read the model file ({err.strerror})") from None


def cmd_errors(args) -> None:
    from .outputs import check_outputs

    check_outputs([("-o", args.output)], [("argument MODEL.json", args.model),
                                          *(("argument DATA.xyz", p) for p in args.data)])
    model = _load_model(args.model)
    sets = {str(p): read_frames(p, args, model.species, f"the elements of {args.model}")
            for p in args.data}
    table = model_error_tables(model, sets, args.quiet)
    if args.output:
        with _atomic_csv(args.output) as tmp:
            table.to_csv(tmp, index=False)
    print_table(table, f"{args.model}: {len(model)} active functions, elements "
                       f"{list(model.species)}")


def cmd_export_lammps(args) -> None:
    from ._lammps import lammps_quote
    from .lammps_plugin import build_plugin, export_model
    from .outputs import check_outputs

    out = args.output or Path(args.model).with_suffix(".sace")
    check_outputs([("-o", out)], [("argument MODEL.json", args.model)])
    model = _load_model(args.model)
    out = Path(out)
    export_model(model, out)
    print(f"# wrote {out} ({len(model)} active functions, elements {' '.join(model.species)})")
    plugin = build_plugin()
    print("# LAMMPS input (units metal; pair_coeff: one element per atom type, in type order):")
    print(f"plugin load {lammps_quote(plugin)}")
    print("pair_style sparseace")
    print(f"pair_coeff * * {lammps_quote(out.resolve())} {' '.join(model.species)}")
    print(f"# in your own LAMMPS: cmake -S "
          f"{shlex.quote(str(Path(__file__).parent / 'lammps_plugin'))} -B build "
          "-DCMAKE_PREFIX_PATH=<its prefix> && cmake --build build; then plugin load "
          "build/sparseaceplugin.so (LAMMPS with the PLUGIN package), or run build/lmp_sparseace "
          "as lmp")


#: the command-line option of each MD setting (``sparseace.md.DEFAULTS``)
MD_OPTIONS = {"temperature": "--temperature", "length_ps": "--time-ps",
              "timestep_fs": "--timestep-fs", "chunk_steps": "--chunk-steps",
              "damping_fs": "--damping-fs", "min_distance": "--min-distance",
              "max_temperature_factor": "--max-temperature-factor",
              "thermo_every": "--thermo-every", "seed": "--seed", "engine": "--engine"}


def cmd_md(args) -> None:
    import ase.io

    from .md import check_settings, run_md
    from .outputs import check_outputs
    from .provenance import write_json_atomic

    settings = {key: getattr(args, option[2:].replace("-", "_"))
                for key, option in MD_OPTIONS.items()}
    try:
        check_settings(settings, {k: f"option {o}" for k, o in MD_OPTIONS.items()})
    except ValueError as err:
        raise UsageError(str(err)) from None
    check_outputs([("--trajectory", args.trajectory), ("--thermo", args.thermo),
                   ("-o", args.output)],
                  [("argument MODEL.json", args.model), ("argument START.xyz", args.start)])
    model = _load_model(args.model)
    where = f"{args.start}, frame {args.frame}"
    try:
        atoms = ase.io.read(args.start, index=args.frame)
    except (OSError, IndexError, ValueError, StopIteration) as err:
        raise DataError(f"{where} (option --frame): cannot read ({err})") from None
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(model.species))
    if unknown:
        raise DataError(f"{where}: field symbols: element(s) {unknown} not in the model's "
                        f"elements {list(model.species)}")
    if not (all(atoms.pbc) and atoms.cell.rank == 3):
        raise DataError(f"{where}: MD needs a periodic cell (pbc T T T and three lattice "
                        "vectors)")
    try:
        verdict = run_md(model, atoms, settings, trajectory=args.trajectory)
    except ValueError as err:  # the start structure refused before LAMMPS starts
        raise DataError(f"{where}: {err}") from None
    if args.thermo:
        with _atomic_csv(args.thermo) as tmp:
            pd.DataFrame(verdict.thermo).to_csv(tmp, index=False)
    result = {"model": str(args.model), "start": where, "atoms": len(atoms),
              "stable": verdict.stable, "time_ps": verdict.time_ps, "steps": verdict.steps,
              "reason": verdict.reason, "settings": settings}
    if args.output:
        write_json_atomic(args.output, result)
    state = "stable" if verdict.stable else f"UNSTABLE ({verdict.reason})"
    print(f"{state} after {verdict.time_ps:g} ps ({verdict.steps} steps, {len(atoms)} atoms, "
          f"{settings['temperature']:g} K)")


# ---------------------------------------------------------------------- parser
def positive_integer(text: str) -> int:
    value = int(text)  # argparse reports a ValueError as "invalid positive_integer value"
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def non_negative_number(text: str) -> float:
    value = float(text)  # argparse reports a ValueError as "invalid non_negative_number value"
    if not (np.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text} is not a finite non-negative number")
    return value


class _Formatter(argparse.HelpFormatter):
    """Help that states each option's default, unless there is none or the help gives it."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (default is not None and default is not False and default != argparse.SUPPRESS
                and "default" not in text and action.option_strings):
            shown = " ".join(map(str, default)) if isinstance(default, list) else default
            text += f" (default: {shown})"
        return text


def _data_keys(parser) -> None:
    g = parser.add_argument_group("keys of the extxyz files")
    g.add_argument("--energy-key", default="energy", metavar="KEY",
                   help="per-configuration total energy (eV)")
    g.add_argument("--forces-key", default="forces", metavar="KEY", help="per-atom forces (eV/Å)")
    g.add_argument("--virial-key", default="virial", metavar="KEY",
                   help="per-configuration virial, 9 numbers (eV; -stress * volume); "
                        "with the default, a configuration without it uses the stress ASE "
                        "writes (eV/Å^3), or else has no virial rows; '' for none")
    g.add_argument("--config-type-key", default="config_type", metavar="KEY",
                   help="per-configuration group name: weights and error tables per group")


def _basis_options(parser, required: bool) -> None:
    from .fitting import MAX_FUNCTIONS

    g = parser.add_argument_group("basis")
    g.add_argument("--elements", nargs="+", required=True, metavar="EL",
                   help="chemical symbols of the basis, e.g. H O; data with other elements "
                        "is an error")
    g.add_argument("--order", type=int, metavar="N", required=required,
                   default=None if required else 3,
                   help="maximal correlation order (2-4; 3 = three-body)")
    g.add_argument("--totaldegree", type=float, nargs="+", required=required,
                   default=None if required else [16.0], metavar="D",
                   help="maximal total degree (level sum), or one value per order 1..order")
    g.add_argument("--rcut", type=float, default=None, metavar="A",
                   help="cutoff radius (Å); default 2.5 x the largest bond length r0")
    g.add_argument("--r0", nargs="+", metavar="EL=A", default=None,
                   help="bond lengths (Å) for elements without a built-in value, e.g. Al=2.8")
    g.add_argument("--max-functions", type=positive_integer, default=MAX_FUNCTIONS, metavar="N",
                   help="refuse a larger basis (counted before it is built)")


def _subparser(sub, name, func, help_, description=None):
    p = sub.add_parser(name, help=help_, description=description or help_,
                       formatter_class=_Formatter)
    p.set_defaults(func=func)
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bars and no log messages (warnings and results only)")
    return p


def build_parser() -> argparse.ArgumentParser:
    from .fitting import MAX_MEMORY_GB
    from .md import DEFAULTS as MD, ENGINES
    from .solvers import SOLVERS

    parser = argparse.ArgumentParser(prog="sparseace", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _subparser(sub, "fit", cmd_fit, "fit a sparse ACE potential to extxyz data",
                   "Fit a sparse linear ACE potential: basis -> weighted design rows reduced by "
                   "streaming QR -> a solver's path of models (checkpoints) validated on the "
                   "validation set -> the selected model.  Writes MODEL.json (with the data "
                   "files' sha256 and all settings), MODEL.checkpoints.npz (every checkpoint), "
                   "MODEL.curve.png/.csv (validation error against model size) and "
                   "MODEL.errors.csv, and prints the error table.")
    p.add_argument("train", metavar="TRAIN.xyz", help="training data (extxyz, may be .gz/.xz)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.json",
                   help="model file, not a directory; the other outputs are written next to "
                        "it; a previous set of outputs is replaced all together, and only when "
                        "the fit succeeds; the hidden file .MODEL.sparseace-lock marks a "
                        "running fit")
    g = p.add_argument_group("validation and test data")
    v = g.add_mutually_exclusive_group()
    v.add_argument("--val", metavar="VAL.xyz", help="validation data (default: split from TRAIN)")
    v.add_argument("--val-fraction", type=float, default=0.15, metavar="F",
                   help="fraction of TRAIN held out for validation when --val is not given")
    g.add_argument("--seed", type=int, default=1, metavar="N", help="seed of the validation split")
    g.add_argument("--test", metavar="TEST.xyz", help="test data: errors reported, not fitted")
    _data_keys(p)
    _basis_options(p, required=False)
    g = p.add_argument_group("loss")
    g.add_argument("--prior", type=non_negative_number, default=4.0, metavar="P",
                   help="exponent p of the smoothness prior P_kk = sum_t (1.5 l_t)^p + n_t^p")
    g.add_argument("--eref", nargs="+", metavar="EL=eV",
                   help="isolated-atom energies (eV) subtracted per atom, e.g. Si=-158.54 "
                        "(default 0 for every element)")
    w = g.add_mutually_exclusive_group()
    w.add_argument("--weights", metavar="E=30,F=1,V=1",
                   help="weights of energy (per sqrt(atoms)), force components and virial "
                        "(per sqrt(atoms)) rows for every config_type (default E=30,F=1,V=1)")
    w.add_argument("--weights-file", metavar="W.yaml",
                   help="YAML: config_type -> {E: .., F: .., V: ..}; 'default' applies to the "
                        "other config_types")
    g = p.add_argument_group("solver and selection")
    g.add_argument("--solver", choices=sorted(SOLVERS), default="asp",
                   help="asp: LASSO path (TSVD-debiased), omp: matching pursuit, rrqr/blr: "
                        "dense fits of level-ordered bases, ard: relevance determination")
    g.add_argument("--solver-option", action="append", metavar="KEY=VALUE",
                   help="override a solver option (YAML value), repeatable; defaults: " +
                        "; ".join(f"{k}: {v}" for k, v in SOLVER_DEFAULTS.items()))
    g.add_argument("--max-active", type=positive_integer, default=None, metavar="N",
                   help=f"model size (active functions): sparse paths end there and the "
                        f"default selection is the model of this size; default "
                        f"{DEFAULT_MAX_ACTIVE} or the basis size if smaller")
    g.add_argument("--checkpoints", type=positive_integer, default=100, metavar="N",
                   help="about how many models of a path are kept and validated")
    g.add_argument("--dense-sizes", type=positive_integer, default=20, metavar="N",
                   help="basis sizes of the rrqr/blr curves")
    g.add_argument("--select", default=None, metavar="RULE",
                   help=f"model selection: {RULE_HELP}; default 'final MAX_ACTIVE'")
    g = p.add_argument_group("resources")
    g.add_argument("--jobs", type=positive_integer, default=1, metavar="N",
                   help="processes computing design rows (memory: each holds two "
                        "(n+1)^2 arrays of 8 bytes, n = basis functions)")
    g.add_argument("--max-memory-gb", type=non_negative_number, default=MAX_MEMORY_GB,
                   metavar="GB", help="refuse a fit whose design factors need more memory at "
                   "once (8 (n+1)^2 bytes each, n = basis functions; 4 x --jobs + 3 of them)")
    g.add_argument("--chunk-configs", type=positive_integer, default=None, metavar="N",
                   help="configurations per unit of work of --jobs (default: split evenly over "
                        "the processes); memory does not depend on it")

    p = _subparser(sub, "errors", cmd_errors, "error table of a model on extxyz data",
                   "Energy (meV/atom), force (meV/Å) and virial (meV/atom) MAE and RMSE of a "
                   "model file per config_type and overall, for each data file.")
    p.add_argument("model", metavar="MODEL.json")
    p.add_argument("data", metavar="DATA.xyz", nargs="+")
    p.add_argument("-o", "--output", metavar="ERRORS.csv", help="also write the table as CSV")
    _data_keys(p)

    p = _subparser(sub, "basis", cmd_basis, "basis sizes per correlation order and species")
    _basis_options(p, required=True)

    p = _subparser(sub, "export-lammps", cmd_export_lammps,
                   "write a model for LAMMPS' pair_style sparseace",
                   "Write MODEL.sace for pair_style sparseace, build the LAMMPS plugin (g++, "
                   "cached under ~/.cache/sparseace) and print the LAMMPS input lines.")
    p.add_argument("model", metavar="MODEL.json")
    p.add_argument("-o", "--output", metavar="MODEL.sace", help="default: MODEL.sace")

    p = _subparser(sub, "md", cmd_md, "NVT stability run of a model in LAMMPS",
                   "Langevin NVT run in LAMMPS from a start structure; the run is checked every "
                   "--chunk-steps steps (finite energies and forces, no atoms closer than "
                   "--min-distance, temperature below --max-temperature-factor times the "
                   "target) and prints the verdict.")
    p.add_argument("model", metavar="MODEL.json")
    p.add_argument("start", metavar="START.xyz", help="periodic start structure (any ASE format)")
    p.add_argument("--frame", type=int, default=0, metavar="I",
                   help="frame of START.xyz (-1: the last)")
    p.add_argument("--temperature", type=float, default=MD["temperature"], metavar="K",
                   help="target temperature (K)")
    p.add_argument("--time-ps", type=float, default=MD["length_ps"], metavar="PS",
                   help="run length (ps)")
    p.add_argument("--timestep-fs", type=float, default=MD["timestep_fs"], metavar="FS",
                   help="time step (fs); 5 for metals and semiconductors, 1 with hydrogen")
    p.add_argument("--damping-fs", type=float, default=MD["damping_fs"], metavar="FS",
                   help="Langevin damping time (fs)")
    p.add_argument("--seed", type=int, default=MD["seed"],
                   help="seed of the initial velocities and the thermostat noise")
    p.add_argument("--chunk-steps", type=positive_integer, default=MD["chunk_steps"], metavar="N",
                   help="steps between stability checks")
    p.add_argument("--min-distance", type=float, default=MD["min_distance"], metavar="A",
                   help="atom pairs closer than this (Å) make the run unstable")
    p.add_argument("--max-temperature-factor", type=float, metavar="X",
                   default=MD["max_temperature_factor"],
                   help="unstable above X times --temperature")
    p.add_argument("--thermo-every", type=positive_integer, default=MD["thermo_every"],
                   metavar="N", help="steps between thermo rows")
    p.add_argument("--engine", choices=ENGINES, default=MD["engine"],
                   help="native: pair_style sparseace; external: fix external (slower)")
    p.add_argument("--trajectory", metavar="TRAJ.xyz", help="snapshot after every check")
    p.add_argument("--thermo", metavar="THERMO.csv", help="thermo rows (step, time, temp, pe, "
                                                          "etotal, press)")
    p.add_argument("-o", "--output", metavar="VERDICT.json", help="verdict and settings")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, format="%(message)s", level=logging.WARNING,
                        force=True)
    logging.getLogger("sparseace").setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        args.func(args)
    except (UsageError, OutputError) as err:
        parser.exit(2, f"sparseace {args.command}: error: {err}\n")
    except (DataError, ValueError, OSError, RuntimeError) as err:
        parser.exit(1, f"sparseace {args.command}: error: {err}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
