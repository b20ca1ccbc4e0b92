"""A library imported on first use. The Snakefile reads the table and figure registries
(ffmodels.tables, ffmodels.figures) at every start, dry runs included; with pandas, scipy.stats
and matplotlib.pyplot deferred by those modules, it no longer pays about 1.5 s for libraries
that only the table and figure jobs use."""

from __future__ import annotations

import importlib


def lazy_import(name: str) -> Deferred:
    """Stands for the module `name` until first use (Deferred)."""
    return Deferred(name)


class Deferred:
    """The first attribute read imports the module (a plain import, under the interpreter's
    import lock: Snakemake reads params from several threads); every read is the real module's
    attribute. Not importlib.util.LazyLoader: another thread can see its module half-loaded
    before Python 3.12 (Snakemake then failed on pandas.DataFrame)."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"
