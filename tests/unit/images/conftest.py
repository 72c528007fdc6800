import pathlib
import shutil
import tempfile

import pytest


@pytest.fixture
def tmp_path():
    """A temp dir removed after the test, pass or fail (pytest's own is kept for a while)."""
    d = tempfile.mkdtemp(prefix="corral-images-")
    try:
        yield pathlib.Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
