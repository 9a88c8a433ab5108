"""The local engine keeps S3 bodies past a few KB in files, none held open, and S3 behaves as before."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from flitstack.local import disk_s3
from flitstack.local.engine import LocalEngine


@pytest.fixture(scope="module")
def engine() -> Iterator[LocalEngine]:
    with LocalEngine() as e:
        yield e


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _files(engine: LocalEngine) -> list[Path]:
    folder = engine._s3_folder
    assert folder is not None
    return [p for p in folder.rglob("*") if p.is_file()]


def test_bodies_past_the_threshold_are_files_and_read_back_exactly(engine: LocalEngine) -> None:
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="disk-s3-a")
    small, big = b"{}", bytes(range(256)) * 64  # 2 bytes; 16 KiB
    fds = _open_fds()
    before = len(_files(engine))
    for i in range(50):
        s3.put_object(Bucket="disk-s3-a", Key=f"big/{i}", Body=big + str(i).encode())
    s3.put_object(Bucket="disk-s3-a", Key="small", Body=small)
    assert len(_files(engine)) == before + 50  # one file a large body; the small one stays in memory
    assert _open_fds() <= fds + 2  # no descriptor held per object (a pooled connection or two may open)
    assert s3.get_object(Bucket="disk-s3-a", Key="big/7")["Body"].read() == big + b"7"
    assert s3.get_object(Bucket="disk-s3-a", Key="small")["Body"].read() == small
    ranged = s3.get_object(Bucket="disk-s3-a", Key="big/7", Range="bytes=256-511")["Body"].read()
    assert ranged == bytes(range(256))
    head = s3.head_object(Bucket="disk-s3-a", Key="big/7")
    assert head["ContentLength"] == len(big) + 1
    s3.copy_object(Bucket="disk-s3-a", Key="copy", CopySource={"Bucket": "disk-s3-a", "Key": "big/7"})
    assert s3.get_object(Bucket="disk-s3-a", Key="copy")["Body"].read() == big + b"7"
    assert s3.head_object(Bucket="disk-s3-a", Key="copy")["ETag"] == head["ETag"]


def test_an_overwritten_or_deleted_body_leaves_no_file_behind(engine: LocalEngine) -> None:
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="disk-s3-b")
    before = len(_files(engine))
    s3.put_object(Bucket="disk-s3-b", Key="k", Body=b"x" * 10_000)
    s3.put_object(Bucket="disk-s3-b", Key="k", Body=b"y" * 20_000)
    assert s3.get_object(Bucket="disk-s3-b", Key="k")["Body"].read() == b"y" * 20_000
    s3.delete_object(Bucket="disk-s3-b", Key="k")
    assert len(_files(engine)) == before


def test_a_body_grows_across_the_threshold_and_truncates(tmp_path: Path) -> None:
    body = disk_s3.DiskBody(tmp_path, memory_bytes=8)
    body.write(b"abcd")
    body.write(b"efghijkl")  # past 8 bytes: now a file
    body.seek(0)
    assert body.read() == b"abcdefghijkl"
    body.seek(2)
    assert body.read(3) == b"cde"
    body.seek(0)
    body.truncate()
    body.write(b"z")
    body.seek(0)
    assert body.read() == b"z"
    spilled = body._path
    assert spilled is not None and spilled.exists()
    body.close()
    assert body.closed and not spilled.exists()
