"""The workflow's start (every snakemake call, dry runs included) imports what common.smk names
and no library that only table and figure jobs use (ffmodels/lazy.py)."""

import re
import subprocess
import sys

from tests.conftest import REPO

JOB_ONLY = ("pandas", "scipy.stats", "matplotlib.pyplot")


def test_the_workflow_start_imports_no_table_or_figure_library():
    modules = re.findall(r"^from (ffmodels[\w.]*) import", (REPO / "workflow/rules/common.smk").read_text(), re.M)
    assert "ffmodels.tables" in modules and "ffmodels.figures" in modules
    probe = f"import sys\nfor m in {modules!r}: __import__(m)\nprint([m for m in {JOB_ONLY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_lazy_library_loads_on_first_use():
    probe = (
        "import sys\nfrom ffmodels import stats\nassert 'scipy.stats' not in sys.modules\n"
        "print(stats.paired_test([1.0, 2.0, 3.5], [0.5, 1.0, 1.5])['p'] > 0, 'scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True True"
