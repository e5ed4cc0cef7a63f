"""Shared test fixtures: the dataset mirror (tests that read it skip without it) and one run of
the workflow on the small test configuration, shared by every test (and xdist worker) of a
session."""

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SPARSEACE_MIRROR", REPO.parent / "shared" / "data"))
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


@pytest.fixture(scope="session")
def mirror():
    if not (MIRROR / "MANIFEST.md").exists():
        pytest.skip(f"dataset mirror not found at {MIRROR} (set SPARSEACE_MIRROR)")
    return MIRROR


def small_config(directory: Path) -> Path:
    """tests/workflow_config.yaml (a whole study) as the run's own config (the Snakefile's
    configfile)."""
    (directory / "config").mkdir(parents=True, exist_ok=True)
    path = directory / "config/config.yaml"
    path.write_text((REPO / "tests/workflow_config.yaml").read_text())
    return path


def workflow_env(**extra):
    """The environment of workflow runs: the test's solver plugin (tests/toy_solvers.py) on the
    path."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests"),
                                                      env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="session")
def run(tmp_path_factory, mirror):
    """Directory of one workflow run on the small configuration.  xdist workers share it: the
    first to ask runs Snakemake under a file lock, the others wait and reuse the result."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory, outcome = shared / "workflow", shared / "workflow.outcome.json"
    with open(shared / "workflow.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not outcome.exists():
            configfile = small_config(directory)
            out = subprocess.run([SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"),
                                  "--directory", str(directory), "--configfile", str(configfile),
                                  "--cores", "2"], capture_output=True, text=True,
                                 env=workflow_env(SPARSEACE_MIRROR=str(mirror)))
            outcome.write_text(json.dumps({"returncode": out.returncode,
                                           "stderr": out.stderr[-5000:]}))
    result = json.loads(outcome.read_text())
    assert result["returncode"] == 0, result["stderr"]
    return directory
