"""Shared test helpers (import them; each module's docstring shows its use).

- tests.support.etcd.EtcdProcess: a real etcd on free loopback ports in a temp dir
  (`.endpoint`, `.stop()`, `.start()` on the same data, `.kill()`, `.metric(name)`).
- tests.support.controlplane.ControlPlaneProcess(etcd_endpoint): `python -m controlplane`
  on a free port (`.address`, `.stop()`, `.start()`, `.kill()`, `.log()`); "" = embedded etcd.
  It lives in localcluster/cpprocess.py, for bench/ too.
- tests.support.controlplane.ControlPlane(etcd_endpoint): the API server in the test's
  event loop (`async with`; `.address`, `.registry`, `.store`, `await .restart()`).
- tests.support.aio: `run(coro, timeout)` and `await eventually(pred, timeout)`.
"""
