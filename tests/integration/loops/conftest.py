from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.etcd import EtcdProcess


@pytest.fixture
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as e:
        yield e
