"""Process-wide tuning for the agent's own process (`python -m agent`), to keep an
idle agent small (bench: footprint, target <= 60 MB RSS). Not applied when the
agent's modules are imported elsewhere (tests, tools)."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
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
    needs only IPRoute and a few submodules. Register the package without running its
    __init__: submodules import as usual, `IPRoute` comes from pyroute2.iproute.linux,
    and any other top-level name (not a submodule) runs the real __init__ on first use."""
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    mod = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def attr(name: str) -> Any:
        if name == "IPRoute":
            with contextlib.suppress(ImportError, AttributeError):
                from pyroute2.iproute.linux import IPRoute
                return IPRoute
        if name.startswith("__"):
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:     # a submodule
            return importlib.import_module(f"pyroute2.{name}")
        full(mod)
        return getattr(mod, name)

    def full(m: ModuleType) -> None:
        m.__dict__.pop("__getattr__", None)
        loader.exec_module(m)

    mod.__getattr__ = attr      # type: ignore[method-assign]
    sys.modules["pyroute2"] = mod
