"""A stage's state as the build goes: layers, the image config, history, ARGs, cache key.

`State.image_config(platform)` writes the finished OCI image config: the
base image's fields (unknown ones kept), the stage's config section (Env,
Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Labels, Volumes,
StopSignal, Healthcheck, Shell), rootfs.diff_ids and one history entry per
instruction (`empty_layer` where it made no layer). `created` is the time
of the newest layer the stage made (or its base's), not the time of the
build, so a build that is all cache hits gives the same image id again.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from typing import Any

from agent.build.ports import BaseImage, Layer

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ["/bin/sh", "-c"]
# usable in RUN without an ARG, and kept out of the cache key and the history (Docker's)
PROXY_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                        "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
                        "ALL_PROXY", "all_proxy"})


def now_rfc3339() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class State:
    key: str
    layers: list[Layer] = field(default_factory=list)
    doc: dict[str, Any] = field(default_factory=dict)      # the base's config document
    config: dict[str, Any] = field(default_factory=dict)   # its "config" section, as built
    history: list[dict[str, Any]] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)     # ARGs declared in the stage
    created: str = "1970-01-01T00:00:00Z"
    cmd_set: bool = False                                  # CMD given in this stage

    @classmethod
    def scratch(cls, key: str) -> State:
        return cls(key, config={"Env": [f"PATH={DEFAULT_PATH}"]})

    @classmethod
    def of(cls, base: BaseImage, key: str) -> State:
        doc = copy.deepcopy(base.config)
        cfg = doc.get("config") if isinstance(doc.get("config"), dict) else {}
        hist = doc.get("history") if isinstance(doc.get("history"), list) else []
        hist = list(hist or [])
        missing = len(base.layers) - sum(1 for h in hist if not h.get("empty_layer"))
        # history must name every layer (OCI); fill in for bases that carry none
        hist = [{"created_by": "(a layer of the base image)"}] * max(missing, 0) + hist
        st = cls(key, list(base.layers), doc, dict(cfg or {}), hist,
                 created=str(doc.get("created") or "1970-01-01T00:00:00Z"))
        if "PATH" not in st.env():          # as BuildKit: an image without PATH gets the default
            st.set_env("PATH", DEFAULT_PATH)
        return st

    def fork(self) -> State:
        """A copy for a stage that starts FROM this one (ARGs are not inherited)."""
        return State(self.key, list(self.layers), copy.deepcopy(self.doc),
                     copy.deepcopy(self.config), list(self.history), {}, self.created)

    # -- environment ------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.config.get("Env") or []:
            k, _, v = str(item).partition("=")
            out[k] = v
        return out

    def set_env(self, key: str, value: str) -> None:
        env = self.env()
        env[key] = value
        self.config["Env"] = [f"{k}={v}" for k, v in env.items()]

    def expansion_env(self) -> dict[str, str]:
        """What $VAR means in an instruction: the ARGs, then ENV over them."""
        return {**self.args, **self.env()}

    def run_env(self, proxies: dict[str, str]) -> list[tuple[str, str]]:
        """A RUN step's environment: ENV, ARGs not shadowed by ENV, then proxy args."""
        env = self.env()
        out = dict(env)
        for k, v in self.args.items():
            out.setdefault(k, v)
        for k, v in proxies.items():
            out.setdefault(k, v)
        out.setdefault("PATH", DEFAULT_PATH)
        return list(out.items())

    def shell(self) -> list[str]:
        sh = self.config.get("Shell")
        return list(sh) if isinstance(sh, list) and sh else list(DEFAULT_SHELL)

    # -- history and the final config -------------------------------------------------

    def record(self, created_by: str, layer: Layer | None, created: str | None = None) -> None:
        if layer is not None:
            self.layers.append(layer)
            self.created = created or self.created
        entry: dict[str, Any] = {"created": self.created, "created_by": created_by,
                                 "comment": "corral build"}
        if layer is None:
            entry["empty_layer"] = True
        self.history.append(entry)

    def image_config(self, architecture: str, os_name: str, variant: str = "") -> bytes:
        doc = copy.deepcopy(self.doc)
        for drop in ("container", "container_config", "docker_version", "id", "parent"):
            doc.pop(drop, None)
        doc.update(architecture=architecture, os=os_name, created=self.created,
                   config={k: v for k, v in self.config.items() if v not in (None, [], {}, "")},
                   rootfs={"type": "layers", "diff_ids": [la.diff_id for la in self.layers]},
                   history=self.history)
        if variant:
            doc["variant"] = variant
        else:
            doc.pop("variant", None)
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
