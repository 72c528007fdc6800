from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcluster.cpmembers import MemberCluster


@pytest.fixture(scope="module")
def members() -> Iterator[MemberCluster]:
    """Three control-plane members on loopback, one etcd cluster (demo timings)."""
    with MemberCluster(3, profile="demo") as mc:
        yield mc
