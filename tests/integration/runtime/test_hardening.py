"""The default seccomp profile from inside real containers, and runc's CVE-2019-5736.

Syscalls busybox cannot make are made by the host's Python inside the
container: the test binds the host's /usr and the interpreter's prefix
read-only into a busybox root, so ``python3 -S -c CODE`` runs there with
ctypes.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.runtime import sealedexe, seccomp
from agent.runtime.model import ContainerConfig, Mount
from tests.integration.runtime.conftest import SKIP, Env, wait_for

pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(SKIP), reason=SKIP or "")]

PYTHON = os.path.realpath(sys.executable)
PREFIX = sys.base_prefix

# each probe prints name=OK or name=<errno name>; the numbers are this machine's
PROBE = r"""
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(name, nr, *args):
    ret = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    if ret == 0 and name == "clone_newuser":
        os._exit(0)                    # the child, should the clone have worked
    err = ctypes.get_errno() if ret < 0 else 0
    if ret > 0 and name == "clone_newuser":
        os.waitpid(ret, 0)
    print(f"{name}=" + (errno.errorcode.get(err, str(err)) if ret < 0 else "OK"), flush=True)
for line in sys.argv[1:]:
    name, nr, *args = line.split(",")
    call(name, int(nr), *[int(a, 0) for a in args])
"""


def probes() -> list[str]:
    nrs = seccomp.NUMBERS[seccomp.native_arch()]
    out = [
        f"keyctl,{nrs['keyctl']},0,-3,0",            # KEYCTL_GET_KEYRING_ID of the session
        f"add_key,{nrs['add_key']},0,0,0,0,0",
        f"setns,{nrs['setns']},0,0",
        f"unshare_user,{nrs['unshare']},0x10000000",
        f"mount,{nrs['mount']},0,0,0,0,0",
        f"clone_newuser,{nrs['clone']},0x10000011,0,0,0,0",   # CLONE_NEWUSER | SIGCHLD
        f"clone3,{nrs['clone3']},0,0",
        f"bpf,{nrs['bpf']},0,0,0",
        f"perf_event_open,{nrs['perf_event_open']},0,0,-1,-1,0",
        f"userfaultfd,{nrs['userfaultfd']},0",
        f"io_uring_setup,{nrs['io_uring_setup']},1,0",
        f"open_by_handle_at,{nrs['open_by_handle_at']},0,0,0",
        f"kexec_load,{nrs['kexec_load']},0,0,0,0",
        f"init_module,{nrs['init_module']},0,0,0",
        f"mknodat_blk,{nrs['mknodat']},-100,0,0o60600,0",
        f"getppid,{110 if seccomp.native_arch() == 'x86_64' else 173}",
    ]
    if seccomp.native_arch() == "x86_64":
        out.append(f"x32_getppid,{seccomp.X32_SYSCALL_BIT | 110}")
    return out


def python_config(env: Env, argv: list[str], evil: str = "", **kw: Any) -> ContainerConfig:
    """A container config whose root has the host's Python (read-only) over busybox."""
    layer = env.tmp / "pylayer"
    if not layer.exists():
        layer.mkdir()
        for name in ("lib", "lib64"):
            if os.path.islink(f"/{name}"):
                os.symlink(os.readlink(f"/{name}"), layer / name)
    if evil:
        (layer / "evil").write_text(evil)
        (layer / "evil").chmod(0o755)
    mounts = [Mount("/usr", "/usr", read_only=True), Mount(PREFIX, PREFIX, read_only=True)]
    return env.config(argv, lower_dirs=[layer, env.root], mounts=mounts, **kw)


def run_python(env: Env, code: str, *args: str, **kw: Any) -> str:
    cfg = python_config(env, [PYTHON, "-S", "-c", code, *args], **kw)
    env.rt.start_container(cfg)
    env.wait_exited(cfg.id, timeout=60)
    out = env.output(cfg.id)
    assert env.rt.status(cfg.id).exit_code == 0, out
    return out


def results(out: str) -> dict[str, str]:
    return dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)


def test_default_profile_refuses_dangerous_syscalls(env: Env) -> None:
    env.sandbox()
    got = results(run_python(env, PROBE, *probes()))
    for name in ("keyctl", "add_key", "setns", "unshare_user", "mount", "clone_newuser", "bpf",
                 "perf_event_open", "userfaultfd", "io_uring_setup", "open_by_handle_at",
                 "kexec_load", "init_module", "mknodat_blk"):
        assert got.get(name) == "EPERM", (name, got)
    assert got["clone3"] == "ENOSYS"          # so libcs fall back to clone
    assert got["getppid"] == "OK"
    if "x32_getppid" in got:
        assert got["x32_getppid"] == "ENOSYS"


def test_unconfined_has_no_filter(env: Env) -> None:
    env.sandbox()
    code = PROBE + "\nprint(open('/proc/self/status').read())"
    nrs = seccomp.NUMBERS[seccomp.native_arch()]
    out = run_python(env, code, f"keyctl,{nrs['keyctl']},0,-3,0",
                     seccomp_profile="Unconfined")
    assert "Seccomp:\t0" in out
    assert results(out)["keyctl"] != "EPERM"   # the kernel answers, not the filter
    assert "NoNewPrivs:\t1" in out


def test_exec_gets_the_same_filter(env: Env) -> None:
    env.sandbox()
    cfg = python_config(env, ["sleep", "1000"])
    env.rt.start_container(cfg)
    p = env.rt.exec(cfg.id, [PYTHON, "-S", "-c", PROBE + "\nos.system('ls /proc/self/fd')",
                             *probes()])
    out, err = p.proc.communicate(timeout=60)
    assert p.wait() == 0, err
    text = out.decode()
    got = results(text)
    assert got["keyctl"] == "EPERM" and got["clone_newuser"] == "EPERM", got
    assert got["mount"] == "EPERM" and got["clone3"] == "ENOSYS", got
    q = env.rt.exec(cfg.id, ["sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; "
                                         "ls /proc/self/fd | tr '\\n' ' '"])
    qout, qerr = q.proc.communicate(timeout=30)
    assert q.wait() == 0, qerr
    lines = qout.decode().splitlines()
    assert "Seccomp:\t2" in lines and "NoNewPrivs:\t1" in lines
    assert lines[-1].split() == ["0", "1", "2", "3"]   # 3: the directory ls reads


def test_exec_into_privileged_has_no_filter(env: Env) -> None:
    env.sandbox()
    info = env.rt.start_container(env.config(["sleep", "1000"], privileged=True))
    q = env.rt.exec(info.id, ["grep", "Seccomp:", "/proc/self/status"])
    out, _ = q.proc.communicate(timeout=30)
    assert q.wait() == 0 and out.decode().split() == ["Seccomp:", "0"]


# The attacker: a command whose interpreter is "/proc/self/exe", i.e. whatever
# binary ran the exec.  It keeps a handle on that binary, hands it to a
# busybox loop (so it no longer runs it itself) and writes into it as soon as
# nothing runs it any more (no "text file busy"; the sealed copy stays busy
# while the shim runs it, and refuses writes once it is not).
EVIL = """#!/proc/self/exe -S
import os
print("exe=" + os.readlink("/proc/self/exe"), flush=True)
fd = os.open("/proc/self/exe", os.O_PATH)
if fd != 3:
    os.dup2(fd, 3)
os.set_inheritable(3, True)
if os.fork() == 0:
    os.setsid()
    os.execv("/bin/sh", ["sh", "-c", '''
i=0
while [ $i -lt 50 ]; do
  if (printf PWNED 1<>/proc/self/fd/3) 2>/tmp/attack.err; then
    echo wrote > /tmp/attack.result; exit 0
  fi
  grep -qi busy /tmp/attack.err || { cat /tmp/attack.err > /tmp/attack.result; exit 0; }
  sleep 0.1; i=$((i+1))
done
echo gave-up > /tmp/attack.result
'''])
"""


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_exec_cannot_overwrite_the_hosts_binary(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                ) -> None:
    """CVE-2019-5736: the exec helper's binary, reached through /proc/self/exe."""
    env.sandbox()
    cfg = python_config(env, ["sleep", "1000"], evil=EVIL)
    env.rt.start_container(cfg)
    # the exec helper runs a copy of the interpreter that nothing else runs: without the
    # sealed copy, the kernel's "text file busy" would stop protecting it once the exec ends
    copy = env.tmp / "py" / "bin" / "python3"
    copy.parent.mkdir(parents=True)
    shutil.copy2(PYTHON, copy)
    before = {p: _sha(p) for p in (PYTHON, str(copy))}
    with monkeypatch.context() as mp:
        mp.setattr(sys, "executable", str(copy))
        p = env.rt.exec(cfg.id, ["/evil"])
        out, err = p.proc.communicate(timeout=60)
    assert p.wait() == 0, err
    exe = out.decode().strip()

    def verdict() -> str:
        q = env.rt.exec(cfg.id, ["cat", "/tmp/attack.result"])
        got, _ = q.proc.communicate(timeout=30)
        q.wait()
        return got.decode().strip()

    result = wait_for(verdict, timeout=60, what="the attacker's verdict")
    assert result != "wrote", (exe, result)
    assert {p: _sha(p) for p in before} == before
    assert exe.startswith("exe=/memfd:"), exe    # what it reached was the sealed copy
    fd = int(sealedexe.path().rsplit("/", 1)[1])
    assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) & sealedexe.SEALS == sealedexe.SEALS


def test_container_start_reaches_only_the_sealed_copy(env: Env) -> None:
    """The same trick as the container's own command: its init ran from the shim, which the
    zygote forked (or, before the zygote is up, a new interpreter)."""
    env.sandbox()
    evil = "#!/proc/self/exe -S\nimport os\nprint('exe=' + os.readlink('/proc/self/exe'))\n"
    for _ in range(2):          # the first start also starts the zygote, in the background
        cfg = python_config(env, ["/evil"], evil=evil)
        env.rt.start_container(cfg)
        env.wait_exited(cfg.id, timeout=60)
        out = env.output(cfg.id).strip()
        assert out.startswith("exe=/memfd:"), out
        if env.rt.zygote is not None:
            wait_for(env.rt.zygote.path.exists, timeout=30, what="the zygote")
    if env.rt.zygote is not None:
        assert env.rt.zygote.forked >= 1
