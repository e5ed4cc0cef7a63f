"""MD stability driver: exact agreement with a LAMMPS-native style, the native pair style
against fix external, unstable and failing models."""

import shutil
from contextlib import contextmanager

import numpy as np
import pytest
from ase.build import bulk
from ase.geometry import find_mic
from ase.io import read
from matscipy.neighbours import neighbour_list

import sparseace.md
from sparseace._lammps import new_lammps
from sparseace.md import (ForceEvaluationError, run_md, stability_table, start_configurations,
                          supercell)
from test_lammps_plugin import mpi_only, random_model
from test_model import water_box

EPS, SIGMA, RC = 0.0104, 3.40, 8.5   # argon-like Lennard-Jones (eV, Å, Å)


class PairModel:
    """E = sum_{i<j} phi(r_ij) for r < rc, phi shifted to zero at rc (LAMMPS lj/cut with
    pair_modify shift yes)."""

    def __init__(self, phi_dphi, cutoff):
        self.phi_dphi, self.cutoff = phi_dphi, cutoff

    def evaluate(self, atoms):
        i, j, d, D = neighbour_list("ijdD", atoms, self.cutoff)
        phi, dphi = self.phi_dphi(d)
        g = (dphi / d)[:, None] * D          # dE/dr_ij (each pair counted twice, half weight)
        forces = np.zeros((len(atoms), 3))
        np.add.at(forces, i, g)
        virial = -0.5 * D.T @ g
        return 0.5 * phi.sum(), forces, virial


def lj(r):
    sr6 = (SIGMA / r) ** 6
    shift = 4 * EPS * ((SIGMA / RC) ** 12 - (SIGMA / RC) ** 6)
    return 4 * EPS * (sr6 ** 2 - sr6) - shift, 4 * EPS * (-12 * sr6 ** 2 + 6 * sr6) / r


def argon(seed=0):
    atoms = bulk("Ar", "fcc", 5.26, cubic=True) * (3, 3, 3)
    atoms.rattle(0.05, seed=seed)
    atoms.wrap()
    return atoms


SETTINGS = {"temperature": 60.0, "length_ps": 1.0, "timestep_fs": 5.0, "chunk_steps": 50,
            "thermo_every": 50, "min_distance": 2.0, "seed": 3, "engine": "external"}


def native_thermo(atoms, s):
    """The same protocol with LAMMPS' own lj/cut."""
    lmp = new_lammps()
    lmp.commands_string(f"""
units metal
atom_style atomic
atom_modify sort 0 0.0
region box block 0 {atoms.cell[0, 0]} 0 {atoms.cell[1, 1]} 0 {atoms.cell[2, 2]} units box
create_box 1 box
mass 1 39.948
pair_style lj/cut {RC}
pair_coeff * * {EPS} {SIGMA}
pair_modify shift yes
""")
    lmp.create_atoms(len(atoms), None, [1] * len(atoms), atoms.positions.ravel().tolist())
    lmp.commands_string(f"""
timestep {s['timestep_fs'] / 1000}
velocity all create {s['temperature']} {s['seed']} dist gaussian mom yes rot yes
fix nve all nve
fix thermostat all langevin {s['temperature']} {s['temperature']} 0.1 {s['seed'] + 1} zero yes
thermo_style custom step time temp pe etotal press
""")
    rows = []
    lmp.command("run 0")
    for _ in range(int(s["length_ps"] * 1000 / s["timestep_fs"] / s["chunk_steps"])):
        lmp.command(f"run {s['chunk_steps']}")
        rows.append({k: lmp.get_thermo(k) for k in ("step", "pe", "temp", "press")})
    return rows


def test_driver_reproduces_native_lammps_trajectory(tmp_path):
    atoms = argon()
    verdict = run_md(PairModel(lj, RC), atoms, SETTINGS, trajectory=tmp_path / "traj.xyz")
    assert verdict.stable and verdict.steps == 200
    native = native_thermo(atoms, SETTINGS)
    for ours, ref in zip(verdict.thermo, native):
        assert ours["step"] == ref["step"]
        for key in ("pe", "temp", "press"):
            assert ours[key] == pytest.approx(ref[key], rel=1e-7, abs=1e-8), key
    from ase.io import read
    assert len(read(tmp_path / "traj.xyz", ":")) == 4


def test_collapsing_model_is_unstable_with_time_and_reason():
    def attractive(r):  # no repulsion: atoms fall onto each other
        return -0.5 * np.exp(-(r / 3.0) ** 2), r / 4.5 * np.exp(-(r / 3.0) ** 2)

    s = {**SETTINGS, "length_ps": 5.0}
    verdict = run_md(PairModel(attractive, 8.0), argon(), s)
    assert not verdict.stable
    assert "closer than 2.0" in verdict.reason or "temperature" in verdict.reason
    assert 0 < verdict.time_ps < 5.0


def test_lammps_error_is_an_unstable_verdict_with_its_time():
    class Kick(PairModel):  # one atom is shot across many cells: LAMMPS loses it
        def evaluate(self, atoms):
            energy, forces, virial = super().evaluate(atoms)
            forces[0] = [1e6, 0.0, 0.0]
            return energy, forces, virial

    s = {**SETTINGS, "min_distance": 0.1, "max_temperature_factor": 1e12}
    verdict = run_md(Kick(lj, RC), argon(), s)
    assert not verdict.stable
    assert verdict.reason.startswith("LAMMPS stopped at step") and "Lost atoms" in verdict.reason
    assert "\n" not in verdict.reason
    assert 0 < verdict.steps < 200 and verdict.time_ps == pytest.approx(verdict.steps * 0.005)


@pytest.mark.parametrize("failure", ["raise", "nan"])
def test_failing_force_evaluation_stops_the_run(failure):
    class Failing(PairModel):
        calls = 0

        def evaluate(self, atoms):
            self.calls += 1
            if self.calls > 30:
                if failure == "raise":
                    raise RuntimeError("boom")
                return np.nan, np.zeros((len(atoms), 3)), np.zeros((3, 3))
            return super().evaluate(atoms)

    model = Failing(lj, RC)
    with pytest.raises(ForceEvaluationError, match="step 29"):
        run_md(model, argon(), SETTINGS)
    assert model.calls == 31  # LAMMPS halted at once


def labelled(atoms, config_type, size):
    atoms = atoms.repeat((size, 1, 1))
    atoms.info["config_type"] = config_type
    return atoms


def test_starts_round_robin_over_config_types_largest_first_seeded():
    cube = bulk("Si", "diamond", 5.43, cubic=True)  # 8 atoms
    molecule = labelled(cube, "cluster", 20)
    molecule.pbc = False
    frames = [labelled(cube, "liq", 8), labelled(cube, "dia", 2), labelled(cube, "liq", 1),
              molecule, labelled(cube, "liq", 8), labelled(bulk("Si"), "bcc", 1),
              labelled(cube, "liq", 8), labelled(cube, "dia", 2)]
    starts = start_configurations(frames, 7, seed=1)
    assert [(a.info["config_type"], len(a)) for _, a in starts] == [
        ("liq", 64), ("dia", 16), ("bcc", 2), ("liq", 64), ("dia", 16), ("liq", 64), ("liq", 8)]
    assert sorted(starts[k][0] for k in (0, 3, 5)) == [0, 4, 6]
    for i, atoms in starts:
        assert atoms == frames[i] and atoms is not frames[i]
    for count in range(1, 7):  # more starts keep the first ones
        assert [i for i, _ in start_configurations(frames, count, seed=1)] == \
            [i for i, _ in starts[:count]]
    firsts = {start_configurations(frames, 1, seed)[0][0] for seed in range(20)}
    assert firsts == {0, 4, 6}  # equal sizes: the seed decides
    with pytest.raises(ValueError, match="test.xyz: 8 MD starts asked for, but it has only 7"):
        start_configurations(frames, 8, seed=1, source="test.xyz")


def test_supercell_repeats_the_thinnest_direction_to_the_minimum_size():
    primitive = bulk("Si", "diamond", 5.43)  # 2 atoms, three equal heights
    big, repeats = supercell(primitive, 32)
    assert len(big) == 2 * np.prod(repeats) >= 32 and sorted(repeats) == [2, 3, 3]
    slab = bulk("Si", "diamond", 5.43, cubic=True).repeat((1, 1, 4))
    assert supercell(slab, 100)[1] == (2, 2, 1)
    cube = bulk("Si", "diamond", 5.43, cubic=True).repeat(2)
    same, repeats = supercell(cube, 32)
    assert repeats == (1, 1, 1) and same == cube


def test_stability_table_lists_every_run_and_a_summary_line_per_model():
    def record(model, T, k, stable):
        return {"dataset": "si", "model": model, "active": 300, "temperature_K": T,
                "start": {"index": k, "frame": 10 + k, "atoms": 64, "config_type": "liq"},
                "stable": stable, "time_ps": 1000.0 if stable else 12.5,
                "steps": 200000 if stable else 2500, "reason": "" if stable else "hot"}

    records = [record("omp-300", T, k, True) for T in (500, 300) for k in (1, 0)]
    records += [record("asp-300", T, k, (T, k) != (500, 1)) for T in (300, 500) for k in (0, 1)]
    table = stability_table(records)
    assert list(table["model"]) == ["omp-300"] * 5 + ["asp-300"] * 5
    assert list(table["temperature_K"][:5]) == [300, 300, 500, 500, "all"]
    assert list(table["start"][:5]) == [0, 1, 0, 1, "all"]
    summary = table[table["start"] == "all"].set_index("model")
    assert summary.loc["omp-300", ["stable", "stable_runs", "runs"]].tolist() == [True, 4, 4]
    assert summary.loc["asp-300", ["stable", "stable_runs", "runs"]].tolist() == [False, 3, 4]
    assert table["stable"].dtype == bool
    assert table.loc[8, "reason"] == "hot" and table.loc[8, "frame"] == 11


native_only = pytest.mark.skipif(shutil.which("g++") is None,
                                 reason="g++ not installed: the LAMMPS plugin cannot be built")


def diamond_si(seed):
    atoms = bulk("Si", "diamond", 5.43, cubic=True) * (2, 2, 2)
    atoms.rattle(0.05, seed=seed)
    return atoms


@native_only
def test_native_engine_reproduces_the_external_engine():
    """The same ACE model through pair_style sparseace and through fix external: the same
    trajectory to 1e-10 (the forces agree to rounding)."""
    model = random_model(["Si"], 3, 10, 80, seed=1, scale=0.001)
    s = {**SETTINGS, "temperature": 300.0, "length_ps": 0.2, "timestep_fs": 2.0,
         "chunk_steps": 20, "min_distance": 1.5, "max_temperature_factor": 100.0}
    native = run_md(model, diamond_si(1), {**s, "engine": "native"})
    external = run_md(model, diamond_si(1), {**s, "engine": "external"})
    assert native.stable and external.stable and native.steps == external.steps == 100
    for a, b in zip(native.thermo, external.thermo):
        assert a["step"] == b["step"]
        for key in ("pe", "temp", "press"):
            assert a[key] == pytest.approx(b[key], rel=1e-10, abs=1e-10), (a["step"], key)


@native_only
def test_native_engine_reports_a_collapsing_ace_model_unstable():
    model = random_model(["Si"], 3, 10, 20, seed=2, scale=0.0)
    n_mb = model.basis.nspecies * model.basis.n_manybody
    model.coefficients[model.active >= n_mb] = 0.0
    model.coefficients[model.active == n_mb] = -2.0  # attractive 1/r^2-like pair: collapse
    s = {**SETTINGS, "temperature": 300.0, "length_ps": 2.0, "timestep_fs": 1.0,
         "chunk_steps": 20, "min_distance": 1.5, "engine": "native"}
    verdict = run_md(model, diamond_si(3), s)
    assert not verdict.stable and 0 < verdict.time_ps < 2.0
    assert any(w in verdict.reason for w in ("closer than 1.5", "temperature", "LAMMPS"))


def test_native_engine_needs_an_ace_model():
    with pytest.raises(TypeError, match="engine 'external'"):
        run_md(PairModel(lj, RC), argon(), {**SETTINGS, "engine": "native"})
    with pytest.raises(ValueError, match="unknown MD engine"):
        run_md(PairModel(lj, RC), argon(), {**SETTINGS, "engine": "gpu"})
    with pytest.raises(ValueError, match="runs on one rank"):
        run_md(PairModel(lj, RC), argon(), SETTINGS, ranks=2)


WATER = {**SETTINGS, "temperature": 300.0, "length_ps": 0.004, "timestep_fs": 0.5,
         "chunk_steps": 2, "min_distance": 0.1, "max_temperature_factor": 1e6, "engine": "native"}


@native_only
@mpi_only
def test_native_engine_on_two_mpi_ranks(tmp_path):
    """Two species on 2 ranks: every chunk's snapshot is the start's atoms in the start's order
    and its energy (model.evaluate) is the thermo pe LAMMPS reported."""
    model = random_model(["H", "O"], 3, 6, 80, seed=5, scale=0.01)
    start = water_box(6)
    verdict = run_md(model, start, WATER, trajectory=tmp_path / "traj.xyz", ranks=2)
    assert verdict.stable and verdict.steps == 8 and len(verdict.thermo) == 4
    frames = read(tmp_path / "traj.xyz", ":")
    assert len(frames) == 4
    assert frames[0].get_chemical_symbols() == start.get_chemical_symbols()
    moved, _ = find_mic(frames[0].positions - start.positions, start.cell)
    assert np.linalg.norm(moved, axis=1).max() < 0.5  # Å, 1 fs after the start
    for frame, row in zip(frames, verdict.thermo):
        assert model.evaluate(frame)[0] == pytest.approx(row["pe"], rel=1e-7, abs=1e-6)


@native_only
@mpi_only
def test_two_ranks_share_a_crystal_evenly(caplog):
    """Whole lattice planes lie on the boundary of the 2 ranks' slabs of 512-atom diamond Si:
    balanced, each rank has 256 atoms (LAMMPS' own split gives 288 and 224)."""
    model = random_model(["Si"], 3, 6, 40, seed=5, scale=0.001)
    start = bulk("Si", "diamond", 5.43, cubic=True).repeat(4)
    with caplog.at_level("INFO", logger="sparseace.md"):
        verdict = run_md(model, start, WATER, ranks=2)
    assert verdict.stable and verdict.steps == 8
    assert "2 ranks: at most 256 of the 512 atoms on one rank" in caplog.text


@native_only
@mpi_only
def test_a_failure_on_one_rank_ends_the_mpi_run_with_its_traceback(tmp_path, monkeypatch):
    @contextmanager
    def unwritable(path, suffix=""):  # rank 0 alone fails writing the trajectory
        yield tmp_path

    monkeypatch.setattr(sparseace.md, "atomic_path", unwritable)
    model = random_model(["H", "O"], 3, 6, 80, seed=5, scale=0.1)
    with pytest.raises(RuntimeError, match="(?s)2 MPI ranks failed.*IsADirectoryError"):
        run_md(model, water_box(6), WATER, trajectory=tmp_path / "traj.xyz", ranks=2)


@pytest.mark.parametrize("change, message", [
    ({"length_ps": 0.0}, "MD setting length_ps 0.0: must be positive"),
    ({"length_ps": -1.0}, "MD setting length_ps -1.0: must be positive"),
    ({"length_ps": 0.002}, "length_ps 0.002: is shorter than one time step (timestep_fs 5 fs)"),
    ({"timestep_fs": -5.0}, "MD setting timestep_fs -5.0: must be positive"),
    ({"timestep_fs": float("nan")}, "MD setting timestep_fs nan: must be a finite number"),
    ({"damping_fs": 0.0}, "MD setting damping_fs 0.0: must be positive"),
    ({"temperature": -300.0}, "MD setting temperature -300.0: must be positive"),
    ({"temperature": 0}, "MD setting temperature 0: must be positive"),
    ({"min_distance": float("nan")}, "MD setting min_distance nan: must be a finite number"),
    ({"max_temperature_factor": 0.5}, "max_temperature_factor 0.5: must be above 1"),
])
def test_impossible_settings_are_refused_before_lammps(change, message, monkeypatch):
    monkeypatch.setattr(sparseace.md, "new_lammps", lambda: pytest.fail("LAMMPS started"))
    with pytest.raises(ValueError) as err:
        run_md(PairModel(lj, RC), argon(), {**SETTINGS, **change})
    assert message in str(err.value)


def test_one_atom_start_is_refused():
    with pytest.raises(ValueError, match="the start structure has 1 atom.*at least 2"):
        run_md(PairModel(lj, RC), argon()[:1], SETTINGS)


def test_stable_only_when_every_requested_step_ran(monkeypatch):
    """A LAMMPS that stops advancing (a halt) gives an unstable verdict, not 'stable'."""
    class Stuck:  # every "run N" returns without running a step
        def command(self, text):
            pass

        def get_thermo(self, key):
            return 0.0

        def extract_setting(self, name):  # "world_size": one rank
            return 1

        def close(self):
            pass

    monkeypatch.setattr(sparseace.md, "new_lammps", Stuck)
    monkeypatch.setattr(sparseace.md, "_setup", lambda *args: None)
    verdict = run_md(PairModel(lj, RC), argon(), {**SETTINGS, "length_ps": 0.05})
    assert not verdict.stable and verdict.steps == 0
    assert verdict.reason == "only 0 of 10 steps ran"
