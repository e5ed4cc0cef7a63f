# Accuracy against cost: per dataset of the config's accuracy_cost section, one job (one core)
# times every model in LAMMPS, fits and times the SNAP baseline and the published SNAP files,
# and draws results/figures/accuracy_cost_<dataset>.png with its CSV (sparseace.cost).


def accuracy_cost_files(dataset):
    """The inputs of a dataset's accuracy-cost job by kind (curves, checkpoints: solver ->
    path, first split seed; the basis, the split and the data)."""
    solvers = fit_settings(dataset)["solvers"]
    return {"curves": {s: f"{fit_dir(dataset)}/curves/{s}.csv" for s in solvers},
            "checkpoints": {s: f"{fit_dir(dataset)}/paths/{s}.npz" for s in solvers},
            "basis": f"results/fits/{dataset}/basis.json",
            "split": f"results/data/{dataset}/split.json",
            **{part: f"results/data/{dataset}/{part}.xyz" for part in ("train", "val", "test")}}


def accuracy_cost_targets():
    return [f"results/figures/accuracy_cost_{d}.{ext}"
            for d in config.get("accuracy_cost", {}).get("datasets", []) for ext in ("png", "csv")]


rule accuracy_cost:
    input:
        lambda w: flat_paths(accuracy_cost_files(w.dataset)),
    output:
        report(multiext("results/figures/accuracy_cost_{dataset}", ".png", ".csv"),
               caption="../report/accuracy_cost.rst", category="Figures"),
    wildcard_constraints:
        dataset=r"[^/.]+",
    params:
        files=lambda w: accuracy_cost_files(w.dataset),
        settings=config.get("accuracy_cost"),
        dataset=lambda w: dataset_settings(w.dataset),
        fit=lambda w: fit_settings(w.dataset),
        seed=lambda w: split_seeds(w.dataset)[0],
        structure_seed=config["seed"],
        solvers=config["solvers"],
        label=lambda w: run_label([w.dataset]) + seed_note([w.dataset]),
    threads: 1  # costs on one core; one job per dataset, so that its costs are comparable
    log:
        "logs/accuracy_cost/{dataset}.log",
    benchmark:
        "logs/benchmarks/accuracy_cost/{dataset}.tsv"
    resources:
        mem_mb=2000,
        runtime=720,  # the paper config times every checkpoint, up to 12,000 functions
    script:
        "../scripts/accuracy_cost.py"
