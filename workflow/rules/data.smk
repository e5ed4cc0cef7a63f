# Data stages: fetch each source (mirror first, pin verified), split each dataset (each raw
# file verified against its pin again before it is read).


def local_source(w):
    """A local source's file is the fetch's input (a change re-fetches, and is caught)."""
    path = config["sources"][w.source].get("path")
    return [path] if path else []


rule fetch:
    input:
        local_source,
    output:
        file="resources/raw/{source}/{filename}",
        provenance="resources/raw/{source}/{filename}.provenance.json",
    wildcard_constraints:
        source="|".join(config["sources"]),
        filename=r"[^/]+(?<!\.provenance\.json)(?<!\.pin)",
    params:
        source=lambda w: config["sources"][w.source],
        mirror=config["mirror"],
    log:
        "logs/fetch/{source}/{filename}.log",
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../scripts/fetch.py"


rule split:
    input:
        lambda w: sum(dataset_file_paths(w.dataset).values(), []),
    output:
        train="results/data/{dataset}/train.xyz",
        val="results/data/{dataset}/val.xyz",
        test="results/data/{dataset}/test.xyz",
        manifest="results/data/{dataset}/split.json",
    wildcard_constraints:
        dataset="|".join(config["datasets"]),
    params:
        dataset=lambda w: config["datasets"][w.dataset],
        paths=lambda w: dataset_file_paths(w.dataset),
        seeds=lambda w: split_seeds(w.dataset),
        sources=config["sources"],
    log:
        "logs/split/{dataset}.log",
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/split.py"
