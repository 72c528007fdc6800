"""cgroup v1 driver: one hierarchy per controller, one module per controller."""

from agent.runtime.cgroups.v1.driver import V1Driver

__all__ = ["V1Driver"]
