"""Output files of the commands: checked before any work starts, never an input.

``check_outputs`` refuses an output that is an input (also through a symbolic or hard link), two
options naming one file, an output naming a directory and an output whose directory cannot be
written.  ``OutputSet`` is the set of files one fit writes: a lock file keeps a second run off
it, and the files are written under temporary names and replace the previous set as a whole
when the run succeeds (a failed run leaves the previous set as it was).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from pathlib import Path


class OutputError(Exception):
    """An output option names a file the command must not or cannot write; the message names
    the option and the file."""


def same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name one file (through symbolic or hard links too)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:  # one of them does not exist yet
        return False


def _check_writable(option: str, path: Path) -> None:
    """Create the directory of ``path`` if missing and try writing a file there."""
    parent = path.parent
    existing = next(p for p in (parent, *parent.parents) if os.path.lexists(p))
    if not existing.is_dir():
        raise OutputError(f"option {option}: cannot write {path}: {existing} is a file, not a "
                          "directory")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        raise OutputError(f"option {option}: cannot write {path}: directory {parent}: "
                          f"{err.strerror}") from None


def check_outputs(outputs, inputs) -> None:
    """Refuse, before any work, outputs the command must not or cannot write.

    ``outputs``, ``inputs``: pairs (option, path as given), e.g. ("-o", "Si.json"),
    ("argument TRAIN.xyz", "train.xyz"); a path None is skipped.  An option may name several
    outputs (a fit's set).  Directories of the outputs are created."""
    outputs = [(o, p) for o, p in outputs if p is not None]
    inputs = [(o, Path(p)) for o, p in inputs if p is not None]
    for k, (option, given) in enumerate(outputs):
        path = Path(given)
        if str(given).endswith(("/", os.sep)) or path.is_dir():
            raise OutputError(f"option {option}: {given} names a directory; give a file name "
                              f"(e.g. {path / 'NAME'})")
        for in_option, in_path in inputs:
            if same_file(path, in_path):
                link = ("" if os.path.abspath(path) == os.path.abspath(in_path)
                        else "; the same file through a link")
                raise OutputError(f"option {option}: the output {path} is the input {in_path} "
                                  f"({in_option}{link}); writing it would destroy the input: "
                                  "choose another output file")
        for other, other_path in outputs[:k]:
            if other != option and same_file(path, Path(other_path)):
                raise OutputError(f"options {other} and {option} both name {path}: give each "
                                  "output its own file")
        _check_writable(option, path)


class OutputSet:
    """The files {name: final path} of one run, written under temporary names.

    ``with OutputSet(paths, "-o") as staged:`` locks the file ``.STEM.sparseace-lock`` next to
    the first path (STEM: its name without the suffix; a second run stops with an
    ``OutputError`` naming the lock file; the file is removed at the end), yields
    {name: temporary path} in the directory ``.STEM.sparseace-partial`` beside it, and when
    the block succeeds renames every file written there to its final path (the first path
    last) and removes the final paths the run did not write.  When the block fails, the
    previous files stay as they were."""

    def __init__(self, paths: dict[str, Path], option: str):
        self.paths = {name: Path(p) for name, p in paths.items()}
        self.option = option
        first = next(iter(self.paths.values()))
        stem = first.with_suffix("")
        self.lock = stem.parent / f".{stem.name}.sparseace-lock"
        self.staging = stem.parent / f".{stem.name}.sparseace-partial"
        self._fd = None

    def _acquire(self) -> None:
        while True:
            fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.read(fd, 32).decode(errors="replace").strip()
                os.close(fd)
                by = f" (process {pid})" if pid.isdigit() else ""
                raise OutputError(
                    f"option {self.option}: another run{by} is writing "
                    f"{next(iter(self.paths.values()))} and holds the lock {self.lock}; wait "
                    "for it to end or choose another output file") from None
            try:
                if os.path.samestat(os.fstat(fd), os.stat(self.lock)):
                    break
            except FileNotFoundError:
                pass
            os.close(fd)  # the run that held the lock removed the file: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def _release(self) -> None:
        self.lock.unlink(missing_ok=True)  # while still locked: a waiting run retries on a new file
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> dict[str, Path]:
        self._acquire()
        try:
            shutil.rmtree(self.staging, ignore_errors=True)  # left by a killed run
            self.staging.mkdir()
        except BaseException:
            self._release()
            raise
        return {name: self.staging / p.name for name, p in self.paths.items()}

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if kind is None:
                names = list(self.paths)
                for name in names[1:] + names[:1]:
                    staged = self.staging / self.paths[name].name
                    if staged.exists():
                        os.replace(staged, self.paths[name])
                    else:
                        self.paths[name].unlink(missing_ok=True)
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)
            self._release()
