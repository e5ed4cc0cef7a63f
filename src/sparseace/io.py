"""Structure data: readers of the sources' formats and the canonical extxyz every stage reads.

Canonical frame: ``info["REF_energy"]`` total energy (eV), ``arrays["REF_forces"]`` (N, 3)
eV/Å, ``info["REF_virial"]`` nine numbers, row-major 3x3 (eV; virial = -stress * volume) when
present, ``info["config_type"]`` (default "default") and ``info["dataset"]``.  The REF_ prefix
keeps ASE from turning the labels into a SinglePointCalculator.

Readers take the names of the source's keys (``energy``/``force`` in the Zuo extxyz files,
``dft_energy``/``dft_force``/``dft_virial`` in GAP-Si, ``TotEnergy``/``force`` in the water
files) or parse the mlearn JSON documents (virial stress in kbar).  Bad input raises
``DataError`` naming the file, frame and field.
"""

from __future__ import annotations

import io
import json
import lzma
import gzip
import tarfile
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from .provenance import atomic_path

EV_PER_A3_IN_KBAR = 1602.1766208  # 1 eV/Å^3 = 160.21766208 GPa = 1602.1766208 kbar
DEFAULT_CONFIG_TYPE = "default"


class DataError(ValueError):
    """Bad input data; the message names the file, frame and field."""


def reference_data(atoms, source: str = "<structure>"):
    """(energy eV, forces (N, 3) eV/Å or None, virial (3, 3) eV or None) of a canonical frame."""
    try:
        energy = float(atoms.info["REF_energy"])
    except KeyError:
        raise DataError(f"{source}: field REF_energy missing") from None
    forces = atoms.arrays.get("REF_forces")
    if forces is not None:
        forces = np.asarray(forces, dtype=float)
    virial = atoms.info.get("REF_virial")
    if virial is not None:
        virial = np.asarray(virial, dtype=float).reshape(3, 3)
    return energy, forces, virial


def _open_text(path: Path, member: str | None = None) -> str:
    """Text of a file, an .xz/.gz file, or a member of a tar archive."""
    try:
        if member is not None:
            with tarfile.open(path) as tar:
                try:
                    fh = tar.extractfile(member)
                except KeyError:
                    raise DataError(f"{path}: archive has no member {member!r}") from None
                return fh.read().decode()
        opener = {".xz": lzma.open, ".gz": gzip.open}.get(path.suffix, open)
        with opener(path, "rt") as fh:
            return fh.read()
    except (OSError, EOFError, lzma.LZMAError, tarfile.TarError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read ({err})") from None


def _lookup(atoms, key: str, per_atom: bool):
    """A label from info/arrays, or from the SinglePointCalculator ASE built from it."""
    store = atoms.arrays if per_atom else atoms.info
    if key in store:
        return store[key]
    calc = atoms.calc
    if calc is not None:
        name = {"force": "forces"}.get(key, key)
        if name in calc.results:
            return calc.results[name]
    return None


def canonical_frame(numbers, positions, cell, pbc, energy, forces, virial, config_type,
                    dataset: str, where: str, elements=None) -> Atoms:
    """Validate labels and build a canonical frame; ``where`` is "file, frame k"."""
    numbers = np.asarray(numbers)
    n = len(numbers)
    if n == 0:
        raise DataError(f"{where}: no atoms")
    if elements is not None:
        unknown = sorted({chemical_symbols[z] for z in numbers} - set(elements))
        if unknown:
            raise DataError(f"{where}: field symbols: element(s) {unknown} not in {list(elements)}")
    checks = {"positions": (positions, (n, 3)), "cell": (cell, (3, 3))}
    checks["energy"] = (np.asarray(energy, dtype=float), ())
    if forces is not None:
        checks["forces"] = (forces, (n, 3))
    if virial is not None:
        checks["virial"] = (np.reshape(virial, -1) if np.size(virial) == 9 else virial, (9,))
    values = {}
    for field, (value, shape) in checks.items():
        try:
            value = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"{where}: field {field} is not numeric") from None
        if value.shape != shape:
            raise DataError(f"{where}: field {field} has shape {value.shape}, expected {shape}")
        if not np.all(np.isfinite(value)):
            raise DataError(f"{where}: field {field} has NaN or infinite values")
        values[field] = value
    atoms = Atoms(numbers=numbers, positions=values["positions"], cell=values["cell"], pbc=pbc)
    atoms.info["REF_energy"] = float(values["energy"])
    if "virial" in values:
        atoms.info["REF_virial"] = values["virial"]
    atoms.info["config_type"] = str(config_type or DEFAULT_CONFIG_TYPE)
    atoms.info["dataset"] = dataset
    if "forces" in values:
        atoms.arrays["REF_forces"] = values["forces"]
    return atoms


def read_extxyz(path, energy_key: str, force_key: str | None, virial_key: str | None = None,
                config_type_key: str = "config_type", dataset: str | None = None,
                member: str | None = None, elements=None,
                require_forces: bool = True) -> list[Atoms]:
    """Read an extxyz file (plain, .xz, .gz or a tar ``member``) into canonical frames.

    ``dataset`` None keeps each frame's own ``dataset`` entry."""
    from ase.io.extxyz import read_xyz

    path = Path(path)
    name = f"{path}:{member}" if member else str(path)
    text = _open_text(path, member)
    if not text.strip():
        raise DataError(f"{name}: empty file")
    frames = []
    stream = read_xyz(io.StringIO(text), index=slice(None))
    while True:
        where = f"{name}, frame {len(frames)}"
        try:
            atoms = next(stream)
        except StopIteration:
            break
        except Exception as err:  # ASE raises several types on malformed or truncated input
            raise DataError(f"{where}: cannot parse ({type(err).__name__}: {err}); "
                            "truncated or malformed file?") from None
        energy = _lookup(atoms, energy_key, per_atom=False)
        if energy is None:
            raise DataError(f"{where}: field {energy_key} missing")
        forces = _lookup(atoms, force_key, per_atom=True) if force_key else None
        if forces is None and force_key and require_forces:
            raise DataError(f"{where}: field {force_key} missing")
        virial = _lookup(atoms, virial_key, per_atom=False) if virial_key else None
        frames.append(canonical_frame(
            atoms.numbers, atoms.positions, atoms.cell.array, atoms.pbc, energy, forces, virial,
            atoms.info.get(config_type_key),
            atoms.info.get("dataset", "") if dataset is None else dataset, where, elements))
    return frames


def read_mlearn_json(path, dataset: str = "", elements=None) -> list[Atoms]:
    """Read an mlearn JSON file (a list of documents with a pymatgen structure and ``outputs``).

    ``virial_stress`` is in kbar, components xx, yy, zz, xy, yz, zx, with VASP's sign (positive
    under compression); the virial is W = virial_stress * V / 1602.18 eV.  ``group`` becomes the
    config_type."""
    path = Path(path)
    try:
        docs = json.loads(_open_text(path))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err}); truncated file?") from None
    if not docs:
        raise DataError(f"{path}: empty file")
    frames = []
    for index, doc in enumerate(docs):
        where = f"{path}, frame {index}"
        try:
            structure, outputs = doc["structure"], doc["outputs"]
            cell = np.array(structure["lattice"]["matrix"], dtype=float)
            sites = structure["sites"]
            symbols = [site["species"][0]["element"] for site in sites]
            positions = np.array([site["xyz"] for site in sites], dtype=float)
        except (KeyError, IndexError, TypeError) as err:
            raise DataError(f"{where}: field {err} missing or malformed") from None
        unknown = [s for s in symbols if s not in chemical_symbols[1:]]
        if unknown:
            raise DataError(f"{where}: field species: unknown element {unknown[0]!r}")
        numbers = [chemical_symbols.index(s) for s in symbols]
        virial = None
        if outputs.get("virial_stress") is not None:
            s = np.asarray(outputs["virial_stress"], dtype=float)
            if s.shape != (6,):
                raise DataError(f"{where}: field virial_stress has shape {s.shape}, expected (6,)")
            xx, yy, zz, xy, yz, zx = s
            stress = np.array([[xx, xy, zx], [xy, yy, yz], [zx, yz, zz]])
            virial = stress * abs(np.linalg.det(cell)) / EV_PER_A3_IN_KBAR
        frames.append(canonical_frame(numbers, positions, cell, True, outputs.get("energy"),
                                      outputs.get("forces"), virial, doc.get("group"), dataset,
                                      where, elements))
    return frames


def write_extxyz_atomic(path, frames) -> None:
    """Write canonical frames as extxyz, through a temporary file."""
    import ase.io

    with atomic_path(path, ".xyz") as tmp:
        ase.io.write(tmp, frames, format="extxyz")


def read_canonical(path, elements=None) -> list[Atoms]:
    """Read a canonical extxyz file written by ``write_extxyz_atomic``, checking its labels."""
    return read_extxyz(path, "REF_energy", "REF_forces", "REF_virial", elements=elements,
                       require_forces=False)


def read_source_file(path, reader: dict, dataset: str, member: str | None = None,
                     elements=None) -> list[Atoms]:
    """Read one source file with a dataset's ``reader`` settings (format and key names)."""
    if reader["format"] == "mlearn_json":
        return read_mlearn_json(path, dataset, elements)
    return read_extxyz(path, reader["energy"], reader.get("forces"), reader.get("virial"),
                       reader.get("config_type", "config_type"), dataset, member, elements)
