"""cgroup v2 driver: one unified hierarchy, one module per controller."""

from agent.runtime.cgroups.v2.driver import V2Driver

__all__ = ["V2Driver"]
