"""state.RecordCache: a replaced state.json is read again, even at the same size and tick."""

from __future__ import annotations

from pathlib import Path

from agent.runtime import state


def test_a_replaced_record_is_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    cache = state.RecordCache()
    assert cache.read("c1", path) == {}
    state.write_json_atomic(path, {"status": "running", "pid": 11})
    assert cache.read("c1", path) == {"status": "running", "pid": 11}
    for pid in (12, 13, 14):    # same size, written within one timestamp tick
        state.write_json_atomic(path, {"status": "running", "pid": pid})
        assert cache.read("c1", path)["pid"] == pid


def test_the_caller_gets_a_copy(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state.write_json_atomic(path, {"status": "created"})
    cache = state.RecordCache()
    cache.read("c1", path)["status"] = "exited"
    assert cache.read("c1", path) == {"status": "created"}
    path.unlink()
    assert cache.read("c1", path) == {}
