"""Fitted linear ACE models and their files.

A model is a basis specification, the indices of its active functions, their coefficients
(c, in eV per unit basis function: E = sum_k c_k B_k + sum_i Eref[Z_i]), the isolated-atom
reference energies and provenance.  For evaluation the active functions are contracted onto
the product basis: per centre species one DAG of the products of the atomic base A they need,
each product one earlier product times one entry of A, with forces from one reverse sweep; so
the cost scales with the active set, not with the basis it was selected from.
"""

from __future__ import annotations

import codecs
import json
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

import numpy as np

from .basis import ACEBasis
from .basis.contraction import Contraction
from .provenance import package_versions, write_json_atomic

FORMAT = "sparseace-model"
FORMAT_VERSION = 1


class ACEPotential:
    """A linear ACE potential restricted to its active functions.

    Parameters
    ----------
    basis : the ``ACEBasis`` the model was selected from.
    active : indices of the active functions in ``basis``.
    coefficients : their coefficients (eV).
    eref : isolated-atom energy per element (eV), added per atom.
    metadata : settings and provenance recorded in the model file.

    Implements the ``SiteModel`` interface used by the LAMMPS driver (``species``, ``cutoff``,
    ``site_energies_and_gradients``).
    """

    def __init__(self, basis: ACEBasis, active, coefficients, eref=None, metadata=None):
        self.basis = basis
        active = np.asarray(active)
        if active.size and active.dtype.kind not in "iu":
            raise ValueError(f"active indices must be integers, got {active.dtype} values")
        self.active = active.astype(np.int64)
        try:
            self.coefficients = np.asarray(coefficients, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("model coefficients must be numbers") from None
        if self.active.shape != self.coefficients.shape or self.active.ndim != 1:
            raise ValueError("active indices and coefficients must be 1-d arrays of equal length")
        if len(self.active) and (self.active.min() < 0 or self.active.max() >= len(basis)):
            raise ValueError(f"active indices outside the basis of {len(basis)} functions")
        if len(np.unique(self.active)) != len(self.active):
            raise ValueError("active indices must be distinct")
        if not np.all(np.isfinite(self.coefficients)):
            raise ValueError("model coefficients must be finite")
        eref = eref or {}
        unknown = set(eref) - set(basis.elements)
        if unknown:
            raise ValueError(f"Eref given for elements {sorted(unknown)} outside the basis")
        self.eref = {e: float(eref.get(e, 0.0)) for e in basis.elements}
        self.metadata = dict(metadata or {})

    # ------------------------------------------------------------------ SiteModel interface
    @property
    def species(self) -> tuple[str, ...]:
        return tuple(self.basis.elements)

    @property
    def cutoff(self) -> float:
        return self.basis.cutoff

    def __len__(self) -> int:
        return len(self.active)

    @cached_property
    def contraction(self) -> Contraction:
        """The active functions contracted onto products of the atomic base (see
        ``sparseace.basis.contraction``): what the evaluation and the LAMMPS export use."""
        return self.basis.contract(self.active, self.coefficients)

    def site_energies_and_gradients(self, centre_species, pair_first, pair_species, rij):
        """Site energies (eV, without Eref) and pair gradients dE_i/dr_ij (eV/Å).

        centre_species (n_centres,), pair_first (n_pairs,) ascending centre index,
        pair_species (n_pairs,), rij (n_pairs, 3) = r_j - r_i in Å.
        """
        centre_species = np.ascontiguousarray(centre_species, dtype=np.int64)
        pair_first = np.asarray(pair_first, dtype=np.int64)
        if len(pair_first) > 1 and np.any(np.diff(pair_first) < 0):
            raise ValueError("pairs must be sorted by their centre (pair_first ascending)")
        n = len(centre_species)
        pair_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(pair_first, minlength=n), out=pair_ptr[1:])
        return self.contraction.site_energies(
            centre_species, pair_ptr, np.ascontiguousarray(pair_species, dtype=np.int64),
            np.ascontiguousarray(rij, dtype=float))

    def evaluate(self, atoms):
        """Energy (eV), forces (N, 3) eV/Å, virial (3, 3) eV and per-atom energies (eV)."""
        species, pair_ptr, second, rij = self.basis.neighbours(atoms)
        first = np.repeat(np.arange(len(atoms)), np.diff(pair_ptr))
        E_site, dE = self.site_energies_and_gradients(species, first, species[second], rij)
        E_site = E_site + np.array([self.eref[e] for e in self.basis.elements])[species]
        forces = np.zeros((len(atoms), 3))
        np.add.at(forces, first, dE)
        np.subtract.at(forces, second, dE)
        virial = -rij.T @ dE
        return float(E_site.sum()), forces, 0.5 * (virial + virial.T), E_site

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "basis": self.basis.to_dict(),
            "active": self.active.tolist(),
            "coefficients": self.coefficients.tolist(),
            "eref": self.eref,
            "metadata": self.metadata,
        }

    def save(self, path) -> None:
        """Write the model file (JSON), recording package versions and the creation time."""
        data = self.to_dict()
        data["metadata"] = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "versions": package_versions(), **data["metadata"]}
        write_json_atomic(path, data)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> "ACEPotential":
        """Rebuild a model from ``to_dict`` output; ValueError naming ``source`` and the field
        for anything this version cannot read exactly."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: not a sparseace model file (a JSON {type(data).__name__}, "
                             "not an object)")
        if data.get("format") != FORMAT:
            raise ValueError(f"{source}: not a sparseace model file (format={data.get('format')!r})")
        missing = [k for k in ("format_version", "basis", "active", "coefficients", "eref")
                   if k not in data]
        if missing:
            raise ValueError(f"{source}: model file lacks the field(s) {missing}")
        if type(data["format_version"]) is not int or data["format_version"] != FORMAT_VERSION:
            raise ValueError(f"{source}: field format_version is {data['format_version']!r}; this "
                             f"sparseace reads version {FORMAT_VERSION} only")
        basis = ACEBasis.from_dict(data["basis"], f"{source}: field basis")
        active, eref = data["active"], data["eref"]
        if not isinstance(active, list) or not all(type(i) is int for i in active):
            raise ValueError(f"{source}: field active must be a list of integer function "
                             f"indices, got {_abbreviated(active)}")
        if not isinstance(eref, dict) or set(eref) != set(basis.elements) or not all(
                type(v) in (int, float) and np.isfinite(v) for v in eref.values()):
            raise ValueError(f"{source}: field eref must give the isolated-atom energy (eV) of "
                             f"each of {basis.elements}, got {_abbreviated(eref)}")
        coefficients = data["coefficients"]
        if not isinstance(coefficients, list) or not all(type(c) in (int, float)
                                                         for c in coefficients):
            raise ValueError(f"{source}: field coefficients must be numbers (a list of eV values, "
                             f"one per active function), got {_abbreviated(coefficients)}")
        metadata = data.get("metadata", {})
        if not isinstance(metadata, dict):
            raise ValueError(f"{source}: field metadata must be a JSON object")
        try:
            return cls(basis, active, coefficients, eref, metadata)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{source}: {err}") from None

    @classmethod
    def load(cls, path) -> "ACEPotential":
        """Read a model file; ValueError naming the file when it is not UTF-8 JSON."""
        path = Path(path)
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
            if "\0" in text:
                raise UnicodeError("it contains NUL characters")
        except UnicodeError as err:
            head = raw[:16]  # UTF-16 of JSON: a byte-order mark, or every other byte NUL
            utf16 = head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or (
                len(head) >= 2 and not (any(head[0::2]) and any(head[1::2])))
            encoding = "UTF-16 text" if utf16 else "binary data"
            raise ValueError(f"{path}: not a sparseace model file: not UTF-8 text ({encoding}? "
                             f"{err}); model files are the UTF-8 JSON that sparseace fit "
                             "writes") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from None
        return cls.from_dict(data, source=str(path))


def _abbreviated(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_model(path) -> ACEPotential:
    """Load a model file written by ``ACEPotential.save``."""
    return ACEPotential.load(path)
