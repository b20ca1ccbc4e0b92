"""Device choice, seeding, provenance written into every metrics file, and the import path of
the processes the workflow starts."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

PACKAGES = ("torch", "torchvision", "numpy", "scipy", "pandas", "snakemake")


def export_import_path(root: str) -> None:
    """Put `root` (the folder holding this ffmodels) first on PYTHONPATH, so that every job the
    workflow starts, whatever the executor or environment, imports this ffmodels and not
    another one installed elsewhere."""
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))


# config cpu_kernels: the environment that holds torch's CPU kernels to one instruction set. ATen
# (torch's own vectorised kernels) and oneDNN (convolutions, CwC-FF's) each pick the best the CPU
# has unless told otherwise, so that one seed's numbers differ between an AVX2 and an AVX512 CPU
# (docs/usage.md, Determinism). Both read it when a job's process starts.
CPU_KERNEL_ENV = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}
X86 = ("x86_64", "amd64")  # platform.machine() of the CPUs these names mean something on, lower-cased


def export_cpu_kernels(choice: str) -> dict[str, str]:
    """Put config cpu_kernels' environment into this process's, for every job the workflow starts
    (a job's own process, on this machine or through SLURM, where the Snakefile runs again).
    x86 only: elsewhere the names mean nothing and the CPU's own kernels run. native leaves the
    environment as it is (a variable set by hand still applies). Returns what it set."""
    if platform.machine().lower() not in X86:
        return {}
    env = CPU_KERNEL_ENV[choice]
    os.environ.update(env)
    return env


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep what the process frees: every block from the heap (none mapped
    on its own, which free would unmap) and the heap never trimmed. A step over a large batch
    allocates the same large tensors every step; unmapped, each comes back as fresh pages the
    kernel must fault in and zero (half of a full-batch FF step on the CPU). The process then holds
    its peak memory. True where it took effect; False where the C library has no mallopt
    (not glibc), which changes nothing."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, -1))  # -1: never trim


def resolve_device(name: str) -> torch.device:
    """'auto' = CUDA when present, else CPU; any torch device string otherwise."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device: '{name}' requested in config but CUDA is not available here")
    return device


def generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """(order, sampling) generators. Data order uses its own CPU generator so that the same seed
    gives the same minibatch order in every variant, whatever their negatives consume."""
    order = torch.Generator().manual_seed(seed)
    sampling = torch.Generator(device=device).manual_seed(seed + 7919)  # any fixed offset
    return order, sampling


def git_commit(repo: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def provenance(device: torch.device, wall_time_s: float) -> dict:
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "versions": versions,
        "python": platform.python_version(),
        "git_commit": git_commit(Path(__file__).resolve().parent.parent),
        "device": str(device),
        "device_name": (
            torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
        ),
        "torch_threads": torch.get_num_threads(),
        "cpu_kernels": torch.backends.cpu.get_cpu_capability(),  # config cpu_kernels; the CPU's best by default
        "host": platform.node(),
        "wall_time_s": round(wall_time_s, 3),
    }
