# Data stage: fetch each IDX file from a mirror and verify the MD5 of its uncompressed content,
# then cut the fixed train / validation / test split.
# The mirror is read from config inside the job, not passed as a param: pointing at another
# mirror must not refetch (and so retrain) anything already in place. For the same reason the
# fetch carries no code digest: its output is checked against the MD5, whatever code wrote it.


rule fetch_idx:
    output:
        idx="resources/data/{dataset}/{idx_file}",
    log:
        "logs/data/{dataset}/{idx_file}.log",
    conda:
        ENV
    params:
        md5=lambda w: config["data"]["md5"][w.dataset][w.idx_file],
    script:
        "../scripts/fetch_idx.py"


rule prepare_dataset:
    input:
        idx=expand("resources/data/{{dataset}}/{idx_file}", idx_file=IDX_FILES),
    output:
        splits="resources/data/{dataset}.pt",
    log:
        "logs/data/{dataset}.log",
    conda:
        ENV
    params:
        val_size=config["data"]["val_size"],
        split_seed=config["data"]["split_seed"],
        code=code("prepare_dataset.py"),
    script:
        "../scripts/prepare_dataset.py"
