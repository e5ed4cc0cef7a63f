"""Seeded train / validation / test splits (conventions §1).

Methods:
  official_test    fixed train and test files; validation = seeded fraction of train (Zuo).
  stratified       one pool; configs of the ``drop`` types removed; per config_type seeded
                   train/val/test fractions (GAP-Si, Si_tiny).  Every config_type keeps at least
                   one training config; val and test take round(fraction * count) of the rest.
  fixed_or_seeded  fixed train/test files when both are given (water); otherwise the pool is
                   split seeded into train/test by ``test_fraction``; validation = seeded
                   fraction of train.
The result lists, per split, indices into the pooled source frames (train file first).
"""

from __future__ import annotations

from collections import Counter

import numpy as np


def _take(rng, indices, fraction):
    """Seeded (rest, taken) with round(fraction * len) taken, keeping at least one in rest."""
    indices = np.asarray(indices)
    k = min(int(round(fraction * len(indices))), max(len(indices) - 1, 0))
    perm = rng.permutation(indices)
    return np.sort(perm[k:]), np.sort(perm[:k])


def split_indices(method: str, config_types, n_fixed_train: int | None = None, seed: int = 1,
                  val_fraction: float = 0.15, test_fraction: float = 0.15,
                  drop=()) -> dict[str, np.ndarray]:
    """Indices of train, val and test among ``config_types`` (one entry per pooled frame).

    ``n_fixed_train``: the first that many frames come from a fixed training file and the rest
    from a fixed test file (methods official_test and fixed_or_seeded)."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1):
        raise ValueError("split fractions must lie in [0, 1)")
    config_types = np.asarray(config_types, dtype=str)
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero(~np.isin(config_types, list(drop)))
    if method == "stratified":
        parts = {"train": [], "val": [], "test": []}
        for ct in sorted(set(config_types[keep])):
            members = keep[config_types[keep] == ct]
            rest, test = _take(rng, members, test_fraction)
            train, val = _take(rng, rest, val_fraction / (1 - test_fraction))
            for name, idx in (("train", train), ("val", val), ("test", test)):
                parts[name].extend(idx)
        return {k: np.sort(np.array(v, dtype=np.int64)) for k, v in parts.items()}
    if method not in ("official_test", "fixed_or_seeded"):
        raise ValueError(f"unknown split method {method!r}")
    if n_fixed_train is not None:
        train, test = keep[keep < n_fixed_train], keep[keep >= n_fixed_train]
    elif method == "fixed_or_seeded":
        train, test = _take(rng, keep, test_fraction)
    else:
        raise ValueError("official_test needs fixed train and test files")
    train, val = _take(rng, train, val_fraction)
    return {"train": train, "val": val, "test": np.sort(test)}


def split_counts(config_types, parts) -> dict[str, dict[str, int]]:
    """Configurations per config_type in each split."""
    config_types = np.asarray(config_types, dtype=str)
    return {name: dict(sorted(Counter(config_types[idx]).items())) for name, idx in parts.items()}
