"""Resolve and check the experiment config: the one place that turns config.yaml, its overlays
and --config values into what the jobs run.

The JSON schema (workflow/schemas/config.schema.yaml) checks the structure (check_schema, run by
resolve for the Snakefile and load_config alike); this module then checks what the schema cannot:
that every number is finite, that every family block resolves (its `extends`, ffmodels.variants)
to exactly the family's hyperparameters, each inside its domain (ffmodels.hparams: a misspelt
key, a wrong type or an impossible value is named with what is allowed), that every variant
names a known family, and that every table row exists.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from ffmodels.errors import ConfigError
from ffmodels.overlay import merge  # noqa: F401 (re-exported)
from ffmodels.families import FAMILIES, check_hparams
from ffmodels.names import is_control, needs_pretraining, stage_file
from ffmodels.variants import (  # noqa: F401 (re-exported)
    TASKS,
    calibrated_init_of,
    family_hparams,
    is_random_init,
    random_init_name,
    random_init_of,
    resolve_families,
    variant_hparams,
    variant_names,
)

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def typed(values):
    """Values given on Snakemake's command line as YAML (--config 'families={ff: {lr: 0.01}}')
    arrive with every nested scalar as text (Snakemake reads them with YAML's BaseLoader): read
    each again as YAML (numbers, booleans, null), and a number in exponent form such as 1e-3,
    which YAML 1.1 leaves as text, as a float."""
    if isinstance(values, dict):
        return {k: typed(v) for k, v in values.items()}
    if isinstance(values, list):
        return [typed(v) for v in values]
    if isinstance(values, str) and values.strip():
        try:
            value = yaml.safe_load(values)
        except yaml.YAMLError:
            return values
        if value is None or isinstance(value, (bool, int, float)):
            return value
        try:
            return float(values)
        except ValueError:
            return values  # text stays text (a path, a name)
    return values


def load_config(*overlays, path: Path = REPO / "config.yaml") -> dict:
    """config.yaml with overlays merged in order (file paths or dicts), resolved and checked:
    the config a workflow run with those --configfile overlays would see."""
    config = yaml.safe_load(Path(path).read_text())
    for overlay in overlays:
        if not isinstance(overlay, dict):
            overlay = yaml.safe_load(Path(overlay).read_text()) or {}
        config = merge(config, overlay)
    return resolve(config)


def non_finite(node, where: str = "") -> str | None:
    """The dotted key of the first NaN or infinite number in a config tree, or None."""
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return where if isinstance(node, float) and not math.isfinite(node) else None
    for key, value in items:
        found = non_finite(value, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def enabled_tables(config: dict) -> dict[str, dict]:
    """The tables to build: each entry of `tables` with `enabled: true`, or with no `enabled`
    while config `tables_enabled_by_default` is true."""
    default = config["tables_enabled_by_default"]
    return {name: spec for name, spec in config["tables"].items() if spec.get("enabled", default)}


def table_runs(config: dict) -> dict[str, dict[str, list[str]]]:
    """{table: {stage: [run names]}}: what each configured table reads."""
    from ffmodels.tables import runs_of

    names = variant_names(config)
    variants = {
        "random_init_of": {v: random_init_of(config, v) for v in names},
        "calibrated_init_of": {v: calibrated_init_of(config, v) for v in names},
        "family_of": {v: FAMILIES[variant_hparams(config, v)["family"]] for v in names},
        "transfer_control": config.get("transfer_control"),
    }
    return {name: runs_of(spec, variants) for name, spec in enabled_tables(config).items()}


def table_input_files(config: dict, runs: dict[str, list[str]]) -> dict[str, list[str]]:
    """{stage: result files} that a table reading `runs` ({stage: [run names]}, from table_runs)
    takes as input, over the config's seeds, relative to the workflow folder: the table rule's
    inputs, and what a restarted run still needs (tools.publish missing)."""
    return {
        stage: [stage_file(stage, run, seed) for run in names for seed in config["seeds"]]
        for stage, names in runs.items()
    }


def table_context(config: dict, table: str, runs: dict[str, list[str]]) -> dict:
    """What a table's numbers depend on besides its input files (runs: {stage: [run names]}, as
    table_runs gives them): the statistics settings, the preset label, the transfer control, and
    the random-init baselines of each variant it shows (a gap ladder's rungs name variants whose
    random init alone they may read). The table job's `ctx`."""
    variants = {run for stage_runs in runs.values() for run in stage_runs if needs_pretraining(run)}
    variants |= {rung["run"] for rung in config["tables"][table].get("rungs", [])}
    return {
        "preset": config["preset"],
        "stats": config["stats"],
        "transfer_control": config.get("transfer_control"),
        "random_init_of": {v: random_init_of(config, v) for v in sorted(variants)},
        "calibrated_init_of": {v: calibrated_init_of(config, v) for v in sorted(variants)},
    }


def settings_for(config: dict, run: str, runs: dict | None = None) -> dict:
    """The settings of config `sensitivity` a run's sensitivity job computes, in config order:
    those the tables reading it ask for (a table kind's `settings`; all of them by default, as
    the kind sensitivity shows every setting). runs: table_runs(config), when already known."""
    from ffmodels.tables import KINDS

    wanted = set()
    for table, stages in (runs if runs is not None else table_runs(config)).items():
        if run in stages.get("sensitivity", []):
            spec = config["tables"][table]
            kind = KINDS[spec["kind"]]
            wanted |= set(kind.settings(spec) if hasattr(kind, "settings") else config["sensitivity"])
    return {name: value for name, value in config["sensitivity"].items() if name in wanted}


def check_schema(config: dict) -> None:
    """Check the config's structure against the JSON schema with Snakemake's own validator, which
    also fills in the schema's defaults (in place); raise ConfigError naming the first key that
    breaks it (a config of an older commit that lacks a required key, a value outside its enum),
    not Snakemake's dump of the schema."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, str(SCHEMA))
    except WorkflowError as err:
        cause = err.__context__  # the jsonschema ValidationError Snakemake wraps
        path = ".".join(str(key) for key in getattr(cause, "absolute_path", ()))
        message = getattr(cause, "message", str(err))
        raise ConfigError(f"{path or 'config'}: {message} ({SCHEMA.relative_to(REPO)})") from None


def resolve(config: dict) -> dict:
    """The config with every family block resolved (ffmodels.variants), after checking it all
    (the schema first); raises ConfigError naming the first key that cannot be run."""
    check_schema(config)
    bad = non_finite(config)
    if bad:
        raise ConfigError(f"{bad}: not a finite number")
    for family in config["families"]:
        if family not in FAMILIES:
            raise ConfigError(f"families.{family}: unknown family; known: {sorted(FAMILIES)}")
    config = {**config, "families": resolve_families(config["families"])}
    datasets = config["data"]["md5"]
    tasks_of = {family: [None, *block.get(TASKS, {})] for family, block in config["families"].items()}
    for family, tasks in tasks_of.items():
        for task in tasks:
            if task is not None and task not in datasets:
                raise ConfigError(f"families.{family}.{TASKS}.{task}: not a dataset; known: {sorted(datasets)}")
            where = f"families.{family}" + (f".{TASKS}.{task}" if task else "")
            check_hparams(family, family_hparams(config, family, task), where=where)
    for name, spec in config["variants"].items():
        family = spec.get("family")
        if family not in config["families"]:
            raise ConfigError(
                f"variants.{name}.family: '{family}' is not defined under families ({sorted(config['families'])})"
            )
        if name in config["families"]:
            raise ConfigError(
                f"variants.{name}: every family is already a variant of its own name; give this variant another name"
            )
        if is_control(name) or is_random_init(name):
            raise ConfigError(
                f"variants.{name}: the name of a baseline run (a transfer control or a random init); "
                f"give this variant another name"
            )
        for task in tasks_of[family]:
            hp = variant_hparams(config, name, task)
            hp.pop("family")
            check_hparams(family, hp, where=f"variants.{name}" + (f" (on {task})" if task else ""))
    from ffmodels.tables import KINDS

    for table, spec in config["tables"].items():
        if spec["kind"] not in KINDS:
            raise ConfigError(f"tables.{table}.kind: unknown kind '{spec['kind']}'; known: {sorted(KINDS)}")
        for key in ("variants", "ceilings"):
            for v in spec.get(key, []):
                if v not in variant_names(config):
                    raise ConfigError(f"tables.{table}.{key}: '{v}' is not defined under variants (nor a family)")
        check = getattr(KINDS[spec["kind"]], "check", None)  # a kind's own keys (e.g. gap_ladder's rungs)
        why = check(table, spec, variant_names(config), config["sensitivity"]) if check else None
        if why:
            raise ConfigError(why)
        ref = spec.get("reference")
        if ref not in (None, "random_init") and ref not in spec.get("variants", []):
            raise ConfigError(f"tables.{table}.reference: '{ref}' is not one of its variants")
        claims = spec.get("claims", {})
        for name, claim in claims.items():
            target = claim.get("reading_of")
            if target is not None and (target not in claims or "reading_of" in claims[target]):
                primary = sorted(k for k, c in claims.items() if "reading_of" not in c)
                raise ConfigError(
                    f"tables.{table}.claims.{name}.reading_of: '{target}' is not one of its claims "
                    f"(those without reading_of: {primary})"
                )
    if not enabled_tables(config):
        raise ConfigError(
            "tables: no table is built (tables_enabled_by_default is false and no table sets enabled: true)"
        )
    from ffmodels.analysis import METRICS
    from ffmodels.figures import PLOTS

    for figure, spec in (config.get("figures") or {}).items():
        if spec["plot"] not in PLOTS:
            raise ConfigError(f"figures.{figure}.plot: unknown plot '{spec['plot']}'; known: {sorted(PLOTS)}")
        for table in [spec["table"], *spec.get("tables", [])]:
            if table not in config["tables"]:
                raise ConfigError(f"figures.{figure}: table '{table}' is not defined under tables")
        if spec.get("analysis") not in (None, *METRICS):
            raise ConfigError(
                f"figures.{figure}.analysis: unknown analysis '{spec['analysis']}'; known: {sorted(METRICS)}"
            )
    check_test_selection(config)
    for family in config["start_first"]:
        if family not in FAMILIES:
            raise ConfigError(f"start_first: unknown family '{family}'; known: {sorted(FAMILIES)}")
    for v in config["pretrain"]["test_every_epoch"]:
        if v not in variant_names(config):
            raise ConfigError(f"pretrain.test_every_epoch: '{v}' is not defined under variants (nor a family)")
    if len(set(config["seeds"])) != len(config["seeds"]):
        raise ConfigError(f"seeds: duplicates in {config['seeds']}")
    for dataset in (config["data"]["source"], config["data"]["target"]):
        if dataset not in config["data"]["md5"]:
            raise ConfigError(f"data.md5.{dataset}: no checksums for this dataset")
        if dataset not in config["data"]["mirrors"]:
            raise ConfigError(f"data.mirrors.{dataset}: no mirror list for this dataset")
    return config


def check_test_selection(config: dict) -> None:
    """A probe that picks its epoch on the test split (upstream's best test epoch) gives a
    test-selected number, which only a gap ladder shows, labelled so (PROTOCOL section 11): never
    the protocol's probe, nor a setting a table of kind sensitivity reads (it shows every one)."""
    if config["transfer"]["probe"]["select_on"] != "validation":
        raise ConfigError(
            f"transfer.probe.select_on: {config['transfer']['probe']['select_on']!r}: the protocol's probe selects on "
            "validation; a test-selected probe is allowed only in a `sensitivity` setting that gap ladders alone read"
        )
    kinds = {spec["kind"] for spec in enabled_tables(config).values()}
    for name, setting in config["sensitivity"].items():
        probe = merge(config["transfer"], setting)["probe"]
        if probe["select_on"] != "test":
            continue
        if probe["patience"] is not None:
            raise ConfigError(
                f"sensitivity.{name}.probe.select_on: 'test' needs patience null, not {probe['patience']}"
            )
        if "sensitivity" in kinds:
            raise ConfigError(
                f"sensitivity.{name}.probe.select_on: 'test' gives a test-selected number, but an enabled table of "
                "kind sensitivity would show it unlabelled; only gap ladders may read such a setting"
            )


def check_config(config: dict) -> None:
    """Raise ConfigError naming the first key that cannot be run (resolve, result unused)."""
    resolve(config)
