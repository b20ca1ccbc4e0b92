"""Cut the committed test slice from a full local mirror (run once; the slice is committed):

    python .test/make_data.py ../shared/data

Writes .test/data/<dataset>/<idx file>.gz: the first TRAIN training and TEST test images and
labels of MNIST and Fashion-MNIST, in the original IDX format, gzip-compressed (mtime 0, so the
bytes do not depend on when it ran), and prints the MD5 of each uncompressed file for
.test/config.yaml.
"""

import gzip
import hashlib
import struct
import sys
from pathlib import Path

TRAIN, TEST = 6000, 1000
HERE = Path(__file__).resolve().parent


def cut(raw: bytes, n: int) -> bytes:
    magic, count = struct.unpack(">II", raw[:8])
    dims = raw[8:8 + 4 * (magic & 0xFF) - 4]  # the sizes after the count (28, 28 for images)
    item = 1
    for i in range(0, len(dims), 4):
        item *= struct.unpack(">I", dims[i:i + 4])[0]
    start = 8 + len(dims)
    return struct.pack(">II", magic, n) + dims + raw[start:start + n * item]


def main(mirror: Path) -> None:
    for dataset in ("mnist", "fashion-mnist"):
        out = HERE / "data" / dataset
        out.mkdir(parents=True, exist_ok=True)
        for split, n in (("train", TRAIN), ("t10k", TEST)):
            for kind in ("images-idx3", "labels-idx1"):
                name = f"{split}-{kind}-ubyte"
                data = cut(gzip.decompress((mirror / dataset / f"{name}.gz").read_bytes()), n)
                with open(out / f"{name}.gz", "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
                    gz.write(data)
                print(f"{dataset} {name}: {hashlib.md5(data).hexdigest()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
