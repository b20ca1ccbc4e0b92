"""Each job's code digest covers exactly the ffmodels modules it imports, transitively."""

import pytest

from ffmodels import codedeps
from tests.conftest import REPO

SCRIPTS = REPO / "workflow" / "scripts"


def files(*roots):
    return set(codedeps.code_digest(*roots))


def job_files(script, *extra):
    return files(*codedeps.script_imports(SCRIPTS / script), *extra)


def test_bp_pretraining_depends_on_bp_and_shared_training_but_not_ff_or_statistics():
    deps = job_files("pretrain.py", "ffmodels.families.bp")
    assert {
        "ffmodels/families/bp.py",
        "ffmodels/train.py",
        "ffmodels/families/base.py",
        "ffmodels/data.py",
        "ffmodels/jobs/pretrain.py",
    } <= deps
    assert not deps & {
        "ffmodels/families/ff.py",
        "ffmodels/negatives.py",
        "ffmodels/stats.py",
        "ffmodels/tables/__init__.py",
    }


def test_ff_jobs_depend_on_the_negative_strategies_through_the_ff_module():
    for script in ("pretrain.py", "transfer.py"):
        assert {"ffmodels/families/ff.py", "ffmodels/negatives.py"} <= job_files(script, "ffmodels.families.ff")
        assert "ffmodels/negatives.py" not in job_files(script, "ffmodels.families.bp")


def test_statistics_reach_only_the_table_job():
    assert "ffmodels/stats.py" in job_files("make_table.py", "ffmodels.tables.compare")
    for script in ("pretrain.py", "transfer.py", "prepare_dataset.py"):
        assert "ffmodels/stats.py" not in job_files(script, "ffmodels.families.ff")


def test_imports_inside_functions_and_parent_packages_count(tmp_path, monkeypatch):
    pkg = tmp_path / "ffmodels"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from ffmodels.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from . import c\n")
    (pkg / "sub" / "c.py").write_text("X = 1\n")
    (pkg / "unused.py").write_text("")
    monkeypatch.setattr(codedeps, "ROOT", tmp_path)
    codedeps.closure.cache_clear()
    try:
        assert codedeps.closure(("ffmodels.a",)) == (
            "ffmodels",
            "ffmodels.a",
            "ffmodels.sub",
            "ffmodels.sub.b",
            "ffmodels.sub.c",
        )
    finally:
        codedeps.closure.cache_clear()


@pytest.mark.parametrize(
    "edit, changes",
    [
        ("x = 1  # a comment\n", False),
        ("x = 1\n\n\n# another comment\n", False),
        ("x = 2\n", True),
        ('x = 1\n"""a docstring-like string"""\n', True),
    ],
)
def test_digest_ignores_comments_and_blank_lines_only(tmp_path, edit, changes):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text(edit)
    assert (codedeps.file_digest(a) != codedeps.file_digest(b)) is changes
