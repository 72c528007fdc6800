import io
import os
import threading

import pytest

from agent.images.errors import DigestMismatch, SizeMismatch, Unsupported
from agent.images.store import ContentStore

from .helpers import sha


def test_write_verified(tmp_path):
    s = ContentStore(str(tmp_path))
    data = b"hello" * 1000
    digest, size = s.write_blob(io.BytesIO(data), sha(data), len(data))
    assert (digest, size) == (sha(data), len(data))
    assert s.has_blob(digest, size) and s.read_blob(digest) == data
    assert s.temp_files() == []


@pytest.mark.parametrize(
    ("digest", "size", "error"),
    [
        (sha(b"other"), 5, DigestMismatch),
        (None, 4, SizeMismatch),  # longer than announced: stops early
        (None, 9, SizeMismatch),  # shorter than announced
    ],
)
def test_mismatch_stores_nothing(tmp_path, digest, size, error):
    s = ContentStore(str(tmp_path))
    data = b"hello"
    want = digest or sha(data)
    with pytest.raises(error) as ei:
        s.write_blob(io.BytesIO(data), want, size, "blob x")
    assert "blob x" in str(ei.value)
    assert s.list_blobs() == [] and s.temp_files() == []
    assert not s.has_blob(want)


def test_bad_digest_form(tmp_path):
    s = ContentStore(str(tmp_path))
    with pytest.raises(Unsupported):
        s.write_blob(io.BytesIO(b"x"), "md5:abc", 1)
    with pytest.raises(Unsupported):
        s.blob_path("sha256:../../etc/passwd")


def test_failure_mid_stream_removes_temp(tmp_path):
    class Boom:
        def read(self, n=-1):
            raise OSError("connection reset")

    s = ContentStore(str(tmp_path))
    with pytest.raises(OSError):
        s.write_blob(Boom(), sha(b"x"), 1)
    assert s.temp_files() == [] and s.list_blobs() == []


def test_stale_temp_files_are_cleaned_at_start(tmp_path):
    ContentStore(str(tmp_path))
    (tmp_path / "tmp" / "leftover").write_bytes(b"x")
    assert ContentStore(str(tmp_path)).temp_files() == []


def test_lock_serialises_one_key(tmp_path):
    s = ContentStore(str(tmp_path))
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first():
        with s.lock("k"):
            order.append("first-in")
            inside.set()
            release.wait(10)
            order.append("first-out")

    def second():
        inside.wait(10)
        with s.lock("k"):
            order.append("second-in")

    t1, t2 = threading.Thread(target=first), threading.Thread(target=second)
    t1.start()
    t2.start()
    inside.wait(10)
    with s.lock("other"):  # another key does not wait
        order.append("other")
    release.set()
    t1.join(10)
    t2.join(10)
    assert order.index("first-out") < order.index("second-in")
    assert "other" in order[:2] or order.index("other") < order.index("first-out")
    assert s._locks == {}


def test_records_round_trip(tmp_path):
    s = ContentStore(str(tmp_path))
    s.set_record("docker.io/library/x:latest", {"digest": "d", "manifest": "m", "config": "c"})
    s2 = ContentStore(str(tmp_path))
    rec = s2.get_record("docker.io/library/x:latest")
    assert rec is not None and rec["manifest"] == "m" and "created" in rec
    assert s2.delete_record("docker.io/library/x:latest")
    assert s2.records() == {}
    assert not any(n.endswith(".json") for n in os.listdir(tmp_path / "tmp"))
