"""Accuracy against cost: the Pareto front, the checkpoints timed, the LAMMPS cost timer, the
SNAP baseline's descriptor fit (checked against LAMMPS' own pair_style snap) and its config."""

import copy
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from sparseace.config import consistency_errors, load_config
from sparseace.cost import cost_checkpoints, pair_style_energies, pareto_front, time_pair_style
from sparseace.design import weighted_rows
from sparseace.snap import fit_snap, snap_file_sizes, snap_pair, snap_rows
from sparseace.solvers import BLR

# A linear SNAP of two species (twojmax 2: 5 bispectrum components), written by hand in
# LAMMPS' format: per species beta_0 (eV) and beta_1..5.
BETA = {"Si": [-4.2, 0.31, -0.12, 0.05, 0.08, -0.02], "Ge": [-3.9, 0.22, 0.1, -0.07, 0.03, 0.04]}
SNAPPARAM = "rcutfac 4.2\ntwojmax 2\nrfac0 0.99363\nrmin0 0\nswitchflag 1\nbzeroflag 0\n"


def test_pareto_front_keeps_points_no_other_beats_in_cost_and_error():
    cost = [1.0, 2.0, 2.0, 3.0, 0.5, 4.0, np.nan, 1.0]
    error = [5.0, 3.0, 4.0, 3.0, 9.0, 1.0, 0.1, 5.0]
    # (2, 4) loses to (2, 3); (3, 3) to (2, 3); the second (1, 5) only ties; NaN never counts
    assert pareto_front(cost, error).tolist() == [True, True, False, False, True, True, False,
                                                  False]
    assert not pareto_front([], []).any()
    with pytest.raises(ValueError, match="differ in shape"):
        pareto_front([1.0], [1.0, 2.0])


def test_cost_checkpoints_spread_in_log_size_each_size_once():
    sizes = [0, 1, 2, 2, 4, 8, 16, 32, 64, 64]
    assert cost_checkpoints(sizes, None) == [1, 2, 4, 5, 6, 7, 8]  # no empty model, no repeat
    assert cost_checkpoints(sizes, 3) == [1, 5, 8]                 # 1, 8, 64
    assert cost_checkpoints(sizes, 50) == cost_checkpoints(sizes, None)


def _frames(tmp_path):
    """Rattled Si/Ge diamond cells labelled with the energies and forces of the hand-written
    SNAP (REF_energy, REF_forces as the canonical files have them)."""
    coeff = tmp_path / "ref.snapcoeff"
    coeff.write_text("# test\n\n2 6\n" + "".join(
        f"{s} 0.5 1.0\n" + "".join(f"{b}\n" for b in beta) for s, beta in BETA.items()))
    param = tmp_path / "ref.snapparam"
    param.write_text(SNAPPARAM)
    rng = np.random.default_rng(0)
    frames = []
    for k in range(4):
        atoms = bulk("Si", "diamond", 5.5 + 0.05 * k, cubic=True)
        atoms.symbols[rng.permutation(8)[:3 + k % 2]] = "Ge"
        atoms.positions += rng.normal(scale=0.1, size=atoms.positions.shape)
        frames.append(atoms)
    pair = snap_pair(coeff, param, ["Si", "Ge"])
    from sparseace._lammps import new_lammps
    from sparseace.md import create_structure

    for atoms, energy in zip(frames, pair_style_energies(pair, frames, ["Si", "Ge"])):
        lmp = new_lammps()
        create_structure(lmp, atoms, ["Si", "Ge"])
        lmp.commands_string("\n".join([*pair, "run 0"]))
        atoms.arrays["REF_forces"] = np.array(lmp.gather("f", 1, 3)).reshape(-1, 3)
        lmp.close()
        atoms.info["REF_energy"] = energy
    return frames, pair


def test_snap_fit_recovers_the_coefficients_of_lammps_own_snap(tmp_path):
    frames, reference_pair = _frames(tmp_path)
    eref = {"Si": -1.5, "Ge": 0.7}  # subtracted from the targets, added back to beta_0
    model = fit_snap(frames, ["Si", "Ge"], eref, 2, 4.2, {"default": {"E": 30, "F": 1, "V": 1}})
    assert model.coefficients.shape == (2, 6)
    assert snap_file_sizes(tmp_path / "ref.snapcoeff", tmp_path / "ref.snapparam") == (12, 2)
    np.testing.assert_allclose(model.coefficients, [BETA["Si"], BETA["Ge"]], atol=1e-8)
    # the files it writes give LAMMPS' energies back
    pair = snap_pair(*model.write(tmp_path / "fit"), ["Si", "Ge"])
    np.testing.assert_allclose(pair_style_energies(pair, frames, ["Si", "Ge"]),
                               [a.info["REF_energy"] for a in frames], rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match=r"frame 0: elements \['Ge'\] are not among"):
        fit_snap(frames, ["Si"], eref, 2, 4.2)
    with pytest.raises(ValueError, match="twojmax must be an even"):
        fit_snap(frames, ["Si", "Ge"], eref, 3, 4.2)
    with pytest.raises(ValueError, match="no configurations"):
        fit_snap([], ["Si", "Ge"], eref, 2, 4.2)


def test_streamed_snap_fit_equals_the_fit_of_the_stacked_rows(tmp_path):
    """fit_snap folds each configuration's rows into a triangular factor: BLR on it gives what
    BLR on all rows stacked gives."""
    frames, _ = _frames(tmp_path)
    for atoms in frames:  # noisy targets: the evidence then sets a finite noise precision
        atoms.info["REF_energy"] += np.random.default_rng(len(atoms)).normal(0, 0.05)
    weights, eref = {"default": {"E": 30, "F": 1, "V": 1}}, {"Si": 0.0, "Ge": 0.0}
    rows = [weighted_rows(a, e, f, None, eref, weights)
            for a, (e, f) in zip(frames, snap_rows(frames, ["Si", "Ge"], 2, 4.2))]
    dense = BLR().fit(np.vstack([r[0] for r in rows]), np.concatenate([r[1] for r in rows]))
    model = fit_snap(frames, ["Si", "Ge"], eref, 2, 4.2, weights, solver="blr")
    np.testing.assert_allclose(model.coefficients.ravel(), dense.coef_, rtol=1e-9, atol=1e-10)


def test_cost_timer_gives_positive_finite_costs_per_repeat(tmp_path):
    frames, pair = _frames(tmp_path)
    for seconds in (0.0, 0.05):  # 2 steps of 64 atoms take about 1 ms
        start = time.perf_counter()
        costs = time_pair_style(pair, frames[0].repeat(2), ["Si", "Ge"], steps=2, repeats=3,
                                seconds=seconds)
        assert len(costs) == 3 and all(np.isfinite(costs)) and min(costs) > 0
        assert time.perf_counter() - start > seconds  # longer runs (an estimate: not 3 x)
    with pytest.raises(ValueError, match="must be positive"):
        time_pair_style(pair, frames[0], ["Si", "Ge"], steps=0)


def test_accuracy_cost_config_names_fitted_datasets():
    config = load_config(Path(__file__).parent / "workflow_config.yaml")
    assert config["accuracy_cost"]["snap"]["solver"] == "rrqr"  # schema defaults filled in
    bad = copy.deepcopy(config)
    bad["accuracy_cost"]["datasets"].append("zuo_Cu")
    bad["accuracy_cost"]["published"]["zuo_Ge"] = ["Ge_Zuo_JPCA2020"]
    assert ("accuracy_cost/datasets/2", "dataset 'zuo_Cu' is not fitted (no fits/zuo_Cu)") \
        in consistency_errors(bad)
    assert ("accuracy_cost/published/zuo_Ge", "zuo_Ge is not in accuracy_cost/datasets") \
        in consistency_errors(bad)
