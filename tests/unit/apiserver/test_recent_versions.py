"""RecentVersions: the bytes seen at (key, revision), bounded, never older over newer."""

from controlplane.store.recent import RecentVersions


def test_only_the_exact_revision_answers() -> None:
    r = RecentVersions(8)
    r.remember(b"/k", 5, b"v5")
    assert r.at(b"/k", 5) == b"v5"
    assert r.at(b"/k", 4) is None and r.at(b"/k", 6) is None and r.at(b"/x", 5) is None


def test_an_older_event_does_not_replace_a_newer_write() -> None:
    r = RecentVersions(8)
    r.remember(b"/k", 7, b"v7")     # our write's answer
    r.remember(b"/k", 6, b"v6")     # the watch event of the version before, arriving late
    assert r.at(b"/k", 7) == b"v7" and r.at(b"/k", 6) is None


def test_bounded_oldest_out() -> None:
    r = RecentVersions(2)
    r.remember(b"/a", 1, b"a")
    r.remember(b"/b", 2, b"b")
    r.remember(b"/c", 3, b"c")
    assert len(r) == 2 and r.at(b"/a", 1) is None and r.at(b"/c", 3) == b"c"
    assert RecentVersions(0).at(b"/a", 1) is None
