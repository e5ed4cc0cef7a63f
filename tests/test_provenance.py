"""Atomic writes and provenance records."""

import hashlib
import json
import os
import subprocess
import sys

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


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_path_honours_the_umask(tmp_path, umask, mode):
    """Colleagues read results on a shared directory as they read any file the user writes."""
    old = os.umask(umask)
    try:
        write_json_atomic(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == mode


def test_atomic_json_and_inputs(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
    record = inputs_record([tmp_path / "a.json"])
    expected = hashlib.sha256((tmp_path / "a.json").read_bytes()).hexdigest()
    assert record == {str(tmp_path / "a.json"): expected}
    assert {"numpy", "sparseace", "python"} <= set(package_versions())


def test_script_exception_goes_to_its_log_and_stderr(tmp_path):
    script = ("from sparseace.provenance import setup_logging\n"
              f"setup_logging({str(tmp_path / 'job.log')!r})\n"
              "def stage():\n    raise ValueError('frame 3: field energy missing')\n"
              "stage()\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 1
    log = (tmp_path / "job.log").read_text()
    for text in (log, out.stderr):
        assert "Traceback (most recent call last)" in text and "in stage" in text
        assert "ValueError: frame 3: field energy missing" in text
