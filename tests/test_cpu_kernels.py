"""config cpu_kernels: avx2 holds a job's CPU kernels to AVX2 on any x86 CPU that has it, ATen's and
oneDNN's (CwC-FF's convolutions) alike, so that one seed gives an AVX2 machine's numbers on an
AVX512 one (docs/usage.md, Determinism). On an AVX2 CPU these checks hold whatever the setting;
on an AVX512 one (this project's machines) they fail without it."""

import platform
import subprocess
import sys

import pytest
import torch

from ffmodels.runtime import X86
from tests.conftest import REPO

# A job's process, started by a process that ran export_cpu_kernels as the Snakefile does.
JOB = """
import torch
x, w = torch.randn(8, 16, 28, 28), torch.randn(32, 16, 3, 3)
with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
    torch.nn.functional.conv2d(x, w)
print("aten", torch.backends.cpu.get_cpu_capability())
"""
WORKFLOW = f"""
import subprocess, sys
from ffmodels.runtime import export_cpu_kernels
export_cpu_kernels("avx2")
sys.exit(subprocess.run([sys.executable, "-c", {JOB!r}]).returncode)
"""


@pytest.mark.skipif(
    platform.machine().lower() not in X86 or torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
    reason="an x86 CPU with AVX2 or more: elsewhere the setting changes nothing",
)
def test_avx2_holds_the_kernels_of_every_job_the_workflow_starts():
    out = subprocess.run([sys.executable, "-c", WORKFLOW], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "aten AVX2" in out.stdout.splitlines()
    isa = [line for line in out.stdout.splitlines() if ",cpu,isa:" in line]
    assert isa and isa[0].endswith("isa:Intel AVX2"), isa  # not AVX-512
