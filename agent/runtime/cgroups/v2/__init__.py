"""cgroup v2 driver: one unified hierarchy, one module per controller.

The driver is ``driver.V2Driver`` (this package imports none of its modules, so
they can import each other by their full names without a cycle)."""
