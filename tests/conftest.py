"""Shared test fixtures: the dataset mirror (tests that read it skip without it)."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("SPARSEACE_MIRROR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def mirror():
    if not (MIRROR / "MANIFEST.md").exists():
        pytest.skip(f"dataset mirror not found at {MIRROR} (set SPARSEACE_MIRROR)")
    return MIRROR
