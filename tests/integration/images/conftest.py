"""Fixtures: a real docker-registry on loopback, an HTTP proxy that can lie, busybox rootfs."""

from __future__ import annotations

import base64
import http.client
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

REGISTRY_BIN = "/usr/bin/docker-registry"
BUSYBOX = "/bin/busybox"

pytestmark = pytest.mark.skipif(not os.path.exists(REGISTRY_BIN), reason="no docker-registry")


@pytest.fixture
def tmp_path() -> Iterator[pathlib.Path]:
    d = tempfile.mkdtemp(prefix="corral-images-it-")
    try:
        yield pathlib.Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    """A docker-registry process on a free loopback port, filesystem storage in a temp dir."""

    def __init__(self, htpasswd: dict[str, str] | None = None, addr: str = "127.0.0.1") -> None:
        self.addr = addr      # the address it listens on (loopback unless a test's netns needs it)
        bcrypt = pytest.importorskip("bcrypt") if htpasswd else None  # a dev dependency
        self.dir = tempfile.mkdtemp(prefix="corral-registry-")
        self.proc: subprocess.Popen[str] | None = None
        self._drain: threading.Thread | None = None
        self.log: list[str] = []
        try:
            auth = ""
            if htpasswd and bcrypt is not None:
                path = os.path.join(self.dir, "htpasswd")
                with open(path, "w") as f:
                    for user, pw in htpasswd.items():
                        hashed = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()
                        f.write(f"{user}:{hashed}\n")
                auth = f"auth:\n  htpasswd:\n    realm: corral-test\n    path: {path}\n"
            for _attempt in range(3):  # the free port may be taken before the registry binds
                if self._start(auth):
                    return
            raise RuntimeError("docker-registry did not start:\n" + "".join(self.log[-20:]))
        except BaseException:
            self.stop()
            raise

    def _start(self, auth: str) -> bool:
        self.port = free_port()
        self.host = f"{self.addr}:{self.port}"
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write(
                "version: 0.1\n"
                "log:\n  level: info\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/data\n"
                "  delete:\n    enabled: true\n"
                f"http:\n  addr: {self.host}\n  secret: corral-test-secret\n" + auth
            )
        self.proc = subprocess.Popen(
            [REGISTRY_BIN, "serve", config],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        ready = threading.Event()
        self._drain = threading.Thread(target=self._read_log, args=(self.proc, ready),
                                       daemon=True)
        self._drain.start()
        ready.wait(30)
        if self.proc.poll() is None and any("listening on" in line for line in self.log):
            return True
        self._stop_process()
        return False

    def _read_log(self, proc: subprocess.Popen[str], ready: threading.Event) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.log.append(line)
            if "listening on" in line:
                ready.set()
        ready.set()  # the process ended: let the waiter look

    def _stop_process(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._drain is not None:
            self._drain.join(10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def stop(self) -> None:
        self._stop_process()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def registry() -> Iterator[Registry]:
    r = Registry()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def auth_registry() -> Iterator[Registry]:
    r = Registry(htpasswd={"alice": "s3cret"})
    try:
        yield r
    finally:
        r.stop()


class Proxy:
    """Forwards to a registry; counts requests; can corrupt blobs or demand Bearer tokens."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.counts: Counter[tuple[str, str]] = Counter()
        self.corrupt = False  # flip a byte of every blob (same length)
        self.extra = b""  # append bytes to every blob
        self.token: str | None = None  # require "Bearer <token>" on /v2/
        self.token_user: tuple[str, str] | None = None  # Basic creds the token server wants
        self.scopes: list[str] = []
        self.fail_next = 0  # answer this many requests with 503
        self.cut_next_blob = 0  # drop the connection half-way through this many blob bodies
        self._mu = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.handle(self)

            do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def blob_gets(self) -> dict[str, int]:
        return {p.rsplit("/", 1)[1]: n for (m, p), n in self.counts.items()
                if m == "GET" and "/blobs/sha256:" in p}

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: bytes,
               headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        with self._mu:
            self.counts[(h.command, url.path)] += 1
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self._mu:
            fail = self.fail_next > 0
            self.fail_next -= 1 if fail else 0
        if fail:
            self._reply(h, 503, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}',
                        {"Content-Type": "application/json"})
            return
        if url.path == "/token":
            auth = h.headers.get("Authorization", "")
            if self.token_user is not None:
                want = "Basic " + base64.b64encode(":".join(self.token_user).encode()).decode()
                if auth != want:
                    self._reply(h, 401, b'{"details":"bad credentials"}')
                    return
            self.scopes.extend(parse_qs(url.query).get("scope", []))
            token = (self.token or "").encode()
            self._reply(h, 200, b'{"token": "%s", "expires_in": 300}' % token,
                        {"Content-Type": "application/json"})
            return
        if self.token is not None and h.headers.get("Authorization") != f"Bearer {self.token}":
            scope = ""
            parts = url.path.split("/")
            if "manifests" in parts or "blobs" in parts:
                i = parts.index("manifests") if "manifests" in parts else parts.index("blobs")
                scope = f',scope="repository:{"/".join(parts[2:i])}:pull"'
            challenge = f'Bearer realm="http://{self.host}/token",service="corral-test"{scope}'
            self._reply(h, 401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token needed"}]}',
                        {"WWW-Authenticate": challenge, "Content-Type": "application/json"})
            return
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            headers = {k: v for k, v in h.headers.items()
                       if k.lower() not in ("authorization", "connection", "content-length")}
            headers["Content-Length"] = str(len(body))
            conn.request(h.command, h.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out = {k: v for k, v in resp.getheaders()
                   if k.lower() not in ("content-length", "connection", "transfer-encoding")}
        finally:
            conn.close()
        if h.command == "GET" and "/blobs/sha256:" in url.path and resp.status == 200:
            if self.corrupt and data:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            data += self.extra
            with self._mu:
                cut = self.cut_next_blob > 0
                self.cut_next_blob -= 1 if cut else 0
            if cut:
                h.send_response(200)
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                h.wfile.write(data[: len(data) // 2])
                h.close_connection = True
                return
        if h.command == "HEAD":
            h.send_response(resp.status)
            for k, v in out.items():
                h.send_header(k, v)
            h.send_header("Content-Length", resp.getheader("Content-Length") or "0")
            h.end_headers()
            return
        self._reply(h, resp.status, data, out)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def proxy(registry: Registry) -> Iterator[Proxy]:
    p = Proxy(registry.host)
    try:
        yield p
    finally:
        p.stop()


def busybox_rootfs(root: pathlib.Path, marker: str = "") -> str:
    """A minimal rootfs: /bin/busybox (static) and a few applet links."""
    (root / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in ("sh", "true", "echo", "cat"):
        os.symlink("busybox", root / "bin" / applet)
    (root / "tmp").mkdir()
    if marker:
        (root / "etc").mkdir()
        (root / "etc" / "marker").write_text(marker)
    return str(root)
