"""The local engine keeps S3 bodies past a few KB in files, none held open, and S3 behaves as before."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import tracemalloc
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


@pytest.mark.parametrize(("algorithm", "kind"), [(None, None), ("CRC32", "FULL_OBJECT"), ("SHA256", "COMPOSITE")])
def test_a_multipart_upload_is_completed_part_by_part_with_s3s_etag_and_checksum(
        engine: LocalEngine, algorithm: str | None, kind: str | None) -> None:
    s3 = engine.client("s3")
    bucket = f"disk-s3-mpu-{(algorithm or 'none').lower()}"
    s3.create_bucket(Bucket=bucket)
    part_size = 5 * 1024 * 1024  # S3's least part size (but the last)
    parts = [bytes([n]) * part_size for n in range(3)] + [b"tail"]
    started = s3.create_multipart_upload(Bucket=bucket, Key="k", **(
        {"ChecksumAlgorithm": algorithm, "ChecksumType": kind} if algorithm else {}))
    done = []
    for number, body in enumerate(parts, start=1):
        sent = s3.upload_part(Bucket=bucket, Key="k", UploadId=started["UploadId"], PartNumber=number, Body=body,
                              **({"ChecksumAlgorithm": algorithm} if algorithm else {}))
        done.append({"PartNumber": number, "ETag": sent["ETag"],
                     **({f"Checksum{algorithm}": sent[f"Checksum{algorithm}"]} if algorithm else {})})
    tracemalloc.start()
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=started["UploadId"],
                                 MultipartUpload={"Parts": done})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    whole = b"".join(parts)
    # moto joined the parts into a bytearray and copied it to bytes (twice the object, and a third time for its
    # default checksum); now a part at a time
    assert peak < len(whole), f"completing held {peak / 2**20:.1f} MiB for a {len(whole) / 2**20:.1f} MiB object"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == whole
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    md5s = b"".join(hashlib.md5(p, usedforsecurity=False).digest() for p in parts)
    assert head["ETag"] == f'"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(parts)}"'
    assert head["ContentLength"] == len(whole)
    if kind == "FULL_OBJECT":  # the CRC of the whole object, computed a part at a time
        assert head["ChecksumCRC32"] == base64.b64encode(binascii.crc32(whole).to_bytes(4, "big")).decode()
    if kind == "COMPOSITE":  # a checksum of the parts' checksums
        digests = b"".join(hashlib.sha256(p).digest() for p in parts)
        assert head["ChecksumSHA256"].split("-")[0] == base64.b64encode(hashlib.sha256(digests).digest()).decode()
