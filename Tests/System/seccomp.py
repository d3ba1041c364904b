"""A seccomp filter that fails one system call, for a child process about to exec the worker.

Containers and sandboxes refuse io_uring this way; the worker must notice and say so."""
import ctypes
import errno
import struct

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
# The same number on every architecture since the system-call tables were unified (Linux 5.1).
IO_URING_SETUP = 425


def refuse(syscall_number, error=errno.EPERM):
    """Returns a preexec_fn that makes `syscall_number` fail with `error` in the child."""

    def install():
        instructions = [
            (BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
            (BPF_JEQ_K, 0, 1, syscall_number),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | error),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        ]
        program = b"".join(struct.pack("HBBI", *instruction) for instruction in instructions)
        buffer = ctypes.create_string_buffer(program)

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        libc = ctypes.CDLL(None, use_errno=True)
        fprog = SockFprog(len(instructions), ctypes.addressof(buffer))
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "seccomp filter not installed")

    return install
