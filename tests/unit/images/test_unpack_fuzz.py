"""Random layer tars: unpacking either works or raises an ImageError; nothing escapes."""

import io
import os
import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.images.errors import ImageError
from agent.images.unpack import unpack_layer

from .helpers import Entry, make_tar

parts = st.sampled_from(["a", "b", "..", ".", "", "etc", ".wh.a", ".wh..wh..opq", ".wh."])
names = st.lists(parts, min_size=1, max_size=4).map("/".join)
prefixed = st.tuples(st.sampled_from(["", "/", "./"]), names).map("".join)
entries = st.builds(
    Entry,
    name=prefixed,
    kind=st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo", "chr"]),
    data=st.sampled_from([b"", b"x"]),
    link=st.one_of(prefixed, st.sampled_from(["/", "/etc/passwd", "../../..", "a"])),
)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entries, min_size=1, max_size=8))
def test_random_tars_never_escape(entry_list):
    top = tempfile.mkdtemp(prefix="corral-fuzz-")
    try:
        dest = os.path.join(top, "box", "layer")
        os.makedirs(dest)
        sentinel = os.path.join(top, "box", "sentinel")
        with open(sentinel, "w") as f:
            f.write("s")
        try:
            unpack_layer(io.BytesIO(make_tar(entry_list)), dest, "fuzz")
        except ImageError:
            pass
        assert sorted(os.listdir(os.path.join(top, "box"))) == ["layer", "sentinel"]
        assert sorted(os.listdir(top)) == ["box"]
        with open(sentinel) as f:
            assert f.read() == "s"
        for dirpath, dirnames, filenames in os.walk(dest):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                assert os.path.realpath(os.path.dirname(p)).startswith(os.path.realpath(dest))
    finally:
        shutil.rmtree(top, ignore_errors=True)
