"""Process-wide tuning for the agent's own process (`python -m agent`), to keep an
idle agent small (bench: footprint, target <= 45 MB RSS). Not applied when the
agent's modules are imported elsewhere (tests, tools), except lean_prometheus_client,
which agent/leanboot.py applies when agent/__main__.py imports it (before agent.metrics);
each is transparent:
a name of the package that is not loaded yet runs the package's real __init__."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


def limit_malloc_arenas(n: int = 2) -> None:
    """glibc gives threads that allocate their own malloc arenas (up to 8 per core), and
    each keeps memory it once used. Two are plenty for the agent (the GIL serialises
    Python allocations anyway). Best effort: not glibc, nothing happens."""
    import ctypes
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(-8, n)        # M_ARENA_MAX


def lean_pyroute2() -> None:
    """pyroute2's package __init__ imports all of pyroute2 (NDB with sqlite3, IPDB,
    conntrack, plan9, multiprocessing): ~6 MB the agent never uses, as agent/network
    needs only IPRoute and a few submodules. `IPRoute` comes from pyroute2.iproute.linux."""
    def iproute() -> Any:
        from pyroute2.iproute.linux import IPRoute
        return IPRoute

    lean_package("pyroute2", {"IPRoute": iproute})


def lean_prometheus_client() -> None:
    """prometheus_client's __init__ imports its exposition module, which imports
    http.server, urllib.request, wsgiref and email (~2 MB) that an agent nobody scrapes
    never uses: the agent imports its registry and metric classes from their submodules
    (agent/metrics.py), and /metrics imports the exposition on the first scrape
    (common/opshttp.py)."""
    lean_package("prometheus_client", {})


def lean_package(name: str, names: dict[str, Callable[[], Any]]) -> None:
    """Register package `name` without running its __init__: submodules import as
    usual, a name of `names` comes from its function (a plain import), and any other
    top-level name (not a submodule) runs the real __init__ on first use."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    mod = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def attr(attr_name: str) -> Any:
        if attr_name in names:
            with contextlib.suppress(ImportError, AttributeError):
                return names[attr_name]()
        if attr_name.startswith("__"):
            raise AttributeError(attr_name)
        if importlib.util.find_spec(f"{name}.{attr_name}") is not None:     # a submodule
            return importlib.import_module(f"{name}.{attr_name}")
        full(mod)
        return getattr(mod, attr_name)

    def full(m: ModuleType) -> None:
        m.__dict__.pop("__getattr__", None)
        loader.exec_module(m)

    mod.__getattr__ = attr      # type: ignore[method-assign]
    sys.modules[name] = mod
