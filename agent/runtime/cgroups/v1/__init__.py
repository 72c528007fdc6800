"""cgroup v1 driver: one hierarchy per controller, one module per controller.

The driver is ``driver.V1Driver`` (this package imports none of its modules, so
they can import each other by their full names without a cycle)."""
