"""One typed spec per job: everything a job runs with, in one dataclass beside the job.

A job's spec is built in one place, from its rule (from_snakemake): each field is filled by the
rule's param, wildcard, named input or output file of the same name (a spec with a field
`inputs` takes all named inputs as one dict), the log, the threads, and, where the rule gives no
such param, the few settings that say how a job runs rather than what it computes (RUNTIME).
The params are Snakemake's rerun triggers, so a field that changes a result is a param: reading
a spec tells what the job depends on. Tests build specs directly.
"""

from __future__ import annotations

import dataclasses
import typing


# How a job runs, not what it computes: read from the job's (resolved) config, never a rerun
# trigger. Changing the device, its TF32 setting, the allocator's, the evaluation batch,
# switching resume files off, relabelling the preset or pointing at another mirror with the same
# bytes reruns nothing. A spec class may add its own (runtime, a ClassVar).
RUNTIME = {
    "device": lambda smk: smk.config["device"],
    "cuda_tf32": lambda smk: smk.config["cuda_tf32"],
    "keep_freed_memory": lambda smk: smk.config["keep_freed_memory"],
    "eval_batch_size": lambda smk: smk.config["pretrain"]["eval_batch_size"],
    "resume": lambda smk: smk.config["pretrain"]["resume"],
    "resume_every_s": lambda smk: smk.config["pretrain"]["resume_every_s"],
    "preset": lambda smk: smk.config["preset"],
    "mirrors": lambda smk: {"local_mirror": smk.config.get("local_mirror"), **smk.config["data"]["mirrors"]},
}


@dataclasses.dataclass(frozen=True)
class JobSpec:
    runtime: typing.ClassVar[dict] = {}
    # wildcard -> (field, conversion): a wildcard that fills a field of another name or type
    wildcard_fields: typing.ClassVar[dict] = {}

    @classmethod
    def from_snakemake(cls, smk):
        """The spec of the running Snakemake job `smk`; a name the rule gives that the spec has no
        field for, or a field nothing fills, is an error (the rule and the spec disagree)."""
        names = {f.name for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        given = {k: v for k, v in smk.params.items()}
        for k, v in smk.wildcards.items():
            field, convert = cls.wildcard_fields.get(k, (k, int if hints.get(k) is int else str))
            given[field] = convert(v)
        inputs = dict(smk.input.items())
        given.update({"inputs": inputs} if "inputs" in names else inputs)
        given.update(smk.output.items())
        given.update(log=smk.log[0], threads=smk.threads)
        extra = sorted(set(given) - names - {"log", "threads"})
        if extra:
            raise TypeError(f"{cls.__name__}: the rule gives {extra}, which the spec does not have")
        readers = {**RUNTIME, **cls.runtime}
        given.update((k, read(smk)) for k, read in readers.items() if k in names and k not in given)
        return cls(**{k: v for k, v in given.items() if k in names})
