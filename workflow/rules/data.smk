# Data stages: fetch each source (mirror first, sha256 verified), split each dataset.


rule fetch:
    output:
        file="resources/raw/{source}/{filename}",
        provenance="resources/raw/{source}/{filename}.provenance.json",
    wildcard_constraints:
        source="|".join(config["sources"]),
        filename=r"[^/]+(?<!\.provenance\.json)",
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
    log:
        "logs/split/{dataset}.log",
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/split.py"
