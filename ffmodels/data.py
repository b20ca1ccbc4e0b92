"""Data: fetch the IDX files from a mirror, verify them, split them, load them as tensors.

The MD5 checked is that of the *uncompressed* IDX content, so any mirror (official, a local
folder, gzip-wrapped or not) is accepted exactly when its content is right.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.parse
from pathlib import Path

# torch and torchvision are imported where they are used: a fetch job from a local mirror needs
# neither (importing torch is ~2 s of every job's start-up), and a training job, which only
# loads the prepared splits, needs no torchvision (which pulls in every torchvision model).

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataError(RuntimeError):
    """A data file that could not be had with the right content; the message says which."""


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_sources(mirrors: dict, dataset: str) -> list[str]:
    """Where to look for a dataset's files: {"local_mirror": folder or None, <dataset>: [URLs]}
    (config local_mirror and data.mirrors); the local mirror alone when set, else the URLs."""
    if mirrors.get("local_mirror"):
        return [str(Path(mirrors["local_mirror"]) / dataset)]
    return list(mirrors[dataset])


def _is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https", "ftp")


def _copy_from(source: str, filename: str, workdir: Path) -> Path:
    """Bring <source>/<filename>.gz (or the plain file, for a local folder) into workdir."""
    if _is_url(source):
        from torchvision.datasets.utils import download_url

        download_url(source.rstrip("/") + "/" + filename + ".gz", str(workdir), filename + ".gz")
        return workdir / (filename + ".gz")
    for candidate in (Path(source) / (filename + ".gz"), Path(source) / filename):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"neither {filename}.gz nor {filename} in {source}")


def _uncompress(path: Path, dest: Path) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)


def fetch_idx(filename: str, dest: Path, sources: list[str], expected_md5: str) -> str:
    """Write the uncompressed, verified file to dest from the first source that has it right.

    dest is replaced atomically only after its checksum matched, so a failed fetch never leaves
    a bad file behind. Returns the source used; raises DataError listing every attempt.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for source in sources:
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            tmp = Path(tmp)
            try:
                fetched = _copy_from(source, filename, tmp)
                _uncompress(fetched, tmp / filename)
            except (OSError, EOFError, gzip.BadGzipFile) as err:
                failures.append(f"  mirror {source}: unreadable ({err})")
                continue
            got = md5_of(tmp / filename)
            if got != expected_md5:
                failures.append(f"  mirror {source}: {fetched.name} uncompresses to MD5 {got}, expected {expected_md5}")
                continue
            os.replace(tmp / filename, dest)
            return source
    raise DataError(
        f"could not obtain {filename} (expected MD5 {expected_md5} of the uncompressed file) for {dest}:\n"
        + "\n".join(failures)
        + "\nCheck the mirror (config key local_mirror or data.mirrors); files already computed are untouched."
    )


def prepare_splits(raw_dir: Path, val_size: int, split_seed: int) -> dict:
    """train / val / test as uint8 images (N, 784) and int64 labels; the val split is a fixed
    random subset of the 60 000 training images (split_seed), the same for every run."""
    raw_dir = Path(raw_dir)
    import torch
    from torchvision.datasets.mnist import read_image_file, read_label_file

    train_x = read_image_file(str(raw_dir / "train-images-idx3-ubyte")).flatten(1)
    train_y = read_label_file(str(raw_dir / "train-labels-idx1-ubyte"))
    test_x = read_image_file(str(raw_dir / "t10k-images-idx3-ubyte")).flatten(1)
    test_y = read_label_file(str(raw_dir / "t10k-labels-idx1-ubyte"))
    if not 0 < val_size < len(train_y):
        raise ValueError(f"data.val_size: {val_size} must be between 1 and {len(train_y) - 1}")
    perm = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(split_seed))
    val_idx, train_idx = perm[:val_size].sort().values, perm[val_size:].sort().values
    return {
        "train_x": train_x[train_idx],
        "train_y": train_y[train_idx],
        "val_x": train_x[val_idx],
        "val_y": train_y[val_idx],
        "test_x": test_x,
        "test_y": test_y,
    }


def load_splits(path: Path, device, train_subset: int | None = None) -> dict:
    """The prepared splits as float images in [0, 1] on `device` (torch tensors); train cut to
    its first N."""
    import torch

    raw = torch.load(path, weights_only=True)
    out = {}
    for name, tensor in raw.items():
        if name.startswith("train") and train_subset is not None:
            tensor = tensor[:train_subset]
        out[name] = (tensor.float() / 255.0 if name.endswith("_x") else tensor.long()).to(device)
    return out
