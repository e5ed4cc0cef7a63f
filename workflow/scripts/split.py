"""Read a dataset's source files, split them (seeded) and write train/val/test + split.json
(with the training and validation indices of every split seed of the dataset's fit)."""

import logging

from sparseace.fetch import verify_fetched
from sparseace.io import read_source_file, write_extxyz_atomic
from sparseace.provenance import setup_logging, write_json_atomic
from sparseace.split import split_counts, split_indices

setup_logging(snakemake.log[0])
name, ds = snakemake.wildcards.dataset, snakemake.params.dataset
frames, files, n_fixed_train = [], [], None
for part in ("train", "test", "pool"):
    for ref, path in zip(ds["files"].get(part, []), snakemake.params.paths[part]):
        sha256 = verify_fetched(path, snakemake.params.sources[ref["source"]],
                                f"source {ref['source']}")
        part_frames = read_source_file(path, ds["reader"], name, ref.get("member"), ds["elements"])
        files.append({"part": part, "path": path, "member": ref.get("member"),
                      "sha256": sha256, "configs": len(part_frames)})
        frames += part_frames
    if part == "train" and ds["files"].get("train"):
        n_fixed_train = len(frames)
config_types = [a.info["config_type"] for a in frames]
s = ds["split"]
parts = split_indices(s["method"], config_types, n_fixed_train, s["seed"], s["val_fraction"],
                      s["test_fraction"], s["drop"])
# every split seed of the fit: its training and validation configurations (the test set and
# the union of both do not depend on the seed: sparseace.config)
seeds = {str(seed): {k: v.tolist() for k, v in split_indices(
    s["method"], config_types, n_fixed_train, seed, s["val_fraction"], s["test_fraction"],
    s["drop"]).items() if k != "test"} for seed in snakemake.params.seeds}
for part, idx in parts.items():
    write_extxyz_atomic(getattr(snakemake.output, part), [frames[i] for i in idx])
    logging.info("%s: %d configurations", part, len(idx))
write_json_atomic(snakemake.output.manifest, {
    "dataset": name, "description": ds["description"], "licence": ds["licence"],
    "split": s, "files": files, "indices": {k: v.tolist() for k, v in parts.items()},
    "seeds": seeds,
    "counts": split_counts(config_types, parts)})
