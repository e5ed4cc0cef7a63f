"""Outputs never destroy inputs, runs do not collide, a failed fit leaves the previous output
set as it was, and an output that cannot be written is found before any work."""

import os

import numpy as np
import pytest
from ase.io import write

from sparseace import cli
from sparseace.cli import output_paths
from sparseace.outputs import OutputError, OutputSet, check_outputs
from test_cli import FIT, copper, run_main


@pytest.fixture
def files(tmp_path):
    """Input files whose content is not data: a command that reads them before refusing its
    outputs fails with another message."""
    for name in ("train.xyz", "test.xyz", "val.xyz", "w.yaml", "m.json", "m.sace", "start.xyz"):
        (tmp_path / name).write_text(f"precious {name}\n")
    return tmp_path


OUTPUT_IS_INPUT = [
    (["fit", "train.xyz", *FIT, "-o", "train.xyz"], "train.xyz", "(argument TRAIN.xyz)"),
    (["fit", "train.xyz", *FIT, "--test", "test.xyz", "-o", "test.xyz"], "test.xyz",
     "(option --test)"),
    (["fit", "train.xyz", *FIT, "--val", "val.xyz", "-o", "val.xyz"], "val.xyz",
     "(option --val)"),
    (["fit", "train.xyz", *FIT, "--weights-file", "w.yaml", "-o", "w.yaml"], "w.yaml",
     "(option --weights-file)"),
    (["fit", "train.xyz", *FIT, "--test", "m.errors.csv", "-o", "m.json"], "m.errors.csv",
     "(option --test)"),  # another file of the fit's output set
    (["fit", "train.xyz", *FIT, "-o", "link.xyz"], "train.xyz", "(argument TRAIN.xyz; the same file through a link)"),
    (["fit", "train.xyz", *FIT, "-o", "hard.xyz"], "train.xyz", "(argument TRAIN.xyz; the same file through a link)"),
    (["errors", "m.json", "test.xyz", "-o", "test.xyz"], "test.xyz", "(argument DATA.xyz)"),
    (["errors", "m.json", "test.xyz", "-o", "m.json"], "m.json", "(argument MODEL.json)"),
    (["export-lammps", "m.json", "-o", "m.json"], "m.json", "(argument MODEL.json)"),
    (["export-lammps", "m.sace"], "m.sace", "(argument MODEL.json)"),  # default MODEL.sace
    (["md", "m.json", "start.xyz", "--trajectory", "start.xyz"], "start.xyz",
     "(argument START.xyz)"),
    (["md", "m.json", "start.xyz", "--trajectory", "m.json"], "m.json", "(argument MODEL.json)"),
    (["md", "m.json", "start.xyz", "-o", "m.json"], "m.json", "(argument MODEL.json)"),
    (["md", "m.json", "start.xyz", "--thermo", "start.xyz"], "start.xyz",
     "(argument START.xyz)"),
]


@pytest.mark.parametrize("args, victim, named", OUTPUT_IS_INPUT)
def test_an_output_that_is_an_input_is_refused_before_any_work(files, capsys, monkeypatch,
                                                               args, victim, named):
    monkeypatch.chdir(files)
    os.symlink("train.xyz", "link.xyz")
    os.link("train.xyz", "hard.xyz")
    before = {p.name: p.read_bytes() for p in files.iterdir()}
    status, err = run_main(capsys, *args)
    assert status == 2, err
    assert "the output" in err and f"is the input {victim} {named}" in err, err
    assert "writing it would destroy the input" in err
    assert {p.name: p.read_bytes() for p in files.iterdir()} == before


def test_two_outputs_naming_one_file_are_refused(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    status, err = run_main(capsys, "md", "m.json", "start.xyz", "--thermo", "out.csv",
                           "-o", "out.csv")
    assert status == 2 and "options --thermo and -o both name out.csv" in err, err


def test_a_second_fit_on_the_same_output_stops_naming_the_lock(files, capsys):
    paths = output_paths(files / "m.json")
    with OutputSet(paths, "-o"):  # a fit running on these outputs
        assert (files / ".m.sparseace-lock").read_text().strip() == str(os.getpid())
        status, err = run_main(capsys, "fit", files / "train.xyz", *FIT, "-o", files / "m.json")
    assert status == 2, err
    assert f"(process {os.getpid()})" in err
    assert f"holds the lock {files / '.m.sparseace-lock'}" in err
    assert not (files / ".m.sparseace-lock").exists()  # removed by the run that held it
    with OutputSet(paths, "-o"):  # free again
        pass


def test_output_set_is_replaced_as_a_whole_or_not_at_all(tmp_path):
    paths = {"model": tmp_path / "m.json", "curve": tmp_path / "m.curve.csv",
             "errors": tmp_path / "m.errors.csv"}
    for p in paths.values():
        p.write_text("old")
    with pytest.raises(RuntimeError):
        with OutputSet(paths, "-o") as staged:
            staged["model"].write_text("new")
            raise RuntimeError("the fit failed")
    assert [p.read_text() for p in paths.values()] == ["old"] * 3
    with OutputSet(paths, "-o") as staged:
        assert all(p.parent == tmp_path / ".m.sparseace-partial" for p in staged.values())
        staged["model"].write_text("new")
        staged["curve"].write_text("new")
        assert paths["model"].read_text() == "old"
    assert paths["model"].read_text() == paths["curve"].read_text() == "new"
    assert not paths["errors"].exists()  # the new set has no such file: the old one goes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.curve.csv", "m.json"]


def test_a_failed_refit_leaves_the_previous_output_set_byte_identical(tmp_path, capsys):
    write(tmp_path / "train.xyz", copper(12, 1), format="extxyz")
    bad = copper(3, 2)
    bad[2].cell = np.zeros((3, 3))  # pbc stays True: a periodic cell of zero volume
    write(tmp_path / "bad.xyz", bad, format="extxyz")
    out = tmp_path / "fit/Cu.json"
    assert cli.main(["fit", str(tmp_path / "train.xyz"), *FIT, "-q", "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.parent.iterdir()}
    assert len(before) == 5
    status, err = run_main(capsys, "fit", tmp_path / "train.xyz", *FIT, "--test",
                           tmp_path / "bad.xyz", "--max-active", "10", "-o", out)
    assert status == 1
    assert f"{tmp_path / 'bad.xyz'}, frame 2: field cell: periodic structure (pbc T T T) with a degenerate cell" in err
    assert "design rows" not in err  # refused before the design
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == before
    status, err = run_main(capsys, "errors", out, tmp_path / "bad.xyz")
    assert status == 1
    assert f"{tmp_path / 'bad.xyz'}, frame 2: field cell: periodic structure (pbc T T T) with a degenerate cell" in err


@pytest.mark.parametrize("command", [["fit", "train.xyz", *FIT], ["errors", "m.json", "test.xyz"],
                                     ["export-lammps", "m.json"], ["md", "m.json", "start.xyz"]])
def test_an_output_under_a_regular_file_is_refused_before_reading(files, capsys, monkeypatch,
                                                                  command):
    monkeypatch.chdir(files)
    status, err = run_main(capsys, *command, "-o", "train.xyz/sub/out")
    assert status == 2, err
    assert "option -o: cannot write train.xyz/sub/out: train.xyz is a file, not a directory" in err


@pytest.mark.parametrize("output", ["adir", "adir/", "newdir/"])
def test_an_output_naming_a_directory_is_refused(files, capsys, monkeypatch, output):
    monkeypatch.chdir(files)
    (files / "adir").mkdir()
    status, err = run_main(capsys, "fit", "train.xyz", *FIT, "-o", output)
    assert status == 2 and f"option -o: {output} names a directory; give a file name" in err, err
    assert not (files / "newdir").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only directories")
def test_an_output_in_a_read_only_directory_is_refused(files, capsys):
    (files / "ro").mkdir(mode=0o555)
    status, err = run_main(capsys, "fit", files / "train.xyz", *FIT, "-o", files / "ro/m.json")
    assert status == 2
    assert f"cannot write {files / 'ro/m.json'}: directory {files / 'ro'}: Permission" in err


def test_check_outputs_creates_missing_directories(tmp_path):
    check_outputs([("-o", tmp_path / "a/b/m.json")], [])
    assert (tmp_path / "a/b").is_dir() and list((tmp_path / "a/b").iterdir()) == []
    with pytest.raises(OutputError, match="option --thermo: the output"):
        check_outputs([("--thermo", tmp_path / "x.csv")], [("argument START.xyz",
                                                           tmp_path / "x.csv")])
