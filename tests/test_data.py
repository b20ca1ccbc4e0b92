"""Fetching verifies the MD5 of the uncompressed content and refuses bad files clearly."""

import gzip

import pytest
import torch

from ffmodels.data import DataError, IDX_FILES, fetch_idx, md5_of, prepare_splits
from tests.conftest import MIRROR, data_config


def uncompressed_md5(gz_path, tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(gzip.open(gz_path).read())
    return md5_of(plain)


def test_good_file_is_uncompressed_and_verified(tiny_mirror, tmp_path):
    name = "train-labels-idx1-ubyte"
    md5 = uncompressed_md5(tiny_mirror / f"{name}.gz", tmp_path)
    dest = tmp_path / "out" / name
    assert fetch_idx(name, dest, [str(tiny_mirror)], md5) == str(tiny_mirror)
    assert md5_of(dest) == md5


def test_uncompressed_mirror_files_are_accepted_too(tiny_mirror, tmp_path):
    name = "t10k-labels-idx1-ubyte"
    md5 = uncompressed_md5(tiny_mirror / f"{name}.gz", tmp_path)
    plain_mirror = tmp_path / "plain_mirror"
    plain_mirror.mkdir()
    (plain_mirror / name).write_bytes(gzip.open(tiny_mirror / f"{name}.gz").read())
    fetch_idx(name, tmp_path / "out" / name, [str(plain_mirror)], md5)


def test_wrong_checksum_is_refused_naming_file_mirror_and_checksum(tiny_mirror, tmp_path):
    name = "train-images-idx3-ubyte"
    dest = tmp_path / "out" / name
    dest.parent.mkdir()
    dest.write_bytes(b"computed earlier")  # must survive a failed fetch
    with pytest.raises(DataError) as err:
        fetch_idx(name, dest, [str(tiny_mirror)], "0" * 32)
    message = str(err.value)
    assert name in message and str(tiny_mirror) in message and "0" * 32 in message
    assert dest.read_bytes() == b"computed earlier"
    assert sorted(p.name for p in dest.parent.iterdir()) == [name]  # no temporary left behind


def test_missing_file_and_unreadable_mirror_are_named(tmp_path):
    with pytest.raises(DataError, match="nowhere.*unreadable"):
        fetch_idx("t10k-labels-idx1-ubyte", tmp_path / "x", [str(tmp_path / "nowhere")], "a" * 32)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="broken.*unreadable"):
        fetch_idx("t10k-labels-idx1-ubyte", tmp_path / "y", [str(broken)], "a" * 32)


def test_later_mirror_is_tried_when_the_first_fails(tiny_mirror, tmp_path):
    name = "t10k-labels-idx1-ubyte"
    md5 = uncompressed_md5(tiny_mirror / f"{name}.gz", tmp_path)
    assert fetch_idx(name, tmp_path / name, [str(tmp_path / "empty"), str(tiny_mirror)], md5) == str(tiny_mirror)


def test_split_is_fixed_disjoint_and_complete(tiny_mirror, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in IDX_FILES:
        (raw / name).write_bytes(gzip.open(tiny_mirror / f"{name}.gz").read())
    a, b = prepare_splits(raw, 20, 7), prepare_splits(raw, 20, 7)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len(a["train_y"]) == 100 and len(a["val_y"]) == 20 and len(a["test_y"]) == 30
    rows = torch.cat([a["train_x"], a["val_x"]])
    assert len(torch.unique(rows, dim=0)) == 120  # every training image exactly once
    with pytest.raises(ValueError, match="val_size"):
        prepare_splits(raw, 500, 7)


def test_the_test_mirror_matches_its_checksums(tmp_path):
    md5 = data_config()["md5"]
    for dataset in ("mnist", "fashion-mnist"):
        for name in IDX_FILES:
            fetch_idx(name, tmp_path / dataset / name, [str(MIRROR / dataset)], md5[dataset][name])


def test_download_from_an_http_mirror(tiny_mirror, tmp_path):
    """The URL path, served from loopback: the same check applies to downloaded files."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tiny_mirror))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        name = "t10k-labels-idx1-ubyte"
        md5 = uncompressed_md5(tiny_mirror / f"{name}.gz", tmp_path)
        assert fetch_idx(name, tmp_path / "dl" / name, [url], md5) == url
        assert md5_of(tmp_path / "dl" / name) == md5
        with pytest.raises(DataError, match=f"mirror {url}: .*expected {'f' * 32}"):
            fetch_idx(name, tmp_path / "dl2" / name, [url], "f" * 32)
        with pytest.raises(DataError, match="unreadable"):
            fetch_idx("no-such-file", tmp_path / "dl3" / "x", [url], "f" * 32)
    finally:
        server.shutdown()
