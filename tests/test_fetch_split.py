"""Fetching (mirror first, sha256 always) and seeded splits."""

import hashlib
import json
import lzma

import numpy as np
import pytest

from sparseace.fetch import ChecksumError, fetch, git_blob_sha1, verify_fetched
from sparseace.split import split_counts, split_indices


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_mirror_first_never_touches_the_url(tmp_path):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "f.txt").write_bytes(b"payload")
    source = {"url": "http://invalid.invalid/never", "sha256": sha(b"payload"), "mirror": "f.txt"}
    record = fetch(source, tmp_path / "out" / "f.txt", tmp_path / "mirror")
    assert (tmp_path / "out" / "f.txt").read_bytes() == b"payload"
    assert record["mirror"].endswith("f.txt")
    assert json.loads((tmp_path / "out" / "f.txt.provenance.json").read_text())["sha256"] == sha(b"payload")


def test_compressed_mirror_copy_is_verified_and_decompressed(tmp_path):
    packed = lzma.compress(b"raw bytes")
    (tmp_path / "f.xz").write_bytes(packed)
    source = {"url": "http://invalid.invalid/", "sha256": sha(b"raw bytes"), "mirror": "f.xz",
              "mirror_sha256": sha(packed)}
    fetch(source, tmp_path / "out" / "f", tmp_path)
    assert (tmp_path / "out" / "f").read_bytes() == b"raw bytes"


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_download_verified_against_its_git_blob_pin_and_sha256_recorded(tmp_path):
    (tmp_path / "remote").write_bytes(b"remote data")
    source = {"url": (tmp_path / "remote").as_uri(), "sha256": None,
              "git_sha1": git_sha1(b"remote data")}
    record = fetch(source, tmp_path / "out" / "remote", mirror=tmp_path / "empty")
    assert record["mirror"] is None and record["sha256"] == sha(b"remote data")
    assert git_blob_sha1(tmp_path / "out" / "remote") == source["git_sha1"]
    source["git_sha1"] = git_sha1(b"other data")
    with pytest.raises(ChecksumError, match="git blob SHA-1 mismatch"):
        fetch(source, tmp_path / "out2" / "remote")


def test_a_source_without_any_pin_is_refused(tmp_path):
    (tmp_path / "remote").write_bytes(b"remote data")
    with pytest.raises(ChecksumError, match="no pin"):
        fetch({"url": (tmp_path / "remote").as_uri(), "sha256": None}, tmp_path / "out" / "r")
    assert not (tmp_path / "out" / "r").exists()


@pytest.mark.parametrize("pin", ["sha256", "git_sha1"])
def test_a_tampered_raw_file_is_caught_before_use(tmp_path, pin):
    (tmp_path / "remote").write_bytes(b"pinned data")
    source = {"url": (tmp_path / "remote").as_uri(), "sha256": None, "git_sha1": None,
              pin: sha(b"pinned data") if pin == "sha256" else git_sha1(b"pinned data")}
    dest = tmp_path / "raw" / "file"
    fetch(source, dest)
    assert verify_fetched(dest, source) == sha(b"pinned data")
    dest.write_bytes(b"pinned datA")
    with pytest.raises(ChecksumError, match="the file was changed"):
        verify_fetched(dest, source, "source x")


def test_local_source_pinned_at_first_use(tmp_path):
    local = tmp_path / "mine.xyz"
    local.write_bytes(b"my structures")
    source = {"path": str(local), "file": "mine.xyz"}
    dest = tmp_path / "raw" / "mine.xyz"
    record = fetch(source, dest)
    assert record["sha256"] == sha(b"my structures") and record["path"] == str(local)
    assert verify_fetched(dest, source) == sha(b"my structures")
    fetch(source, dest)  # unchanged: fetched again without complaint
    local.write_bytes(b"my structures, edited")
    with pytest.raises(ChecksumError, match="changed; delete"):
        fetch(source, dest)
    assert dest.read_bytes() == b"my structures"  # the pinned copy stays
    dest.write_bytes(b"tampered copy")
    with pytest.raises(ChecksumError, match="recorded at first use"):
        verify_fetched(dest, source)


def test_sha256_mismatch_is_loud_and_leaves_nothing(tmp_path):
    (tmp_path / "remote").write_bytes(b"tampered")
    source = {"url": (tmp_path / "remote").as_uri(), "sha256": sha(b"original")}
    with pytest.raises(ChecksumError) as err:
        fetch(source, tmp_path / "out" / "remote")
    assert sha(b"original") in str(err.value) and sha(b"tampered") in str(err.value)
    assert "out/remote" in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_official_test_split_deterministic_and_disjoint():
    types = ["a"] * 100 + ["b"] * 20
    parts = split_indices("official_test", types, n_fixed_train=100, seed=1, val_fraction=0.15)
    again = split_indices("official_test", types, n_fixed_train=100, seed=1, val_fraction=0.15)
    other = split_indices("official_test", types, n_fixed_train=100, seed=2, val_fraction=0.15)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)
    assert not np.array_equal(parts["val"], other["val"])
    assert len(parts["val"]) == 15 and len(parts["train"]) == 85
    assert np.array_equal(parts["test"], np.arange(100, 120))
    everything = np.concatenate(list(parts.values()))
    assert len(np.unique(everything)) == 120


def test_stratified_split_counts_and_drops():
    types = ["dia"] * 40 + ["liq"] * 2 + ["bt"] * 20 + ["isolated_atom"]
    parts = split_indices("stratified", types, seed=4, drop=["isolated_atom"])
    counts = split_counts(types, parts)
    assert counts["test"] == {"bt": 3, "dia": 6}
    assert counts["val"] == {"bt": 3, "dia": 6}
    assert counts["train"] == {"bt": 14, "dia": 28, "liq": 2}
    assert 62 not in np.concatenate(list(parts.values()))
    with pytest.raises(ValueError):
        split_indices("stratified", types, val_fraction=1.5)


def test_seeded_pool_split():
    parts = split_indices("fixed_or_seeded", ["w"] * 130, seed=1, test_fraction=0.15)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [94, 16, 20]
