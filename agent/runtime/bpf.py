"""eBPF for the runtime: a tiny assembler and the bpf() commands the cgroup v2
device filter needs (load a program, attach/detach/query it on a cgroup).

Instructions are ``struct bpf_insn`` (8 bytes: opcode, dst/src registers,
16-bit offset, 32-bit immediate), built by the helpers below; jump offsets
count instructions after the jump.  Commands lay out ``union bpf_attr`` with
struct and go through :meth:`Syscalls.bpf`; failures raise ``OSError`` (a
program the verifier refuses carries the verifier's log in the message).
"""

from __future__ import annotations

import ctypes
import struct

import agent.runtime.syscalls as sc

# commands (linux/bpf.h enum bpf_cmd)
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16

# program and attach types
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 1 << 1

# opcodes: class | operation | source
_LDX_MEM_W = 0x61            # BPF_LDX | BPF_MEM | BPF_W
_ALU32_AND_K = 0x54          # BPF_ALU | BPF_AND | BPF_K
_ALU32_RSH_K = 0x74          # BPF_ALU | BPF_RSH | BPF_K
_ALU32_MOV_X = 0xBC          # BPF_ALU | BPF_MOV | BPF_X
_ALU64_MOV_K = 0xB7          # BPF_ALU64 | BPF_MOV | BPF_K
_JNE_K = 0x55                # BPF_JMP | BPF_JNE | BPF_K
_JNE_X = 0x5D                # BPF_JMP | BPF_JNE | BPF_X
_EXIT = 0x95                 # BPF_JMP | BPF_EXIT

_INSN = struct.Struct("<BBhi")
_LOG_SIZE = 64 * 1024


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return _INSN.pack(code, (src & 0xF) << 4 | (dst & 0xF), off, imm)


def load_u32(dst: int, src: int, off: int) -> bytes:
    """dst = *(u32 *)(src + off)"""
    return insn(_LDX_MEM_W, dst, src, off)


def and32(dst: int, imm: int) -> bytes:
    return insn(_ALU32_AND_K, dst, imm=imm)


def rsh32(dst: int, imm: int) -> bytes:
    return insn(_ALU32_RSH_K, dst, imm=imm)


def mov32_reg(dst: int, src: int) -> bytes:
    return insn(_ALU32_MOV_X, dst, src)


def mov64_imm(dst: int, imm: int) -> bytes:
    return insn(_ALU64_MOV_K, dst, imm=imm)


def jne_imm(dst: int, imm: int, off: int) -> bytes:
    """if dst != imm: skip ``off`` instructions"""
    return insn(_JNE_K, dst, imm=imm, off=off)


def jne_reg(dst: int, src: int, off: int) -> bytes:
    return insn(_JNE_X, dst, src, off=off)


def exit_() -> bytes:
    return insn(_EXIT)


def _addr(buf: ctypes.Array[ctypes.c_char]) -> int:
    return ctypes.addressof(buf)


def prog_load(prog_type: int, program: bytes, license_: str = "Apache-2.0",
              name: str = "", sys_: sc.Syscalls = sc.SYS) -> int:
    """Load ``program`` (bpf_insn array); returns the program's fd."""
    if not program or len(program) % _INSN.size:
        raise ValueError("an eBPF program is a non-empty array of 8-byte instructions")
    insns = ctypes.create_string_buffer(program, len(program))
    lic = ctypes.create_string_buffer(license_.encode())
    log = ctypes.create_string_buffer(_LOG_SIZE)
    # prog_type insn_cnt insns license log_level log_size log_buf kern_version prog_flags
    # prog_name[16]
    attr = bytearray(struct.pack("<IIQQIIQII16s", prog_type, len(program) // _INSN.size,
                                 _addr(insns), _addr(lic), 1, _LOG_SIZE, _addr(log), 0, 0,
                                 name.encode()[:15]))
    try:
        return sys_.bpf(BPF_PROG_LOAD, attr)
    except OSError as e:
        text = log.value.decode(errors="replace").strip()
        raise OSError(e.errno, f"{e.strerror}{': verifier: ' + text if text else ''}") from e


def prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int = 0,
                sys_: sc.Syscalls = sc.SYS) -> None:
    # target_fd attach_bpf_fd attach_type attach_flags replace_bpf_fd
    sys_.bpf(BPF_PROG_ATTACH, bytearray(struct.pack("<IIIII", target_fd, prog_fd,
                                                    attach_type, flags, 0)))


def prog_detach(target_fd: int, prog_fd: int, attach_type: int,
                sys_: sc.Syscalls = sc.SYS) -> None:
    sys_.bpf(BPF_PROG_DETACH, bytearray(struct.pack("<IIIII", target_fd, prog_fd,
                                                    attach_type, 0, 0)))


def prog_query(target_fd: int, attach_type: int, max_progs: int = 64,
               sys_: sc.Syscalls = sc.SYS) -> list[int]:
    """Ids of the programs attached to ``target_fd`` itself (not inherited ones)."""
    ids = (ctypes.c_uint32 * max_progs)()
    # target_fd attach_type query_flags attach_flags prog_ids prog_cnt
    attr = bytearray(struct.pack("<IIIIQI4x", target_fd, attach_type, 0, 0,
                                 ctypes.addressof(ids), max_progs))
    sys_.bpf(BPF_PROG_QUERY, attr)
    count = struct.unpack_from("<I", attr, 24)[0]
    return list(ids[:min(count, max_progs)])


def prog_fd_by_id(prog_id: int, sys_: sc.Syscalls = sc.SYS) -> int:
    return sys_.bpf(BPF_PROG_GET_FD_BY_ID, bytearray(struct.pack("<III", prog_id, 0, 0)))
