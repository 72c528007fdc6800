"""Keep the embedded etcd running, as systemd would keep a service: when it dies
(a crash, `corral chaos kill-etcd-member`), start it again on the same data dir.

    task = asyncio.ensure_future(supervise(etcd))    # ends only with MemberRemoved

A member that etcd removed from its cluster (`corral controlplane remove`) cannot
start on its data again: supervise() raises MemberRemoved and the control plane
stops, saying so, instead of restarting a dead member forever.
"""

from __future__ import annotations

import asyncio
import logging

from controlplane.etcd import EmbeddedEtcd, EtcdError

log = logging.getLogger(__name__)


class MemberRemoved(EtcdError):
    """This member's etcd was removed from the cluster: its data dir is of no use now."""


async def supervise(etcd: EmbeddedEtcd, interval: float = 0.5,
                    restart_delay: float = 1.0) -> None:
    while True:
        await asyncio.sleep(interval)        # polling the child, a timer
        if not etcd.exited():
            continue
        if etcd.removed():
            raise MemberRemoved(
                f"this member was removed from the etcd cluster: its data in {etcd.data_dir} "
                "is dead. Empty the data dir and join again (--join) to come back")
        log.warning("the embedded etcd exited (status %s); restarting it in %.0f s; its log "
                    "ends with:\n%s", etcd.returncode, restart_delay, etcd.log_tail(5))
        await asyncio.sleep(restart_delay)   # the restart delay, like systemd's RestartSec
        try:
            etcd.start(wait=False)
        except (EtcdError, OSError) as e:
            log.error("could not restart the embedded etcd: %s", e)
