"""Fetch a source file from a local mirror or its URL, always verifying sha256.

A source is a dict from the config's ``sources`` table:

    url: original address
    sha256: hash of the file as the URL serves it (null: unknown, recorded at first fetch)
    mirror: path of the file inside the mirror directory (optional)
    mirror_sha256: hash of the mirror file when the mirror stores it xz-compressed (optional)

The mirror is tried first; the fetched file is written atomically, with a provenance record
``<file>.provenance.json`` next to it.
"""

from __future__ import annotations

import logging
import lzma
import shutil
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .provenance import atomic_path, file_sha256, write_json_atomic

log = logging.getLogger(__name__)


class ChecksumError(RuntimeError):
    """A fetched file does not have the expected sha256."""


def _verify(path: Path, expected: str | None, what: str) -> str:
    actual = file_sha256(path)
    if expected is not None and actual != expected.lower():
        raise ChecksumError(f"sha256 mismatch for {what}: expected {expected}, got {actual}")
    return actual


def fetch(source: dict, dest, mirror=None) -> dict:
    """Copy ``source`` to ``dest`` from ``mirror`` (when it has the file) or download it.

    Returns the provenance record (also written to ``<dest>.provenance.json``)."""
    dest = Path(dest)
    record = {"url": source.get("url"), "mirror": None, "expected_sha256": source.get("sha256"),
              "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "sparseace": __version__}
    mirrored = Path(mirror) / source["mirror"] if mirror and source.get("mirror") else None
    with atomic_path(dest, dest.suffix) as tmp:
        if mirrored is not None and mirrored.exists():
            record["mirror"] = str(mirrored)
            compressed = source.get("mirror_sha256") is not None
            record["mirror_sha256"] = _verify(mirrored, source.get("mirror_sha256"),
                                              f"{mirrored} (mirror copy)")
            if compressed:
                with lzma.open(mirrored, "rb") as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
            else:
                shutil.copyfile(mirrored, tmp)
            log.info("copied %s from the mirror %s", dest.name, mirrored)
        else:
            if not source.get("url"):
                raise FileNotFoundError(f"{dest.name}: not in the mirror ({mirrored}) and no URL")
            log.info("downloading %s", source["url"])
            with urllib.request.urlopen(source["url"], timeout=120) as response, \
                    open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
        record["sha256"] = _verify(tmp, source.get("sha256"), f"{dest} (from {record['mirror'] or record['url']})")
        record["bytes"] = tmp.stat().st_size
    if source.get("sha256") is None:
        log.warning("%s: no upstream sha256 configured; recorded %s at first fetch", dest.name,
                    record["sha256"])
    write_json_atomic(f"{dest}.provenance.json", record)
    return record
