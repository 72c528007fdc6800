"""IPAM allocation logic on a temporary directory (no root)."""

from __future__ import annotations

import ipaddress
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from agent.network.errors import InvalidNetworkConfig, IPAMExhausted, NetworkError
from agent.network.ipam import IPAM, parse_cidr


def test_first_address_is_gateway_pods_from_dot_two(tmp_path: Path) -> None:
    ipam = IPAM(tmp_path, "10.244.1.0/24")
    assert str(ipam.gateway) == "10.244.1.1"
    assert ipam.capacity == 253  # .2 .. .254
    assert str(ipam.allocate("pod-a", "default/a")) == "10.244.1.2"
    assert str(ipam.allocate("pod-b")) == "10.244.1.3"


def test_allocate_is_idempotent_per_key(tmp_path: Path) -> None:
    ipam = IPAM(tmp_path, "10.244.1.0/24")
    ip = ipam.allocate("pod-a")
    assert ipam.allocate("pod-a") == ip
    assert ipam.lookup("pod-a") == ip
    assert ipam.list() == {ip: "pod-a"}


def test_claim_tells_a_new_address_from_one_already_held(tmp_path: Path) -> None:
    ipam = IPAM(tmp_path, "10.244.1.0/24")
    ip, new = ipam.claim("uid-a", "default/a")
    assert new and ip == ipaddress.IPv4Address("10.244.1.2")
    assert ipam.claim("uid-a", "default/a") == (ip, False)
    assert IPAM(tmp_path, "10.244.1.0/24").claim("uid-a") == (ip, False)  # from disk
    assert ipam.claim("uid-b") == (ipaddress.IPv4Address("10.244.1.3"), True)


def test_record_is_one_file_per_ip_holding_the_key(tmp_path: Path) -> None:
    ipam = IPAM(tmp_path, "10.244.1.0/24")
    ipam.allocate("uid-123", "default/web-1")
    rec = tmp_path / "ipam" / "10.244.1.0_24" / "10.244.1.2"
    assert rec.read_text() == "uid-123\ndefault/web-1\n"


def test_exhaustion_message_names_cidr_and_pod(tmp_path: Path) -> None:
    ipam = IPAM(tmp_path, "10.244.1.0/30")
    assert ipam.capacity == 1
    ipam.allocate("one")
    with pytest.raises(IPAMExhausted) as err:
        ipam.allocate("two", "default/web-1")
    assert str(err.value) == "no free IP in 10.244.1.0/30 for pod default/web-1"
    assert isinstance(err.value, NetworkError)
    assert ipam.list() == {ipaddress.IPv4Address("10.244.1.2"): "one"}


def test_release_then_reuse_without_collision(tmp_path: Path) -> None:
    ipam = IPAM(tmp_path, "10.0.0.0/29")  # .2 .. .6
    ips = [ipam.allocate(f"p{i}") for i in range(5)]
    assert len(set(ips)) == 5
    with pytest.raises(IPAMExhausted):
        ipam.allocate("p5")
    assert ipam.release("p2") == [ips[2]]
    assert ipam.release("p2") == []  # idempotent
    assert ipam.allocate("p5") == ips[2]
    assert len(set(ipam.list())) == 5


def test_round_robin_does_not_reuse_a_freed_address_at_once(tmp_path: Path) -> None:
    ipam = IPAM(tmp_path, "10.0.0.0/24")
    a = ipam.allocate("a")
    ipam.release("a")
    b = ipam.allocate("b")
    assert b != a and int(b) == int(a) + 1


def test_survives_a_crash_new_object_same_dir(tmp_path: Path) -> None:
    first = IPAM(tmp_path, "10.0.0.0/28")
    taken = {first.allocate(f"p{i}") for i in range(6)}
    del first  # the agent "crashes": nothing in memory survives
    second = IPAM(tmp_path, "10.0.0.0/28")
    fresh = {second.allocate(f"q{i}") for i in range(7)}
    assert not taken & fresh
    assert second.lookup("p3") in taken
    with pytest.raises(IPAMExhausted):
        second.allocate("one-too-many")


def test_reconcile_frees_leaked_and_empty_records(tmp_path: Path) -> None:
    ipam = IPAM(tmp_path, "10.0.0.0/24")
    keep = ipam.allocate("alive")
    leaked = ipam.allocate("dead")
    # a crash between O_EXCL create and the write leaves an empty record
    (ipam.dir / "10.0.0.77").write_text("")
    freed = ipam.reconcile(["alive"])
    assert sorted(freed) == sorted([leaked, ipaddress.IPv4Address("10.0.0.77")])
    assert ipam.list() == {keep: "alive"}


def test_foreign_files_and_out_of_range_names_ignored(tmp_path: Path) -> None:
    ipam = IPAM(tmp_path, "10.0.0.0/24")
    (ipam.dir / "README").write_text("x")
    (ipam.dir / "10.9.9.9").write_text("other\n")
    assert ipam.list() == {}
    assert ipam.reconcile([]) == []
    assert (ipam.dir / "10.9.9.9").exists()


def test_release_ip(tmp_path: Path) -> None:
    ipam = IPAM(tmp_path, "10.0.0.0/24")
    ip = ipam.allocate("a")
    assert ipam.release_ip(str(ip)) is True
    assert ipam.release_ip(ip) is False
    assert ipam.lookup("a") is None


@pytest.mark.parametrize(
    "cidr", ["10.0.0.1/24", "nonsense", "10.0.0.0/31", "10.0.0.0/32", "fd00::/64", "10.0.0.0/33"]
)
def test_bad_cidr_is_a_clear_error(tmp_path: Path, cidr: str) -> None:
    with pytest.raises(InvalidNetworkConfig) as err:
        IPAM(tmp_path, cidr)
    assert repr(cidr) in str(err.value)


@pytest.mark.parametrize("key", ["", "two\nlines"])
def test_bad_key(tmp_path: Path, key: str) -> None:
    with pytest.raises(InvalidNetworkConfig):
        IPAM(tmp_path, "10.0.0.0/24").allocate(key)


def test_parse_cidr() -> None:
    assert str(parse_cidr("10.244.0.0/16")) == "10.244.0.0/16"


def _worker(args: tuple[str, int]) -> list[str]:
    data_dir, n = args
    ipam = IPAM(data_dir, "10.0.0.0/24")
    return [str(ipam.allocate(f"{os.getpid()}-{i}")) for i in range(n)]


def test_concurrent_processes_never_share_an_address(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(4) as pool:
        results = pool.map(_worker, [(str(tmp_path), 20)] * 4)
    ips = [ip for chunk in results for ip in chunk]
    assert len(ips) == 80 and len(set(ips)) == 80
    assert len(IPAM(tmp_path, "10.0.0.0/24").list()) == 80


def test_random_sequences_match_a_model(tmp_path_factory: pytest.TempPathFactory) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    ops = st.lists(st.tuples(st.sampled_from(["alloc", "release", "crash", "other"]),
                             st.integers(0, 7)), max_size=40)

    @settings(max_examples=60, deadline=None)
    @given(ops)
    def run(seq: list[tuple[str, int]]) -> None:
        d = tmp_path_factory.mktemp("ipam")
        ipam = IPAM(d, "10.0.0.0/29")  # 5 addresses for 8 possible keys
        other = IPAM(d, "10.0.0.0/29")  # a second allocator on the same store, kept
        model: dict[str, ipaddress.IPv4Address] = {}
        for op, k in seq:
            key = f"k{k}"
            if op == "alloc":
                if key in model or len(model) < 5:
                    model[key] = ipam.allocate(key)
                else:
                    with pytest.raises(IPAMExhausted):
                        ipam.allocate(key)
            elif op == "release":
                ipam.release(key)
                model.pop(key, None)
            elif op == "other":
                ipam, other = other, ipam
            else:
                ipam = IPAM(d, "10.0.0.0/29")
            assert len(set(model.values())) == len(model)
            assert {ip: key for key, ip in model.items()} == ipam.list()

    run()


def test_threads_on_one_and_two_allocators_never_share_an_address(tmp_path: Path) -> None:
    one, two = IPAM(tmp_path, "10.0.0.0/24"), IPAM(tmp_path, "10.0.0.0/24")
    got: list[str] = []

    def claim(ipam: IPAM, t: int) -> None:
        for i in range(25):
            got.append(str(ipam.allocate(f"t{t}-{i}")))
            if i % 5 == 4:
                ipam.release(f"t{t}-{i - 1}")

    threads = [threading.Thread(target=claim, args=(ipam, t))
               for t, ipam in enumerate([one, one, two, two])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    held = one.list()
    assert len(held) == 80 and held == two.list()
    assert len(set(held.values())) == 80
    assert all(one.lookup(key) == ip for ip, key in held.items())


def test_sees_a_change_made_by_another_allocator_or_by_hand(tmp_path: Path) -> None:
    one, two = IPAM(tmp_path, "10.0.0.0/24"), IPAM(tmp_path, "10.0.0.0/24")
    a = one.allocate("a")
    b = two.allocate("b")                       # one's index predates this
    assert one.lookup("b") == b and one.allocate("c") not in (a, b)
    assert two.release("a") == [a]
    assert one.lookup("a") is None and one.free_count() == one.capacity - 2
    st = os.stat(one.dir)
    d = two.allocate("d")
    os.utime(one.dir, ns=(st.st_atime_ns, st.st_mtime_ns))  # a clock too coarse to move
    assert one.lookup("d") == d                 # the lock file's change counter moved
    assert two.release("d") == [d]
    os.unlink(one.dir / str(b))                 # an operator removes a record
    assert one.lookup("b") is None and two.list() == {one.lookup("c"): "c"}


def test_a_claim_reads_no_record_once_indexed(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    ipam = IPAM(tmp_path, "10.0.0.0/24")
    for i in range(50):
        ipam.allocate(f"pod-{i}")
    reads: list[Path] = []
    real = IPAM._read_key
    monkeypatch.setattr(IPAM, "_read_key", staticmethod(lambda p: reads.append(p) or real(p)))
    ipam.allocate("new")
    ipam.release("pod-3")
    assert ipam.free_count() == ipam.capacity - 50 and reads == []
    assert IPAM(tmp_path, "10.0.0.0/24").lookup("new") == ipam.lookup("new")  # cold: reads all
    assert len(reads) == 50
