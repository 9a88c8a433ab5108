"""The local engine keeps S3 bodies past a few KB in files, none held open, and S3 behaves as before."""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import gc
import hashlib
import json
import multiprocessing
import os
import sys
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.s3 import models as s3_models

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


def test_an_etag_is_the_md5_of_the_body_read_a_block_at_a_time(engine: LocalEngine) -> None:
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="disk-s3-etag")
    body = os.urandom(6 * 1024 * 1024)
    put = s3.put_object(Bucket="disk-s3-etag", Key="k", Body=body)
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # noqa: S324 (S3's ETag)
    key = s3_models.s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets["disk-s3-etag"].keys.getlist("k")[0]
    key._etag = None
    tracemalloc.start()
    etag = key.etag
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert etag == put["ETag"]
    # a block and the next one being read (moto reads 16 MB: the whole 6 MiB body at once)
    assert peak < 2 * disk_s3.ETAG_BLOCK + 256 * 1024, peak


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
    body.seek(6)
    body.truncate()  # cut short: the same file
    spilled = body._path
    assert spilled is not None and os.path.getsize(spilled) == 6
    body.seek(0)
    body.truncate()
    body.write(b"z")  # rewritten from the start: its old file gone, the new body small enough for memory
    body.seek(0)
    assert body.read() == b"z" and body._path is None and not os.path.exists(spilled)
    body.write(b"0123456789")
    respilled = body._path
    assert respilled is not None and os.path.exists(respilled)
    body.close()
    assert body.closed and not os.path.exists(respilled)


def test_a_range_of_a_file_body_keeps_the_bytes_it_was_opened_on(tmp_path: Path) -> None:
    body = disk_s3.DiskBody(tmp_path, memory_bytes=8)
    body.write(b"0123456789abcdef")
    whole = body.open_range()
    assert whole is not None and len(whole) == 16
    middle = whole[4:10]
    assert len(middle) == 6 and len(whole[20:]) == 0
    body.seek(0)
    body.truncate()
    body.write(b"a new body, longer than the old")  # S3 rewrites the object while the GETs are in flight
    assert b"".join(middle) == b"456789" and b"".join(whole) == b"0123456789abcdef"
    with pytest.raises(TypeError, match="contiguous slice"):
        whole[::2]
    small = disk_s3.DiskBody(tmp_path, memory_bytes=8)
    small.write(b"tiny")
    assert small.open_range() is None  # in memory: moto's own bytes


def _sent_peak(url: str, headers: dict[str, str] | None = None) -> tuple[bytes, int]:
    """What a GET (httpx, streamed) read back and the most this process, the server in it, held at once above where
    it began. (botocore allocates ~8 MiB of its own as a long body ends, so the client here is httpx.)"""
    gc.collect()
    tracemalloc.start()
    digest = hashlib.sha256()
    with httpx.stream("GET", url, headers=headers) as response:
        response.raise_for_status()
        for chunk in response.iter_raw(2**20):
            digest.update(chunk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return digest.digest(), peak


def test_a_get_sends_a_file_body_a_chunk_at_a_time(engine: LocalEngine) -> None:
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="disk-s3-get")
    body = os.urandom(1024 * 1024) * 24  # 24 MiB
    s3.put_object(Bucket="disk-s3-get", Key="k", Body=body)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "disk-s3-get", "Key": "k"})
    fds = _open_fds()
    whole, peak = _sent_peak(url)
    assert whole == hashlib.sha256(body).digest()
    # moto read the whole object into bytes before it sent the first one (29 MiB in all); now 5-7 MiB, and a
    # little more when another thread of the process allocates meanwhile: less than half the object, at most
    assert peak < 12 * 2**20, f"a GET of 24 MiB held {peak / 2**20:.1f} MiB"
    ranged, peak = _sent_peak(url, {"Range": f"bytes={5 * 2**20}-{7 * 2**20 - 1}"})
    assert ranged == hashlib.sha256(body[5 * 2**20:7 * 2**20]).digest()
    # moto read the whole object to slice the range out of it (26 MiB); now 3-4 MiB
    assert peak < 12 * 2**20, f"a 2 MiB range of 24 MiB held {peak / 2**20:.1f} MiB"
    tail = s3.get_object(Bucket="disk-s3-get", Key="k", Range="bytes=-10")
    assert tail["ContentLength"] == 10 and tail["ContentRange"] == f"bytes {len(body) - 10}-{len(body) - 1}/{len(body)}"
    assert tail["Body"].read() == body[-10:]
    assert s3.get_object(Bucket="disk-s3-get", Key="k", Range=f"bytes={len(body) - 3}-{len(body) + 99}")[
        "Body"].read() == body[-3:]
    assert _open_fds() <= fds + 2  # every body's descriptor closed once sent


def test_a_get_in_flight_sends_the_object_it_began_with(engine: LocalEngine) -> None:
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="disk-s3-flight")
    first, second = b"1" * (4 * 2**20), b"2" * (4 * 2**20)
    s3.put_object(Bucket="disk-s3-flight", Key="k", Body=first)
    chunks = s3.get_object(Bucket="disk-s3-flight", Key="k")["Body"].iter_chunks(2**20)
    got = [next(chunks)]
    s3.put_object(Bucket="disk-s3-flight", Key="k", Body=second)  # the old object's file is deleted
    got.extend(chunks)
    assert b"".join(got) == first
    assert s3.get_object(Bucket="disk-s3-flight", Key="k")["Body"].read() == second


def _complete_in_an_engine_of_its_own(algorithm: str | None, kind: str | None) -> tuple[int, str]:
    """Upload three 5 MiB parts and a tail, then complete the upload under tracemalloc: (its peak, the bucket).

    Run in a spawned process with an engine of its own: tracemalloc counts every thread of the process, and a
    suite worker still runs threads of the tests before it (measured: 19 MiB for the 15 MiB object, against 13)."""
    with LocalEngine() as engine:
        s3 = engine.client("s3")
        bucket = f"disk-s3-mpu-{(algorithm or 'none').lower()}"
        s3.create_bucket(Bucket=bucket)
        parts = _mpu_parts()
        started = s3.create_multipart_upload(Bucket=bucket, Key="k", **(
            {"ChecksumAlgorithm": algorithm, "ChecksumType": kind} if algorithm else {}))
        done = []
        for number, body in enumerate(parts, start=1):
            sent = s3.upload_part(Bucket=bucket, Key="k", UploadId=started["UploadId"], PartNumber=number, Body=body,
                                  **({"ChecksumAlgorithm": algorithm} if algorithm else {}))
            done.append({"PartNumber": number, "ETag": sent["ETag"],
                         **({f"Checksum{algorithm}": sent[f"Checksum{algorithm}"]} if algorithm else {})})
        gc.collect()
        tracemalloc.start()
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=started["UploadId"],
                                     MultipartUpload={"Parts": done})
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        whole = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
        head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
        head.pop("ResponseMetadata", None)
        return peak, json.dumps({"whole": hashlib.sha256(whole).hexdigest(), "head": head}, default=str)


def _mpu_parts() -> list[bytes]:
    part_size = 5 * 1024 * 1024  # S3's least part size (but the last)
    return [bytes([n]) * part_size for n in range(3)] + [b"tail"]


@pytest.mark.parametrize(("algorithm", "kind"), [(None, None), ("CRC32", "FULL_OBJECT"), ("SHA256", "COMPOSITE")])
def test_a_multipart_upload_is_completed_part_by_part_with_s3s_etag_and_checksum(
        algorithm: str | None, kind: str | None) -> None:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        peak, answer = pool.submit(_complete_in_an_engine_of_its_own, algorithm, kind).result(timeout=120)
    got = json.loads(answer)
    head = got["head"]
    parts = _mpu_parts()
    whole = b"".join(parts)
    # moto joined the parts into a bytearray and copied it to bytes (twice the object, and a third time for its
    # default checksum); now a part at a time
    assert peak < len(whole), f"completing held {peak / 2**20:.1f} MiB for a {len(whole) / 2**20:.1f} MiB object"
    assert got["whole"] == hashlib.sha256(whole).hexdigest()
    md5s = b"".join(hashlib.md5(p, usedforsecurity=False).digest() for p in parts)
    assert head["ETag"] == f'"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-{len(parts)}"'
    assert head["ContentLength"] == len(whole)
    if kind == "FULL_OBJECT":  # the CRC of the whole object, computed a part at a time
        assert head["ChecksumCRC32"] == base64.b64encode(binascii.crc32(whole).to_bytes(4, "big")).decode()
    if kind == "COMPOSITE":  # a checksum of the parts' checksums
        digests = b"".join(hashlib.sha256(p).digest() for p in parts)
        assert head["ChecksumSHA256"].split("-")[0] == base64.b64encode(hashlib.sha256(digests).digest()).decode()


def test_objects_are_slim_keys_and_keep_every_attribute_through_versions_and_locks(engine: LocalEngine) -> None:
    s3 = engine.client("s3")
    s3.create_bucket(Bucket="disk-s3-slim", ObjectLockEnabledForBucket=True)  # versioned, with object lock
    until = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    s3.put_object(Bucket="disk-s3-slim", Key="k", Body=b"x" * 5000, WebsiteRedirectLocation="/elsewhere",
                  ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)
    s3.put_object(Bucket="disk-s3-slim", Key="k", Body=b"y" * 10)
    key = s3_models.s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets["disk-s3-slim"].keys.getlist("k")[0]
    assert isinstance(key, disk_s3.SlimKey) and key.lock_mode == "GOVERNANCE"
    # 26 attributes in a dict that shares its keys: a few hundred bytes (a FakeKey's own dict was 1,584)
    assert sys.getsizeof(vars(key)) < 600
    clone = copy.deepcopy(key)  # how moto lists versions
    assert (clone.lock_mode, clone.website_redirect_location, clone.value) == ("GOVERNANCE", "/elsewhere", b"x" * 5000)
    clone.dispose()
    versions = s3.list_object_versions(Bucket="disk-s3-slim")["Versions"]
    assert sorted(v["Size"] for v in versions) == [10, 5000]
    old = next(v["VersionId"] for v in versions if v["Size"] == 5000)
    head = s3.head_object(Bucket="disk-s3-slim", Key="k", VersionId=old)
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["WebsiteRedirectLocation"] == "/elsewhere"
    assert s3.get_object(Bucket="disk-s3-slim", Key="k", VersionId=old)["Body"].read() == b"x" * 5000
    register = s3_models.FakeKey.instances_tracked  # type: ignore[attr-defined]  # what moto's reset and dashboard read
    assert any(k is key for k in register)
