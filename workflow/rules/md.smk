# MD stability runs of selected models from several test-set starts, and their summary table.


def md_runs():
    """(dataset, model, temperature, start) of every run; start k is the k-th configuration of
    sparseace.md.start_configurations on the dataset's test set (repeated to md.min_atoms)."""
    md = config["md"]
    return [(ds, model, T, k) for ds, models in md["runs"].items() for model in models
            for T in md["temperatures"] for k in range(md["starts"])]


def md_settings(dataset):
    return {**config["md"]["settings"], **config["md"].get("per_dataset", {}).get(dataset, {})}


def md_job(dataset):
    """MPI ranks and time limit (min) of a dataset's runs."""
    return {"ranks": 1, "runtime_min": 720, **config["md"].get("jobs", {}).get(dataset, {})}


rule md_run:
    input:
        model="results/fits/{dataset}/models/{model}.json",
        structures="results/data/{dataset}/test.xyz",
    output:
        verdict="results/md/{dataset}/{model}_{T}K/start{start}/verdict.json",
        thermo="results/md/{dataset}/{model}_{T}K/start{start}/thermo.csv",
        trajectory="results/md/{dataset}/{model}_{T}K/start{start}/trajectory.xyz",
    wildcard_constraints:
        T=r"\d+",
        start=r"\d+",
    params:
        settings=lambda w: md_settings(w.dataset),
        seed=config["seed"],
        min_atoms=config["md"]["min_atoms"],
    threads: lambda w: md_job(w.dataset)["ranks"]  # LAMMPS' MPI ranks
    log:
        "logs/md_run/{dataset}.{model}.{T}K.start{start}.log",
    resources:
        mem_mb=2000,
        runtime=lambda w: md_job(w.dataset)["runtime_min"],
    script:
        "../scripts/md_run.py"


rule md_summary:
    input:
        [f"results/md/{ds}/{model}_{T}K/start{k}/verdict.json" for ds, model, T, k in md_runs()],
    output:
        report(multiext("results/tables/md_stability", ".csv", ".md", ".tex"),
               caption="../report/md_stability.rst", category="Tables"),
    params:
        label=lambda w: run_label(sorted(config["md"]["runs"])),
    log:
        "logs/md_summary.log",
    script:
        "../scripts/md_summary.py"
