# MD stability runs of selected models from several test-set starts, and their summary table.


rule md_run:
    input:
        model=lambda w: f"{fit_dir(w.dataset)}/models/{w.model}.json",  # first split seed
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
    benchmark:
        "logs/benchmarks/md_run/{dataset}.{model}.{T}K.start{start}.tsv"
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
        label=lambda w: run_label(sorted(config["md"]["runs"]))
        + seed_note(sorted(config["md"]["runs"])),
    log:
        "logs/md_summary.log",
    script:
        "../scripts/md_summary.py"
