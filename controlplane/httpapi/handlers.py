"""The door's handlers beyond get/list/watch/create/update/delete, by subresource
("" = the object itself) and method: what server.py's `extra` is."""

from __future__ import annotations

from controlplane.httpapi import logs, patching, podproxy, portforward, streams, subresources
from controlplane.httpapi.routes import Handler

EXTRA: dict[str, dict[str, Handler]] = {
    "": {"PATCH": patching.patch},
    "scale": {"GET": subresources.get_scale, "PUT": subresources.put_scale,
              "PATCH": subresources.patch_scale},
    "eviction": {"POST": subresources.evict},
    "binding": {"POST": subresources.bind},
    "log": {"GET": logs.logs},
    "exec": {"GET": streams.exec_, "POST": streams.exec_},
    "attach": {"GET": streams.attach, "POST": streams.attach},
    "portforward": {"GET": portforward.portforward, "POST": portforward.portforward},
    "proxy": {m: podproxy.proxy for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                          "OPTIONS")},
}
