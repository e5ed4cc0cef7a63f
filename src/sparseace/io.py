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
from ase.stress import voigt_6_to_full_3x3_stress

from .provenance import atomic_path

EV_PER_A3_IN_KBAR = 1602.1766208  # 1 eV/Å^3 = 160.21766208 GPa = 1602.1766208 kbar
DEFAULT_CONFIG_TYPE = "default"
ASE_VIRIAL_KEY = "virial"  # without this key, a frame's ASE "stress" gives the virial
MLEARN_KEYS = {"energy": "outputs.energy", "forces": "outputs.forces",
               "virial": "outputs.virial_stress"}


class DataError(ValueError):
    """Bad input data; the message names the file, frame and field."""


#: Å^3: the cell of a structure periodic in any direction must enclose more than this volume
MIN_CELL_VOLUME = 1e-12


def cell_problem(cell, pbc) -> str | None:
    """Why no neighbour list can be built in this cell (None: one can): a structure periodic in
    any direction needs three independent cell vectors (the non-periodic ones too)."""
    cell = np.asarray(cell, dtype=float)
    if np.any(pbc) and abs(np.linalg.det(cell)) < MIN_CELL_VOLUME:
        return (f"periodic structure (pbc {' '.join('T' if p else 'F' for p in pbc)}) with a "
                f"degenerate cell {cell.tolist()} of zero volume")
    return None


def config_type(atoms) -> str:
    """A frame's config_type (``DEFAULT_CONFIG_TYPE`` when it has none)."""
    return atoms.info.get("config_type", DEFAULT_CONFIG_TYPE)


def reference_energy(atoms, eref: dict, source: str = "<structure>") -> float:
    """Sum of the isolated-atom energies Eref (eV) over a frame's atoms: the part of its energy
    a model's basis does not describe."""
    try:
        return float(sum(eref[s] for s in atoms.get_chemical_symbols()))
    except KeyError as err:
        raise DataError(f"{source}: no reference energy Eref for element {err}") from None


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
                if fh is None:
                    raise DataError(f"{path}: archive member {member!r} is not a file")
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


def _virial_from_stress(atoms, where: str):
    """The virial (3, 3) eV = -stress * volume from the ``stress`` (eV/Å^3, 6 Voigt or 9
    numbers) ASE writes for a calculator's results; None when the frame has no stress."""
    stress = _lookup(atoms, "stress", per_atom=False)
    if stress is None:
        return None
    try:
        stress = np.asarray(stress, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{where}: field stress is not numeric ({str(stress)[:40]!r})") from None
    if stress.size not in (6, 9) or not np.all(np.isfinite(stress)):
        raise DataError(f"{where}: field stress must be 6 or 9 finite numbers (eV/Å^3), got "
                        f"{str(stress.tolist())[:60]}")
    if atoms.cell.rank < 3:
        raise DataError(f"{where}: field stress needs a 3-d cell for the virial (-stress * "
                        "volume); give the virial itself (option --virial-key)")
    if stress.size == 6:
        stress = voigt_6_to_full_3x3_stress(stress)
    return -stress.reshape(3, 3) * abs(atoms.cell.volume)


def canonical_frame(numbers, positions, cell, pbc, energy, forces, virial, config_type,
                    dataset: str, where: str, elements=None, keys=None) -> Atoms:
    """Validate labels and build a canonical frame; ``where`` is "file, frame k"; ``keys``
    gives the source's name of the energy, forces and virial fields for messages."""
    keys = {"energy": "energy", "forces": "forces", "virial": "virial",
            **{field: key for field, key in (keys or {}).items() if key}}
    numbers = np.asarray(numbers)
    n = len(numbers)
    if n == 0:
        raise DataError(f"{where}: no atoms")
    if elements is not None:
        unknown = sorted({chemical_symbols[z] for z in numbers} - set(elements))
        if unknown:
            raise DataError(f"{where}: field symbols: element(s) {unknown} not in {list(elements)}")
    if energy is None:
        raise DataError(f"{where}: field {keys['energy']} missing")
    checks = {"positions": (positions, (n, 3)), "cell": (cell, (3, 3)), "energy": (energy, ())}
    if forces is not None:
        checks["forces"] = (forces, (n, 3))
    if virial is not None:
        checks["virial"] = (np.reshape(virial, -1) if np.size(virial) == 9 else virial, (9,))
    values = {}
    for field, (value, shape) in checks.items():
        name = keys.get(field, field)
        try:
            value = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise DataError(f"{where}: field {name} is not numeric "
                            f"({str(value)[:40]!r})") from None
        if value.shape != shape:
            raise DataError(f"{where}: field {name} has shape {value.shape}, expected {shape}")
        if not np.all(np.isfinite(value)):
            raise DataError(f"{where}: field {name} has NaN or infinite values")
        values[field] = value
    if problem := cell_problem(values["cell"], np.broadcast_to(pbc, 3)):
        raise DataError(f"{where}: field cell: {problem}")
    atoms = Atoms(numbers=numbers, positions=values["positions"], cell=values["cell"], pbc=pbc)
    atoms.info["REF_energy"] = float(values["energy"])
    if "virial" in values:
        atoms.info["REF_virial"] = values["virial"]
    atoms.info["config_type"] = str(config_type or DEFAULT_CONFIG_TYPE)
    atoms.info["dataset"] = dataset
    if "forces" in values:
        atoms.arrays["REF_forces"] = values["forces"]
    return atoms


def _atom_count(line: str) -> int | None:
    """The number of atoms a count line gives (None: the line is not a count)."""
    try:
        natoms = int(line)
    except ValueError:
        return None
    return natoms if natoms >= 0 else None


def _extxyz_frames(text: str, name: str):
    """Yield the text of each frame of an extxyz file, split as ASE scans it (count line,
    comment line, atom lines, VEC lines).  A count line that is not a number, an atom count
    that is too small or too large (reported on the frame whose count is wrong), or data after
    a blank line (where ASE would silently stop reading), raise DataError naming frame and
    line."""
    lines = text.splitlines(keepends=True)
    start, index, previous = 0, 0, None  # previous: (count line, atoms, atom-line fields)
    while start < len(lines):
        where = f"{name}, frame {index}"
        header = lines[start].strip()
        if not header:
            more = next((i for i in range(start, len(lines)) if lines[i].strip()), None)
            if more is None:
                return
            raise DataError(f"{where}: blank line {start + 1} where a frame should start, with "
                            f"more data at line {more + 1}: remove the blank line(s)")
        natoms = _atom_count(header)
        if natoms is None:
            if previous is not None and len(header.split()) == previous[2]:
                raise DataError(f"{name}, frame {index - 1}: line {previous[0] + 1} announces "
                                f"{previous[1]} atoms but line {start + 1} after them is one "
                                f"more atom line ({header[:40]!r}): atom count too small?")
            if index == 0 or "=" in (lines[start + 1] if start + 1 < len(lines) else ""):
                raise DataError(f"{where}: line {start + 1} should be the number of atoms of "
                                f"frame {index}, got {header[:40]!r}: not a whole number "
                                "of atoms")
            raise DataError(f"{where}: line {start + 1} should be the number of atoms of the "
                            f"next frame, got {header[:40]!r}: junk after the last frame?")
        end = start + 2 + natoms
        count_line = next((i for i in range(start + 2, min(end, len(lines)))
                           if _atom_count(lines[i].strip()) is not None), None)
        if count_line is not None:
            raise DataError(f"{where}: line {start + 1} announces {natoms} atoms but line "
                            f"{count_line + 1}, after {count_line - start - 2} atom line(s), is "
                            f"the count line of another frame: atom count too large?")
        if end > len(lines):
            raise DataError(f"{where}: line {start + 1} announces {natoms} atoms but only "
                            f"{max(len(lines) - start - 2, 0)} atom line(s) follow: truncated "
                            "file, or atom count too large?")
        while end < len(lines) and lines[end].lstrip().startswith("VEC"):
            end += 1
        yield "".join(lines[start:end])
        previous = (start, natoms, len(lines[start + 2].split()) if natoms else None)
        start, index = end, index + 1


def frame_sizes(path) -> list[int]:
    """The atom count of each frame of an extxyz file, from the frame scan ``read_extxyz``
    starts with (for sizing jobs before they read the file; ``read_extxyz`` checks the rest)."""
    return [int(frame.split("\n", 1)[0]) for frame in _extxyz_frames(_open_text(Path(path)),
                                                                    str(path))]


def read_extxyz(path, energy_key: str, force_key: str | None, virial_key: str | None = None,
                config_type_key: str = "config_type", dataset: str | None = None,
                member: str | None = None, elements=None,
                require_forces: bool = True) -> list[Atoms]:
    """Read an extxyz file (plain, .xz, .gz or a tar ``member``) into canonical frames.

    With ``virial_key`` "virial" (ASE's name), a frame without it that has the ``stress``
    (eV/Å^3) ASE writes for a calculator's results gets the virial -stress * volume (eV).

    ``dataset`` None keeps each frame's own ``dataset`` entry."""
    from ase.io.extxyz import read_xyz

    path = Path(path)
    name = f"{path}:{member}" if member else str(path)
    text = _open_text(path, member)
    if not text.strip():
        raise DataError(f"{name}: empty file")
    frames = []
    keys = {"energy": energy_key, "forces": force_key, "virial": virial_key}
    for chunk in _extxyz_frames(text, name):
        where = f"{name}, frame {len(frames)}"
        try:
            atoms = next(read_xyz(io.StringIO(chunk), index=0))
        except Exception as err:  # ASE raises several types on malformed or truncated input
            raise DataError(f"{where}: cannot parse ({type(err).__name__}: {err}); "
                            "truncated or malformed file?") from None
        energy = _lookup(atoms, energy_key, per_atom=False)
        forces = _lookup(atoms, force_key, per_atom=True) if force_key else None
        if forces is None and force_key and require_forces:
            raise DataError(f"{where}: field {force_key} missing")
        virial = _lookup(atoms, virial_key, per_atom=False) if virial_key else None
        if virial is None and virial_key == ASE_VIRIAL_KEY:
            virial = _virial_from_stress(atoms, where)
        frames.append(canonical_frame(
            atoms.numbers, atoms.positions, atoms.cell.array, atoms.pbc, energy, forces, virial,
            atoms.info.get(config_type_key),
            atoms.info.get("dataset", "") if dataset is None else dataset, where, elements, keys))
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
    if not isinstance(docs, list):
        raise DataError(f"{path}: expected a JSON list of documents, got a {type(docs).__name__}")
    if not docs:
        raise DataError(f"{path}: empty file")
    frames = []
    for index, doc in enumerate(docs):
        where = f"{path}, frame {index}"
        if not isinstance(doc, dict) or not isinstance(doc.get("outputs"), dict):
            raise DataError(f"{where}: expected a document with an object 'outputs', got "
                            f"{str(doc)[:40]!r}")
        try:
            structure, outputs = doc["structure"], doc["outputs"]
            cell = np.array(structure["lattice"]["matrix"], dtype=float)
            sites = structure["sites"]
            symbols = [site["species"][0]["element"] for site in sites]
            positions = np.array([site["xyz"] for site in sites], dtype=float)
        except KeyError as err:
            raise DataError(f"{where}: field {err} missing") from None
        except (IndexError, TypeError, ValueError) as err:
            raise DataError(f"{where}: field structure is malformed ({err})") from None
        unknown = [s for s in symbols if s not in chemical_symbols[1:]]
        if unknown:
            raise DataError(f"{where}: field species: unknown element {unknown[0]!r}")
        numbers = [chemical_symbols.index(s) for s in symbols]
        virial = None
        if outputs.get("virial_stress") is not None:
            try:
                s = np.asarray(outputs["virial_stress"], dtype=float)
            except (TypeError, ValueError):
                s = np.zeros(0)
            if s.shape != (6,):
                raise DataError(f"{where}: field outputs.virial_stress is not 6 numbers: "
                                f"{str(outputs['virial_stress'])[:40]!r}")
            xx, yy, zz, xy, yz, zx = s
            stress = np.array([[xx, xy, zx], [xy, yy, yz], [zx, yz, zz]])
            virial = stress * abs(np.linalg.det(cell)) / EV_PER_A3_IN_KBAR
        frames.append(canonical_frame(numbers, positions, cell, True, outputs.get("energy"),
                                      outputs.get("forces"), virial, doc.get("group"), dataset,
                                      where, elements, MLEARN_KEYS))
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
