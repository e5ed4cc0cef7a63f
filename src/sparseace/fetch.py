"""Fetch a source file from a local mirror, its URL or a local path, always verifying a pin.

A source is a dict from the config's ``sources`` table:

    url: original address                          (or ``path``: a local file of the user's)
    sha256: hash of the file as the URL serves it   (null when only the git pin is known)
    git_sha1: git blob SHA-1 of the file at a pinned commit, sha1(b"blob <size>\\0" + bytes),
              what ``git hash-object`` prints (a pin for files whose sha256 is not published)
    mirror: path of the file inside the mirror directory (optional)
    mirror_sha256: hash of the mirror file when the mirror stores it xz-compressed (optional)

A URL source without any pin is refused.  A local ``path`` source needs none: its sha256 is
recorded at first use (``<raw dir>/<file>.pin``) and every later fetch and use is verified
against it.  The mirror is tried first; the fetched file is written atomically, with a
provenance record ``<file>.provenance.json`` next to it that records its sha256.  Every stage
that reads a fetched file first checks it against its pin (``verify_fetched``), so a tampered
raw file never reaches the results.
"""

from __future__ import annotations

import hashlib
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
    """A file does not match its pin (sha256 or git blob SHA-1)."""


def git_blob_sha1(path) -> str:
    """Git's blob hash of a file: sha1 of b"blob <size>\\0" followed by the bytes."""
    path = Path(path)
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pin_file(dest) -> Path:
    """Where a local source's first-use sha256 is kept (not a workflow output: it survives
    re-fetches)."""
    return Path(f"{dest}.pin")


def check_pins(source: dict, name: str = "source") -> None:
    """A URL source must carry a sha256 or a git blob SHA-1 pin."""
    if source.get("path") is None and not (source.get("sha256") or source.get("git_sha1")):
        raise ChecksumError(f"{name}: no pin (sha256 or git_sha1): an unverifiable download is "
                            "refused; add the file's sha256 to the configuration")


def verify_fetched(path, source: dict, name: str = "source") -> str:
    """Check a fetched file against its pin before use; returns its sha256."""
    path = Path(path)
    actual = file_sha256(path)
    if source.get("sha256"):
        expected, what = source["sha256"].lower(), "sha256 pinned in the configuration"
    elif source.get("path") is not None:
        pin = pin_file(path)
        if not pin.exists():
            raise ChecksumError(f"{path}: local source {name} has no recorded sha256 ({pin} "
                                "missing); fetch it again")
        expected, what = pin.read_text().strip(), f"sha256 recorded at first use ({pin})"
    else:
        check_pins(source, name)
        blob = git_blob_sha1(path)
        if blob != source["git_sha1"].lower():
            raise ChecksumError(f"{path}: git blob SHA-1 {blob} differs from the pin "
                                f"{source['git_sha1']} of {name}: the file was changed")
        return actual
    if actual != expected:
        raise ChecksumError(f"{path}: sha256 {actual} differs from the {what} ({expected}) of "
                            f"{name}: the file was changed or is not the pinned one")
    return actual


def fetch(source: dict, dest, mirror=None, name: str = "source") -> dict:
    """Copy ``source`` to ``dest`` from ``mirror`` (when it has the file), its local ``path`` or
    its URL, and verify it.  Returns the provenance record (also written to
    ``<dest>.provenance.json``)."""
    check_pins(source, name)
    dest = Path(dest)
    record = {"url": source.get("url"), "path": source.get("path"), "mirror": None,
              "expected_sha256": source.get("sha256"), "git_sha1": source.get("git_sha1"),
              "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "sparseace": __version__}
    mirrored = Path(mirror) / source["mirror"] if mirror and source.get("mirror") else None
    with atomic_path(dest, dest.suffix) as tmp:
        if mirrored is not None and mirrored.exists():
            record["mirror"] = str(mirrored)
            record["mirror_sha256"] = file_sha256(mirrored)
            if source.get("mirror_sha256") and record["mirror_sha256"] != source["mirror_sha256"]:
                raise ChecksumError(f"{mirrored} (mirror copy of {name}): sha256 "
                                    f"{record['mirror_sha256']} differs from the pin "
                                    f"{source['mirror_sha256']}")
            if source.get("mirror_sha256"):  # stored xz-compressed
                with lzma.open(mirrored, "rb") as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
            else:
                shutil.copyfile(mirrored, tmp)
            log.info("copied %s from the mirror %s", dest.name, mirrored)
        elif source.get("path") is not None:
            local = Path(source["path"])
            if not local.is_file():
                raise FileNotFoundError(f"{name}: local file {local} not found")
            shutil.copyfile(local, tmp)
            log.info("copied %s from %s", dest.name, local)
        else:
            if not source.get("url"):
                raise FileNotFoundError(f"{name}: not in the mirror ({mirrored}) and no URL")
            log.info("downloading %s", source["url"])
            with urllib.request.urlopen(source["url"], timeout=120) as response, \
                    open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
        record["sha256"] = file_sha256(tmp)
        record["bytes"] = tmp.stat().st_size
        origin = record["mirror"] or source.get("path") or record["url"]
        if source.get("path") is not None and not source.get("sha256"):
            pin = pin_file(dest)
            if pin.exists() and pin.read_text().strip() != record["sha256"]:
                raise ChecksumError(
                    f"{origin}: sha256 {record['sha256']} differs from the one recorded at its "
                    f"first use ({pin.read_text().strip()}, in {pin}): the local file of {name} "
                    f"changed; delete {pin} to accept the new file")
        else:
            _verify_download(tmp, source, f"{dest} (from {origin})")
    if source.get("path") is not None and not source.get("sha256") and not pin_file(dest).exists():
        with atomic_path(pin_file(dest)) as tmp:
            tmp.write_text(record["sha256"] + "\n")
        log.info("%s: recorded sha256 %s at first use", name, record["sha256"])
    write_json_atomic(f"{dest}.provenance.json", record)
    return record


def _verify_download(path: Path, source: dict, what: str) -> None:
    """A fetched file against its sha256 pin, or else its git blob SHA-1 pin."""
    if source.get("sha256"):
        actual = file_sha256(path)
        if actual != source["sha256"].lower():
            raise ChecksumError(f"sha256 mismatch for {what}: expected {source['sha256']}, got "
                                f"{actual}")
    elif (blob := git_blob_sha1(path)) != source["git_sha1"].lower():
        raise ChecksumError(f"git blob SHA-1 mismatch for {what}: expected {source['git_sha1']},"
                            f" got {blob}")
    else:
        log.info("%s verified against its git blob SHA-1 %s; sha256 %s recorded", what,
                 source["git_sha1"], file_sha256(path))
