"""The ``sparseace`` command line: a fit on small EMT copper data and what it writes, the error
table, the LAMMPS export and a short MD run, each through a subprocess; the messages of bad
input; a fit from the command line against the same fit through the workflow."""

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write
from PIL import Image

from sparseace import cli
from sparseace.basis import ACEBasis
from sparseace.design import assemble
from sparseace.fitting import reduce_design
from sparseace.io import read_extxyz
from sparseace.lammps_plugin import build_plugin
from sparseace.model import load_model
from sparseace.solvers import Checkpoints

REPO = Path(__file__).resolve().parents[1]
FIT = ["--elements", "Cu", "--order", "2", "--totaldegree", "8", "--max-active", "20",
       "--checkpoints", "8"]


def sparseace(*args, cwd=None, env=None):
    """Run ``python -m sparseace ARGS`` (the ``sparseace`` entry point) and return the result;
    ``env``: variables to set."""
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "sparseace", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env=env)


def labelled(atoms, config_type, keys=("energy", "forces", "virial")):
    """``atoms`` with EMT energy, forces and virial under the given extxyz keys."""
    atoms.calc = EMT()
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
    atoms.calc = None
    atoms.info.update({keys[0]: energy, keys[2]: virial.ravel(), "config_type": config_type})
    atoms.arrays[keys[1]] = forces
    return atoms


def copper(n, seed, config_type="rattled", keys=("energy", "forces", "virial")):
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", rng.uniform(3.52, 3.72), cubic=True)
        atoms.rattle(0.08, seed=int(rng.integers(1 << 31)))
        frames.append(labelled(atoms, config_type, keys))
    return frames


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_data")
    write(d / "train.xyz", copper(16, 1) + copper(8, 2, "strained"), format="extxyz")
    write(d / "test.xyz", copper(6, 3), format="extxyz")
    start = bulk("Cu", "fcc", 3.61, cubic=True) * (2, 2, 2)
    start.rattle(0.02, seed=4)
    write(d / "start.xyz", start, format="extxyz")
    return d


@pytest.fixture(scope="module")
def fitted(data):
    out = sparseace("fit", data / "train.xyz", "--test", data / "test.xyz", *FIT,
                    "--eref", "Cu=-0.5", "--select", "bysize 15",
                    "-o", data / "fit/Cu.json")
    assert out.returncode == 0, out.stderr[-3000:]
    return out, data / "fit"


def test_fit_writes_model_checkpoints_curve_and_error_table(fitted, data):
    out, d = fitted
    model = load_model(d / "Cu.json")
    meta = model.metadata
    assert 0 < len(model) <= 15 and meta["active"] == len(model)
    assert meta["solver"] == "asp" and meta["selection"] == "bysize 15"
    assert model.eref == {"Cu": -0.5}
    assert meta["data_files"]["train"]["configs"] == 24
    assert len(meta["data_files"]["train"]["sha256"]) == 64
    assert len(meta["split"]["val_indices"]) == round(0.15 * 24)
    assert {"versions", "created", "command", "solver_settings", "prior_p"} <= set(meta)
    cp = Checkpoints.load(d / "Cu.checkpoints.npz")
    i = meta["checkpoint"]
    assert np.array_equal(cp.support(i), model.active)
    assert np.allclose(cp.coef(i), model.coefficients)
    assert cp.sizes.max() == 20  # the path ran to --max-active
    with Image.open(d / "Cu.curve.png") as im:
        im.verify()
    errors = pd.read_csv(d / "Cu.errors.csv")
    assert set(errors["split"]) == {"train", "val", "test"}
    assert set(errors.loc[errors["split"] == "train", "config_type"]) == {
        "rattled", "strained", "all"}
    assert np.all(np.isfinite(errors.filter(like="_meV").to_numpy()))
    assert "E_MAE_meV/atom" in out.stdout and "F_MAE_meV/A" in out.stdout
    assert "design rows train" in out.stderr  # progress bars


def test_errors_command_repeats_the_fit_table(fitted, data):
    _, d = fitted
    out = sparseace("errors", d / "Cu.json", data / "test.xyz", "-o", d / "test_errors.csv")
    assert out.returncode == 0, out.stderr[-3000:]
    ours = pd.read_csv(d / "test_errors.csv").set_index("config_type")
    fit = pd.read_csv(d / "Cu.errors.csv").query("split == 'test'").set_index("config_type")
    assert np.allclose(ours["E_MAE_meV/atom"], fit["E_MAE_meV/atom"])
    assert np.allclose(ours["V_RMSE_meV/atom"], fit["V_RMSE_meV/atom"])
    assert "test.xyz" in out.stdout


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ needed for the LAMMPS plugin")
def test_export_lammps_and_short_md(fitted, data):
    _, d = fitted
    out = sparseace("export-lammps", d / "Cu.json")
    assert out.returncode == 0, out.stderr[-3000:]
    sace = d / "Cu.sace"
    assert sace.read_text().startswith("sparseace-lammps-model")
    lines = out.stdout.splitlines()
    plugin = next(shlex.split(line)[2] for line in lines if line.startswith("plugin load"))
    assert Path(plugin).exists()
    assert "pair_style sparseace" in lines and f'pair_coeff * * "{sace}" Cu' in lines
    source = shlex.split(next(line for line in lines if "cmake -S" in line)
                         .split("cmake -S ")[1])[0]
    assert (Path(source) / "CMakeLists.txt").exists()  # the plugin source ships in the package
    out = sparseace("md", d / "Cu.json", data / "start.xyz", "--time-ps", "0.02",
                    "--timestep-fs", "2", "--chunk-steps", "5", "--thermo-every", "5",
                    "--min-distance", "1.5", "--thermo", d / "thermo.csv",
                    "-o", d / "verdict.json")
    assert out.returncode == 0, out.stderr[-3000:]
    verdict = json.loads((d / "verdict.json").read_text())
    assert verdict["stable"] and verdict["steps"] == 10 and verdict["atoms"] == 32
    assert len(pd.read_csv(d / "thermo.csv")) == 2
    assert out.stdout.startswith("stable after 0.02 ps")


# a program that runs the LAMMPS commands of its stdin on a box of 32 Cu atoms, prints the energy
LAMMPS_RUN_0 = r"""
import sys
from sparseace._lammps import new_lammps
lmp = new_lammps()
lmp.commands_string("units metal\nlattice fcc 3.61\nregion box block 0 2 0 2 0 2\n"
                    "create_box 1 box\ncreate_atoms 1 box\nmass 1 63.546\n" + sys.stdin.read())
lmp.command("run 0")
print(lmp.get_thermo("pe"))
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ needed for the LAMMPS plugin")
def test_paths_with_spaces_reach_lammps(fitted, data, tmp_path):
    """Plugin, model file and MD work files under directories with spaces (SPARSEACE_BUILD_DIR,
    TMPDIR): the printed LAMMPS lines and the MD run read them (in new processes: a plugin
    stays loaded in a process)."""
    spaced = tmp_path / "my data #1"
    plugin = build_plugin()  # built by the test above: copied, not built again
    (spaced / "build dir").mkdir(parents=True)
    (spaced / "tmp dir").mkdir()
    shutil.copy(plugin, spaced / "build dir" / plugin.name)
    shutil.copy(fitted[1] / "Cu.json", spaced / "Cu model.json")
    env = {"SPARSEACE_BUILD_DIR": str(spaced / "build dir"), "TMPDIR": str(spaced / "tmp dir")}
    out = sparseace("export-lammps", spaced / "Cu model.json", env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if not line.startswith("#")]
    assert f'plugin load "{spaced / "build dir" / plugin.name}"' in lines
    env["PYTHONPATH"] = str(REPO / "src")
    lmp = subprocess.run([sys.executable, "-c", LAMMPS_RUN_0], input="\n".join(lines),
                         capture_output=True, text=True, env={**os.environ, **env})
    assert lmp.returncode == 0, lmp.stderr[-3000:]
    atoms = bulk("Cu", "fcc", 3.61, cubic=True) * (2, 2, 2)
    assert float(lmp.stdout) == pytest.approx(load_model(spaced / "Cu model.json")
                                              .evaluate(atoms)[0], rel=1e-9)
    out = sparseace("md", spaced / "Cu model.json", data / "start.xyz", "--time-ps", "0.004",
                    "--timestep-fs", "2", "--chunk-steps", "2", "--min-distance", "1.5",
                    "--trajectory", spaced / "traj.xyz", env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("stable after 0.004 ps")


def run_main(capsys, *args):
    """``cli.main`` in this process: (exit status, stderr)."""
    with pytest.raises(SystemExit) as exit_:
        cli.main([str(a) for a in args])
    return exit_.value.code, capsys.readouterr().err


def test_missing_key_names_file_frame_option_and_the_keys_present(tmp_path, capsys):
    write(tmp_path / "dft.xyz", copper(2, 5, keys=("dft_energy", "forces", "virial")),
          format="extxyz")
    status, err = run_main(capsys, "fit", tmp_path / "dft.xyz", *FIT, "-o", tmp_path / "m.json")
    assert status == 1
    assert f"{tmp_path / 'dft.xyz'}, frame 0: field energy missing" in err
    assert "option --energy-key energy" in err and "'dft_energy'" in err


def test_elements_outside_the_basis_name_file_frame_and_option(tmp_path, capsys):
    frames = copper(2, 6)
    frames[1][0].symbol = "Ag"
    write(tmp_path / "mixed.xyz", frames, format="extxyz")
    status, err = run_main(capsys, "fit", tmp_path / "mixed.xyz", *FIT, "-o", tmp_path / "m.json")
    assert status == 1
    assert "mixed.xyz, frame 1: field symbols: element(s) ['Ag'] not in ['Cu']" in err
    assert "(option --elements)" in err


def flat_cell_file(path):
    """Copper data whose frame 1 is periodic with a zero-volume cell."""
    frames = copper(3, 7)
    frames[1].cell[2] = [0, 0, 0]
    write(path, frames, format="extxyz")
    return f"{path}, frame 1: field cell: periodic structure (pbc T T T) with a degenerate cell"


def test_degenerate_test_cell_is_named_before_the_fit(tmp_path, capsys):
    message = flat_cell_file(tmp_path / "flat.xyz")
    write(tmp_path / "train.xyz", copper(4, 8), format="extxyz")
    status, err = run_main(capsys, "fit", tmp_path / "train.xyz", "--test", tmp_path / "flat.xyz",
                           *FIT, "-o", tmp_path / "m.json")
    assert status == 1 and message in err, err
    assert "design rows" not in err and not (tmp_path / "m.json").exists()


def test_degenerate_cell_in_errors_is_named(fitted, tmp_path, capsys):
    _, d = fitted
    message = flat_cell_file(tmp_path / "flat.xyz")
    status, err = run_main(capsys, "errors", d / "Cu.json", tmp_path / "flat.xyz")
    assert status == 1 and message in err, err


@pytest.mark.parametrize("args, message", [
    (["--weights", "E=30,F"], "option --weights: 'F' is not NAME=NUMBER"),
    (["--weights", "E=30,G=1"], "option --weights: weights of 'default' must be"),
    (["--eref", "Cu:-1"], "option --eref: 'Cu:-1' is not NAME=NUMBER"),
    (["--eref", "Ag=-1"], "option --eref: element(s) ['Ag'] not in --elements ['Cu']"),
    (["--select", "best 3"], "option --select 'best 3' is not a selection rule"),
    (["--select", "final 30"], "more than --max-active 20"),
    (["--max-active", "999"], "option --max-active 999: the basis has only"),
    (["--solver-option", "debias"], "option --solver-option: 'debias' is not KEY=VALUE"),
    (["--solver-option", "debais=none"], "option --solver-option: solver asp: unknown option "
                                         "'debais' (the options of asp: debias: 'tsvd' or"),
    (["--solver", "rrqr", "--solver-option", "rtol=-1"], "option --solver-option: solver rrqr: "
                                                         "option rtol=-1 is invalid: must be a "
                                                         "positive number"),
    (["--jobs", "0"], "argument --jobs: 0 is not a positive integer"),
    (["--eref", "Cu=1", "Cu=2"], "option --eref: Cu given twice (Cu=1 and Cu=2)"),
    (["--weights", "E=30,F=1,E=3"], "option --weights: E given twice (E=30 and E=3)"),
    (["--r0", "Cu=2", "Cu=2.5"], "option --r0: Cu given twice (Cu=2 and Cu=2.5)"),
    (["--eref", "Cu=nan"], "option --eref: 'Cu=nan': the value must be a finite number"),
    (["--weights", "E=inf"], "option --weights: 'E=inf': the value must be a finite number"),
    (["--weights", "E=0,F=0,V=0"], "option --weights: weights of 'default' are all zero: those "
     "configurations would not be fitted"),
    (["--prior", "nan"], "argument --prior: nan is not a finite non-negative number"),
])
def test_bad_options_are_named_before_any_work(tmp_path, capsys, args, message):
    status, err = run_main(capsys, "fit", tmp_path / "absent.xyz", *FIT, *args,
                           "-o", tmp_path / "m.json")
    assert status == 2 and message in err, err


def test_bad_weights_file_is_named(tmp_path, capsys):
    (tmp_path / "w.yaml").write_text("default: {E: 30}\nliq: {E: -1}\n")
    status, err = run_main(capsys, "fit", tmp_path / "absent.xyz", *FIT, "--weights-file",
                           tmp_path / "w.yaml", "-o", tmp_path / "m.json")
    assert status == 2 and "w.yaml (option --weights-file): weights of 'liq'" in err
    (tmp_path / "w.yaml").write_text("default: {E: 30}\n", encoding="utf-16")
    status, err = run_main(capsys, "fit", tmp_path / "absent.xyz", *FIT, "--weights-file",
                           tmp_path / "w.yaml", "-o", tmp_path / "m.json")
    assert status == 2 and "w.yaml (option --weights-file): cannot read ('utf-8' codec" in err


def test_selection_no_checkpoint_satisfies_is_named(tmp_path):
    # one-atom fcc cells: zero forces and shear virials, a design of rank 2 per configuration
    cells = [labelled(bulk("Cu", "fcc", a), "bulk") for a in (3.5, 3.6, 3.7, 3.8)]
    write(tmp_path / "cells.xyz", cells, format="extxyz")
    out = sparseace("fit", tmp_path / "cells.xyz", *FIT, "--select", "final 15",
                    "-o", tmp_path / "m.json")
    assert out.returncode == 2
    assert "option --select 'final 15': the asp path ended" in out.stderr
    assert "before the requested model size 15" in out.stderr
    assert not (tmp_path / "m.json").exists()


def test_reduce_design_in_processes_equals_one_assembly(tmp_path):
    write(tmp_path / "cu.xyz", copper(7, 8), format="extxyz")
    frames = read_extxyz(tmp_path / "cu.xyz", "energy", "forces", "virial")
    basis = ACEBasis(["Cu"], 2, 6)
    one = assemble(basis, frames, {"Cu": 0.0})
    seen = []
    many = reduce_design(basis, frames, {"Cu": 0.0}, chunk_configs=2, jobs=2,
                         on_progress=seen.append)
    assert np.allclose(many.R_aug, one.R_aug, rtol=0, atol=1e-12 * np.abs(one.R_aug).max())
    assert many.nrows == one.nrows and many.meta["rows"] == one.meta["rows"]
    assert len(many.meta["chunks"]) == 4 and seen[-1] == 7


def test_entry_point_and_basis_module_run_the_command_line():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"sparseace": "sparseace.cli:main"}
    out = subprocess.run([sys.executable, "-m", "sparseace.basis", "--elements", "Si",
                          "--order", "3", "--totaldegree", "10"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert out.returncode == 0 and "total: 120 functions" in out.stdout


@pytest.mark.slow
def test_cli_fit_equals_the_workflow_fit(run, tmp_path):
    """zuo_Mo of tests/workflow_config.yaml: order 2, degree 10, prior 4, ASP to 24 active
    (TSVD-debiased), 10 checkpoints, model asp-24, on the run's canonical split files."""
    data = run / "results/data/zuo_Mo"
    out = sparseace("fit", data / "train.xyz", "--val", data / "val.xyz",
                    "--energy-key", "REF_energy", "--forces-key", "REF_forces",
                    "--virial-key", "REF_virial", "--elements", "Mo", "--order", "2",
                    "--totaldegree", "10", "--prior", "4", "--solver", "asp", "--max-active", "24",
                    "--checkpoints", "10", "--select", "final 24", "--jobs", "2", "-q",
                    "-o", tmp_path / "asp-24.json")
    assert out.returncode == 0, out.stderr[-3000:]
    ours = load_model(tmp_path / "asp-24.json")
    theirs = load_model(run / "results/fits/zuo_Mo/seed1/models/asp-24.json")
    assert ours.basis.fingerprint() == theirs.basis.fingerprint()
    assert np.array_equal(ours.active, theirs.active)
    assert np.allclose(ours.coefficients, theirs.coefficients, rtol=1e-8, atol=0)
    assert ours.eref == theirs.eref


@pytest.mark.parametrize("args, message", [
    (["--time-ps", "0"], "option --time-ps 0.0: must be positive"),
    (["--time-ps", "-1"], "option --time-ps -1.0: must be positive"),
    (["--time-ps", "0.001"], "option --time-ps 0.001: is shorter than one time step "
                             "(option --timestep-fs 5 fs)"),
    (["--timestep-fs", "-5"], "option --timestep-fs -5.0: must be positive"),
    (["--timestep-fs", "nan"], "option --timestep-fs nan: must be a finite number"),
    (["--damping-fs", "0"], "option --damping-fs 0.0: must be positive"),
    (["--temperature", "-300"], "option --temperature -300.0: must be positive"),
    (["--temperature", "0"], "option --temperature 0.0: must be positive"),
])
def test_impossible_md_settings_are_refused_before_the_model_is_read(tmp_path, capsys, args,
                                                                    message):
    status, err = run_main(capsys, "md", tmp_path / "absent.json", tmp_path / "absent.xyz",
                           *args)
    assert status == 2 and message in err, err


def test_validation_file_equal_to_the_training_file_is_refused(tmp_path, capsys):
    write(tmp_path / "train.xyz", copper(4, 7), format="extxyz")
    (tmp_path / "link.xyz").symlink_to(tmp_path / "train.xyz")
    for val in ("train.xyz", "link.xyz"):
        status, err = run_main(capsys, "fit", tmp_path / "train.xyz", *FIT, "--val",
                               tmp_path / val, "-o", tmp_path / "m.json")
        assert status == 2, err
        assert f"option --val {tmp_path / val}: the same file as TRAIN.xyz" in err


def test_weights_of_config_types_absent_from_the_data_are_named(tmp_path, caplog):
    (tmp_path / "w.yaml").write_text("defualt: {E: 10}\nrattled: {E: 5}\n")
    weights = cli.parse_weights(None, str(tmp_path / "w.yaml"))
    cli.warn_unused_weights(weights, copper(2, 8) + copper(1, 9, "strained"), "w.yaml")
    assert ("w.yaml: config_type(s) ['defualt'] are not in the training or validation data (its "
            "config_types: ['rattled', 'strained']): their weights are unused") in caplog.text


@pytest.mark.parametrize("args, message", [
    (["--rcut", "-1"], "rcut (the cutoff, Å) must be a finite number above rin = 0 Å, got -1.0 "
                       "(option --rcut)"),
    (["--rcut", "0"], "got 0.0 (option --rcut)"),
    (["--rcut", "nan"], "got nan (option --rcut)"),
    (["--r0", "Cu=-1"], "r0 (bond lengths, Å) must be finite and positive, got {'Cu': -1.0} "
                        "(option --r0 EL=Å)"),
    (["--order", "0"], "order (the correlation order) must be an integer from 2 to 4, got 0 "
                       "(option --order)"),
    (["--totaldegree", "inf"], "totaldegree must be finite and positive, got [inf, inf] "
                               "(option --totaldegree)"),
    (["--totaldegree", "0"], "got [0.0, 0.0] (option --totaldegree)"),
    (["--totaldegree", "-3"], "got [-3.0, -3.0] (option --totaldegree)"),
    (["--totaldegree", "nan"], "got [nan, nan] (option --totaldegree)"),
    (["--totaldegree", "0.5"], "totaldegree [0.5, 0.5] admits no many-body function"),
    (["--max-memory-gb", "0.00001"], "option --max-memory-gb 1e-05: a basis of 39 functions "
                                     "needs about 8.96e-05 GB at once (7 design factors"),
    (["--max-functions", "30"], "option --max-functions 30: the basis (elements ['Cu'], order 2, "
                                "total degree 8.0) has more than 30 functions"),
])
def test_impossible_bases_are_refused_naming_the_option(tmp_path, capsys, args, message):
    status, err = run_main(capsys, "fit", tmp_path / "absent.xyz", *FIT, *args,
                           "-o", tmp_path / "m.json")
    assert status == 2 and message in err, err


def test_an_absurd_basis_is_refused_in_seconds(capsys):
    import time

    start = time.perf_counter()
    status, err = run_main(capsys, "basis", "--elements", "Si", "--order", "3", "--totaldegree",
                           "60")
    assert time.perf_counter() - start < 30
    assert status == 2 and "option --max-functions 25000: the basis (elements ['Si'], order 3, " \
                           "total degree 60.0) has more than 25000 functions" in err, err
