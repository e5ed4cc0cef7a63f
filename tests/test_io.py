"""Readers of every source format, unit conversions, canonical files and bad input."""

import itertools
import json
import lzma
import re

import numpy as np
import pytest
from ase.build import bulk

from sparseace.io import (DataError, read_canonical, read_extxyz, read_mlearn_json,
                          write_extxyz_atomic)


def test_zuo_tarball_member_and_mlearn_json_agree(mirror):
    xyz = read_extxyz(mirror / "zuo2020/ACEData_ZuoEtAl2020.tar.gz", "energy", "force",
                      dataset="zuo_Mo", member="ZuoEtAl2020/Mo_test.xyz", elements=["Mo"])
    js = read_mlearn_json(mirror / "zuo2020/mlearn_json/Mo/test.json.xz", "zuo_Mo")
    assert len(xyz) == len(js) == 23
    for a, b in zip(xyz, js):
        assert a.info["REF_energy"] == pytest.approx(b.info["REF_energy"], abs=1e-10)
        assert np.allclose(a.arrays["REF_forces"], b.arrays["REF_forces"])
        assert np.allclose(a.positions, b.positions, atol=1e-6)
    assert js[0].info["config_type"] in {"Elastic", "AIMD-NVT", "Vacancy", "Surface"}
    assert "REF_virial" in js[0].info and "REF_virial" not in xyz[0].info


def test_mlearn_virial_sign_and_units_from_the_work_of_strain(mirror):
    """Between two strained cells of the same elastic mode, dE = -W : d(eps) (W = -stress V):
    the virial read from virial_stress (kbar) must satisfy it with slope 1."""
    docs = json.load(lzma.open(mirror / "zuo2020/mlearn_json/Si/training.json.xz"))
    frames = read_mlearn_json(mirror / "zuo2020/mlearn_json/Si/training.json.xz", "zuo_Si")
    elastic = [(re.search(r"mode (\d+)", d["description"]).group(1), a)
               for d, a in zip(docs, frames) if d["group"] == "Elastic" and "mode" in d["description"]]
    work = []
    for (mi, a), (mj, b) in itertools.combinations(elastic, 2):
        if mi != mj or len(a) != len(b):
            continue
        F = np.linalg.solve(a.cell.array, b.cell.array).T
        eps = 0.5 * (F + F.T) - np.eye(3)
        if np.abs(eps).max() > 0.025:
            continue
        W = 0.5 * (a.info["REF_virial"] + b.info["REF_virial"]).reshape(3, 3)
        work.append((b.info["REF_energy"] - a.info["REF_energy"], -(W * eps).sum()))
    work = np.array(work)
    assert len(work) > 20
    slope = np.linalg.lstsq(work[:, 1:], work[:, 0], rcond=None)[0][0]
    assert slope == pytest.approx(1.0, abs=0.02)
    assert np.corrcoef(work.T)[0, 1] > 0.99


def test_gap_keys_and_water_keys(mirror):
    si = read_extxyz(mirror / "si_gap2018/ACEData_Si_tiny.tar.gz", "dft_energy", "dft_force",
                     "dft_virial", dataset="si_tiny", member="Si_tiny.xyz")
    assert len(si) == 53
    assert {a.info["config_type"] for a in si} == {"dia", "bt", "liq", "isolated_atom"}
    iso = next(a for a in si if a.info["config_type"] == "isolated_atom")
    assert iso.info["REF_energy"] == pytest.approx(-158.54496821)
    dia = next(a for a in si if a.info["config_type"] == "dia")
    assert dia.info["REF_virial"].shape == (9,)
    water = read_extxyz(mirror / "water_cheng2019/PARTIAL_train_30_water_1000_eVAng.xyz.xz",
                        "TotEnergy", "force", dataset="water", elements=["H", "O"])
    assert len(water) == 30 and len(water[0]) == 192
    assert -30100 < water[0].info["REF_energy"] < -29900


def test_canonical_round_trip(tmp_path, mirror):
    si = read_extxyz(mirror / "si_gap2018/ACEData_Si_tiny.tar.gz", "dft_energy", "dft_force",
                     "dft_virial", dataset="si_tiny", member="Si_tiny.xyz")
    write_extxyz_atomic(tmp_path / "c.xyz", si)
    back = read_canonical(tmp_path / "c.xyz")
    for a, b in zip(si, back):
        assert b.info["REF_energy"] == a.info["REF_energy"]
        assert np.array_equal(a.arrays["REF_forces"], b.arrays["REF_forces"])
        assert b.info["dataset"] == "si_tiny" and b.calc is None
        if "REF_virial" in a.info:
            assert np.allclose(a.info["REF_virial"], b.info["REF_virial"])


def frame_text(energy="energy=-10.0 ", force_cols=3, value="0.1", symbol="Si", n=2):
    props = "Properties=species:S:1:pos:R:3:force:R:" + str(force_cols)
    lines = [str(n), f'Lattice="5 0 0 0 5 0 0 0 5" {props} {energy}pbc="T T T"']
    for i in range(n):
        lines.append(f"{symbol} {i} 0 0 " + " ".join([value] * force_cols))
    return "\n".join(lines) + "\n"


def _with_count(text, count):
    """``text`` (one frame) with its count line replaced by ``count``."""
    return text.replace(text.split("\n", 1)[0], count, 1)


@pytest.mark.parametrize("text,message", [
    (frame_text(energy=""), "frame 0: field energy missing"),
    (frame_text(force_cols=2), "frame 0: field force has shape"),
    (frame_text(value="nan"), "frame 0: field force has NaN"),
    (frame_text(energy="energy=inf "), "frame 0: field energy has NaN"),
    (frame_text(energy="energy=abc "), r"frame 0: field energy is not numeric \('abc'\)"),
    (frame_text() + frame_text(symbol="Ge"), r"frame 1: field symbols: element\(s\) \['Ge'\]"),
    ("", "empty file"),
    (frame_text() + frame_text()[:-40], "frame 1: line 5 announces 2 atoms but only 1 atom line"),
    (frame_text() + frame_text()[:-5], "frame 1: cannot parse"),
    (frame_text() + frame_text() + "junk\n", "frame 2: line 9 should be the number of atoms of the "
                                             "next frame, got 'junk': junk after the last frame"),
    (frame_text() + "\n" + frame_text(), "frame 1: blank line 5 where a frame should start, with "
                                         "more data at line 6"),
    # a wrong count line is reported on the frame it belongs to (issue 23 §4)
    # frame 1 (lines 5-8) says 1 atom instead of 2: its second atom line is read as a count line
    (frame_text() + _with_count(frame_text(), "1") + frame_text(),
     r"frame 1: line 5 announces 1 atoms but line 8 after them is one more atom line "
     r"\('Si 1 0 0 0.1 0.1 0.1'\): atom count too small\?"),
    (frame_text() + _with_count(frame_text(), "1"), "frame 1: line 5 announces 1 atoms but "
     "line 8 after them is one more atom line"),
    # frame 1 says 3 atoms: it would swallow frame 2's count line
    (frame_text() + _with_count(frame_text(), "3") + frame_text(),
     r"frame 1: line 5 announces 3 atoms but line 9, after 2 atom line\(s\), is the count line "
     r"of another frame: atom count too large\?"),
    (frame_text() + _with_count(frame_text(), "4") + frame_text(),
     "frame 1: line 5 announces 4 atoms but line 9, after 2 atom line"),
    (frame_text() + _with_count(frame_text(), "3"), r"frame 1: line 5 announces 3 atoms but only "
     r"2 atom line\(s\) follow: truncated file, or atom count too large\?"),
    *[(frame_text() + _with_count(frame_text(), count) + frame_text(),
       f"frame 1: line 5 should be the number of atoms of frame 1, got {count!r}: not a whole "
       "number of atoms") for count in ("2.0", "two", "-2")],
    (_with_count(frame_text(), "2.5"), "frame 0: line 1 should be the number of atoms of frame 0, "
     "got '2.5'"),
])
def test_bad_input_names_file_frame_and_field(tmp_path, text, message):
    path = tmp_path / "bad.xyz"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as err:
        read_extxyz(path, "energy", "force", elements=["Si"])
    assert str(path) in str(err.value)


def test_archive_member_that_is_not_a_file(tmp_path):
    import tarfile

    (tmp_path / "d").mkdir()
    with tarfile.open(tmp_path / "a.tar", "w") as tar:
        tar.add(tmp_path / "d", arcname="d")
    with pytest.raises(DataError, match=r"a.tar: archive member 'd' is not a file"):
        read_extxyz(tmp_path / "a.tar", "energy", "force", member="d")
    with pytest.raises(DataError, match=r"a.tar: archive has no member '../evil.xyz'"):
        read_extxyz(tmp_path / "a.tar", "energy", "force", member="../evil.xyz")


def test_degenerate_periodic_cell_named_on_reading(tmp_path):
    """Every reader refuses a periodic frame whose cell has zero volume (issue 23 §4)."""
    flat = frame_text().replace('0 0 5"', '0 0 0"')
    (tmp_path / "flat.xyz").write_text(frame_text() + flat)
    with pytest.raises(DataError, match=re.escape(
            "flat.xyz, frame 1: field cell: periodic structure (pbc T T T) with a degenerate "
            "cell [[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 0.0]] of zero volume")):
        read_extxyz(tmp_path / "flat.xyz", "energy", "force")
    # without periodicity the same cell is fine (an isolated structure gets its own box)
    (tmp_path / "molecule.xyz").write_text(flat.replace('pbc="T T T"', 'pbc="F F F"'))
    assert len(read_extxyz(tmp_path / "molecule.xyz", "energy", "force")) == 1
    doc = {"structure": {"lattice": {"matrix": [[3, 0, 0], [3, 0, 0], [0, 0, 3]]},
                         "sites": [{"species": [{"element": "Si"}], "xyz": [0, 0, 0]}]},
           "outputs": {"energy": 1.0, "forces": [[0, 0, 0]]}}
    (tmp_path / "flat.json").write_text(json.dumps([doc]))
    with pytest.raises(DataError, match=r"flat.json, frame 0: field cell: periodic structure "
                                        r"\(pbc T T T\) with a degenerate cell"):
        read_mlearn_json(tmp_path / "flat.json")


def test_bad_mlearn_json(tmp_path):
    (tmp_path / "t.json").write_text('[{"structure": {"lattice": {"matrix": [[1')
    with pytest.raises(DataError, match="not valid JSON"):
        read_mlearn_json(tmp_path / "t.json")
    atoms = bulk("Si", "diamond", 5.43)
    doc = {"structure": {"lattice": {"matrix": atoms.cell.tolist()},
                         "sites": [{"species": [{"element": "Xx"}], "xyz": [0, 0, 0]}]},
           "outputs": {"energy": 1.0, "forces": [[0, 0, 0]]}}
    (tmp_path / "u.json").write_text(json.dumps([doc]))
    with pytest.raises(DataError, match="frame 0: field species: unknown element 'Xx'"):
        read_mlearn_json(tmp_path / "u.json")
    doc["structure"]["sites"][0]["species"][0]["element"] = "Si"
    for edit, message in [
            (lambda d: d["outputs"].pop("energy"), "frame 1: field outputs.energy missing"),
            (lambda d: d["outputs"].update(energy="abc"),
             r"frame 1: field outputs.energy is not numeric \('abc'\)"),
            (lambda d: d["outputs"].update(virial_stress=[1, 2]),
             "frame 1: field outputs.virial_stress is not 6 numbers"),
            (lambda d: d["structure"].pop("sites"), "frame 1: field 'sites' missing"),
            (lambda d: d.update(outputs=None), "frame 1: expected a document with an object 'outputs'")]:
        bad = json.loads(json.dumps(doc))
        edit(bad)
        (tmp_path / "v.json").write_text(json.dumps([doc, bad]))
        with pytest.raises(DataError, match=message) as err:
            read_mlearn_json(tmp_path / "v.json")
        assert str(tmp_path / "v.json") in str(err.value)
    (tmp_path / "w.json").write_text(json.dumps({"docs": [doc]}))
    with pytest.raises(DataError, match="w.json: expected a JSON list of documents, got a dict"):
        read_mlearn_json(tmp_path / "w.json")


def test_stress_written_by_ase_gives_the_virial(tmp_path):
    """A SinglePointCalculator's stress (eV/Å^3) is read as the virial -stress * volume (eV)
    when the file has no virial (the default --virial-key)."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    atoms = bulk("Cu", "fcc", 3.6, cubic=True)
    stress = np.array([0.10, 0.11, 0.12, 0.013, 0.014, 0.015])  # xx yy zz yz xz xy
    atoms.calc = SinglePointCalculator(atoms, energy=-1.0, forces=np.zeros((4, 3)), stress=stress)
    write(tmp_path / "spc.xyz", atoms, format="extxyz")
    frame, = read_extxyz(tmp_path / "spc.xyz", "energy", "forces", "virial")
    xx, yy, zz, yz, xz, xy = stress
    full = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    assert np.allclose(frame.info["REF_virial"].reshape(3, 3), -full * 3.6 ** 3)
    frame, = read_extxyz(tmp_path / "spc.xyz", "energy", "forces", None)  # --virial-key ''
    assert "REF_virial" not in frame.info
    atoms.pbc, atoms.cell = False, None
    atoms.calc = SinglePointCalculator(atoms, energy=-1.0, forces=np.zeros((4, 3)), stress=stress)
    write(tmp_path / "molecule.xyz", atoms, format="extxyz")
    with pytest.raises(DataError, match=r"molecule.xyz, frame 0: field stress needs a 3-d cell"):
        read_extxyz(tmp_path / "molecule.xyz", "energy", "forces", "virial")


def test_frame_sizes_reads_the_count_lines(tmp_path):
    """frame_sizes: atom counts from the count lines alone; a count line that is not a number
    is named with its frame and line."""
    from ase.build import bulk

    from sparseace.io import frame_sizes

    frames = [bulk("Si", "diamond", 5.43, cubic=True), bulk("Si", "diamond", 5.43).repeat(2)]
    for atoms in frames:
        atoms.info["REF_energy"] = -1.0
    path = tmp_path / "f.xyz"
    write_extxyz_atomic(path, frames)
    assert frame_sizes(path) == [8, 16]
    path.write_text(path.read_text().replace("16\n", "sixteen\n", 1))
    with pytest.raises(DataError, match=r"f.xyz, frame 1: line 11 should be the number of atoms"):
        frame_sizes(path)
