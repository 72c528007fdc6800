"""The door's handlers beyond get/list/watch/create/update/delete, by subresource
("" = the object itself) and method: what server.py's `extra` is."""

from __future__ import annotations

from controlplane.httpapi import patching
from controlplane.httpapi.routes import Handler

EXTRA: dict[str, dict[str, Handler]] = {
    "": {"PATCH": patching.patch},
}
