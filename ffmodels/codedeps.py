"""Which ffmodels source files a job's result depends on, and their digest.

A workflow script is thin: Snakemake's own code trigger sees the script, not the ffmodels code
it runs. Each rule therefore carries, as a param, the digest of every ffmodels module the job
imports, transitively, read from the code itself (its import statements, parsed with `ast`, so
the set cannot drift from a hand-kept list). Family modules are registered dynamically
(ffmodels.families imports them all), so a job names its variant's family module as an extra
root instead of depending on every family.

The digest is taken over the module's tokens without comments and blank lines: an edit to a
comment or to blank lines reruns nothing; any other edit, docstrings and indentation included,
reruns the jobs that import the module.
"""

from __future__ import annotations

import ast
import hashlib
import io
import tokenize
from functools import lru_cache
from pathlib import Path

PACKAGE = "ffmodels"
ROOT = Path(__file__).resolve().parent.parent  # the folder holding the ffmodels package


@lru_cache(maxsize=None)
def module_file(module: str) -> Path | None:
    """The source file of an ffmodels module or package, None when there is none."""
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_parents(module: str) -> list[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ too."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@lru_cache(maxsize=None)  # every closure walks the same files: parse each once per process
def imported_modules(path: Path, module: str | None = None) -> frozenset[str]:
    """The ffmodels modules that a file imports (anywhere in it, also inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if module and path.name == "__init__.py" else (module or "").rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import, resolved against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # `from a import b` imports the module a.b when there is one, else a name of a.
            names = [f"{base}.{a.name}" if module_file(f"{base}.{a.name}") else base for a in node.names]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                found.update(m for m in _with_parents(name) if module_file(m))
    return frozenset(found)


@lru_cache(maxsize=None)
def closure(roots: tuple[str, ...]) -> tuple[str, ...]:
    """Every ffmodels module reachable from the roots by imports, roots included, sorted."""
    seen: set[str] = set()
    todo = [m for r in roots for m in _with_parents(r) if module_file(m)]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        todo.extend(imported_modules(module_file(mod), mod) - seen)
    return tuple(sorted(seen))


def script_imports(script: Path) -> tuple[str, ...]:
    """The ffmodels modules a workflow script imports (the job's entry points)."""
    return tuple(sorted(imported_modules(Path(script))))


@lru_cache(maxsize=None)
def file_digest(path: Path) -> str:
    """sha256 of the file's tokens, comments and blank lines left out; 12 hex digits."""
    h = hashlib.sha256()
    skip = {tokenize.COMMENT, tokenize.NL}
    with open(path, "rb") as fh:
        for tok in tokenize.tokenize(io.BytesIO(fh.read()).readline):
            if tok.type not in skip:
                h.update(f"{tok.type}:{tok.string}\n".encode() if tok.type != tokenize.INDENT else b"INDENT\n")
    return h.hexdigest()[:12]


def code_digest(*roots: str) -> dict[str, str]:
    """{relative path: digest} of every ffmodels file the roots depend on."""
    return {str(module_file(m).relative_to(ROOT)): file_digest(module_file(m)) for m in closure(tuple(sorted(roots)))}
