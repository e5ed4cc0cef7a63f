"""Atomic writes and provenance records."""

import hashlib
import json

import pytest

from sparseace.provenance import atomic_path, inputs_record, package_versions, write_json_atomic


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out" / "result.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_json_and_inputs(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    record = inputs_record([tmp_path / "a.json"])
    expected = hashlib.sha256((tmp_path / "a.json").read_bytes()).hexdigest()
    assert record == {str(tmp_path / "a.json"): expected}
    assert {"numpy", "sparseace", "python"} <= set(package_versions())
