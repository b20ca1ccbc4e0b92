"""Resolve and check the experiment config: the one place that turns config.yaml into
per-job hyperparameters.

The JSON schema (workflow/schemas/config.schema.yaml) checks the structure; this module checks
what the schema cannot: that every variant names a known family, that its hyperparameters are
exactly the family's (a misspelt key is named), and that every table row exists.
"""

from __future__ import annotations

from pathlib import Path

from ffmodels.errors import ConfigError
from ffmodels.families import FAMILIES, check_hparams
from ffmodels.variants import is_random_init, random_init_name, variant_hparams  # noqa: F401 (re-exported)


def random_init_of(config: dict, variant: str) -> str:
    """The random-init baseline a variant is compared with: its family's, or the one of the
    family it declares (baseline_family) when its untrained network gives the same features."""
    family = FAMILIES[config["variants"][variant]["family"]]
    return random_init_name(family.baseline_family or family.family)


def enabled_tables(config: dict) -> dict[str, dict]:
    """The tables to build: every entry of `tables` not switched off with `enabled: false`."""
    return {name: spec for name, spec in config["tables"].items() if spec.get("enabled", True)}


def table_runs(config: dict) -> dict[str, dict[str, list[str]]]:
    """{table: {stage: [run names]}}: what each configured table reads."""
    from ffmodels.tables import runs_of

    variants = {"random_init_of": {v: random_init_of(config, v) for v in config["variants"]},
                "family_of": {v: FAMILIES[spec["family"]] for v, spec in config["variants"].items()}}
    return {name: runs_of(spec, variants) for name, spec in enabled_tables(config).items()}


def check_config(config: dict) -> None:
    """Raise ConfigError naming the first key that cannot be run."""
    for family, hp in config["families"].items():
        if family not in FAMILIES:
            raise ConfigError(f"families.{family}: unknown family; known: {sorted(FAMILIES)}")
        check_hparams(family, hp, where=f"families.{family}")
    for name, spec in config["variants"].items():
        family = spec.get("family")
        if family not in config["families"]:
            raise ConfigError(
                f"variants.{name}.family: '{family}' is not defined under families "
                f"({sorted(config['families'])})"
            )
        hp = variant_hparams(config, name)
        hp.pop("family")
        check_hparams(family, hp, where=f"variants.{name}")
        arch_changed = [k for k in FAMILIES[family].ARCH_KEYS if hp[k] != config["families"][family][k]]
        if arch_changed:
            # The random-init baseline is built from the family's defaults; a variant with
            # another architecture would be compared with the wrong baseline.
            raise ConfigError(
                f"variants.{name}: overrides architecture key(s) {arch_changed}; define a new "
                f"family for another architecture so it gets its own random-init baseline"
            )
    from ffmodels.tables import KINDS

    for table, spec in config["tables"].items():
        if spec["kind"] not in KINDS:
            raise ConfigError(f"tables.{table}.kind: unknown kind '{spec['kind']}'; known: {sorted(KINDS)}")
        for key in ("variants", "ceilings"):
            for v in spec.get(key, []):
                if v not in config["variants"]:
                    raise ConfigError(f"tables.{table}.{key}: '{v}' is not defined under variants")
        ref = spec.get("reference")
        if ref not in (None, "random_init") and ref not in spec.get("variants", []):
            raise ConfigError(f"tables.{table}.reference: '{ref}' is not one of its variants")
    from ffmodels.analysis import METRICS
    from ffmodels.figures import PLOTS

    for figure, spec in (config.get("figures") or {}).items():
        if spec["plot"] not in PLOTS:
            raise ConfigError(f"figures.{figure}.plot: unknown plot '{spec['plot']}'; known: {sorted(PLOTS)}")
        for table in [spec["table"], *spec.get("tables", [])]:
            if table not in config["tables"]:
                raise ConfigError(f"figures.{figure}: table '{table}' is not defined under tables")
        if spec.get("analysis") not in (None, *METRICS):
            raise ConfigError(f"figures.{figure}.analysis: unknown analysis '{spec['analysis']}'; known: {sorted(METRICS)}")
    if len(set(config["seeds"])) != len(config["seeds"]):
        raise ConfigError(f"seeds: duplicates in {config['seeds']}")
    for dataset in (config["data"]["source"], config["data"]["target"]):
        if dataset not in config["data"]["md5"]:
            raise ConfigError(f"data.md5.{dataset}: no checksums for this dataset")
        if dataset not in config["data"]["mirrors"]:
            raise ConfigError(f"data.mirrors.{dataset}: no mirror list for this dataset")


def data_sources(config: dict, dataset: str) -> list[str]:
    """Where to look for a dataset's files: the local mirror alone when set, else the URLs."""
    if config.get("local_mirror"):
        return [str(Path(config["local_mirror"]) / dataset)]
    return list(config["data"]["mirrors"][dataset])
