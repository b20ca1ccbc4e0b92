import gzip
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parent.parent
# Real data for the tests: the slice of MNIST and Fashion-MNIST committed in .test/data (its
# checksums and split in .test/config.yaml), or, with FFREPRO_MIRROR=<folder>, a full local
# mirror (e.g. ../shared/data; config.yaml's checksums and split).
TEST_DATA = REPO / ".test" / "data"
TEST_CONFIG = REPO / ".test" / "config.yaml"
MIRROR = Path(os.environ.get("FFREPRO_MIRROR", TEST_DATA)).resolve()


WORKFLOW_FILES = (
    "Snakefile",
    "config.yaml",
    "claims.yaml",
    "conclusions.yaml",
    "workflow",
    "ffmodels",
    "presets",
    "envs",
    ".test",
)


def copy_workflow(dest: Path, extra: tuple[str, ...] = ()) -> Path:
    """A copy of the workflow (and the test configuration and data) to run in, away from the checkout."""
    for name in (*WORKFLOW_FILES, *extra):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


# The test workflow: the quick preset cut down to the committed data slice.
OVERLAYS = ("presets/quick.yaml", ".test/config.yaml")


def snakemake(wf, *args, check=True):
    """snakemake --cores 2 with the test overlays; more overlay files may lead `args`."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", *OVERLAYS, *args]
    out = subprocess.run(cmd, cwd=wf, capture_output=True, text=True, timeout=900)
    if check and out.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return out


@pytest.fixture(scope="session")
def workflow_dir(tmp_path_factory):
    """The test workflow run to the end, once per session (a few minutes): tests read it, and a
    test that changes anything works on its own copy (copy_of)."""
    wf = copy_workflow(tmp_path_factory.mktemp("wf"))
    snakemake(wf)
    return wf


def copy_of(workflow_dir, tmp_path, name):
    """A copy of the finished workflow (timestamps kept) that a test may change."""
    wf = tmp_path / name
    shutil.copytree(workflow_dir, wf, symlinks=True)  # copy2 keeps the timestamps
    return wf


def snapshot(wf):
    """{result file: mtime} of a workflow folder, to tell what a run rewrote."""
    return {str(p.relative_to(wf)): p.stat().st_mtime_ns for p in (wf / "results").rglob("*") if p.is_file()}


def data_config() -> dict:
    """config `data` (checksums, validation split) that matches MIRROR."""
    full = yaml.safe_load((REPO / "config.yaml").read_text())["data"]
    if MIRROR != TEST_DATA.resolve():
        return full
    return {**full, **yaml.safe_load(TEST_CONFIG.read_text())["data"]}


def write_idx_images(path: Path, images: torch.Tensor, compress: bool) -> None:
    """images: uint8 (N, 28, 28) in the IDX3 format (magic 2051, big-endian sizes)."""
    payload = struct.pack(">IIII", 2051, *images.shape) + images.numpy().tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)


def write_idx_labels(path: Path, labels: torch.Tensor, compress: bool) -> None:
    payload = struct.pack(">II", 2049, len(labels)) + labels.numpy().astype("uint8").tobytes()
    (gzip.open if compress else open)(path, "wb").write(payload)


@pytest.fixture
def tiny_mirror(tmp_path):
    """A synthetic dataset in IDX format: 120 training and 30 test images, gzip-compressed."""
    g = torch.Generator().manual_seed(0)
    root = tmp_path / "mirror" / "toy"
    root.mkdir(parents=True)
    for split, n in (("train", 120), ("t10k", 30)):
        images = torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8)
        write_idx_images(root / f"{split}-images-idx3-ubyte.gz", images, True)
        write_idx_labels(root / f"{split}-labels-idx1-ubyte.gz", torch.arange(n) % 10, True)
    return root


def pretrain_spec(out: Path, data: Path, variant: str, hp: dict, **fields):
    """A pretraining job's spec for a test: the test preset on MNIST, 500 images, no checkpoints,
    no source probe, no resume, files in `out`; `fields` override any of it (`seed` and one
    path per file: a chunk of that one seed; `seeds` and lists of paths: that chunk)."""
    from ffmodels.jobs.pretrain import PretrainSpec

    defaults = dict(
        seed=0,
        preset="test",
        task="mnist",
        train_subset=500,
        checkpoint_epochs=[],
        source_probe=None,
        test_every_epoch=False,
        code={},
        collapse=None,
        resume_file="",
        resume=False,
        model=out / "m.pt",
        metrics=out / "m.json",
        log=out / "log",
    )
    fields = {**defaults, **fields}
    seed = fields.pop("seed")
    fields.setdefault("seeds", [seed])  # a lone seed unless `seeds` is given
    return PretrainSpec(variant=variant, hp=hp, data=data, **fields)


@pytest.fixture(scope="session")
def real_splits(tmp_path_factory):
    """MNIST and Fashion-MNIST from MIRROR, verified and split as the pipeline does."""
    from ffmodels.data import IDX_FILES, fetch_idx, prepare_splits

    cfg = data_config()
    root = tmp_path_factory.mktemp("data")
    out = {}
    for dataset in ("mnist", "fashion-mnist"):
        for name in IDX_FILES:
            fetch_idx(name, root / dataset / name, [str(MIRROR / dataset)], cfg["md5"][dataset][name])
        torch.save(prepare_splits(root / dataset, cfg["val_size"], cfg["split_seed"]), root / f"{dataset}.pt")
        out[dataset] = root / f"{dataset}.pt"
    return out
