"""A pandas step's Python, run in a process of its own that reaches nothing but its inputs.

The step's declared inputs are handed in as Parquet files in a scratch folder, written there by
the run's own database, and its result comes back the same way (data, never pickles: nothing
the step's code writes is run by the platform). The process is started ahead of its step, so
that Python, pandas and DuckDB load while the run builds the steps before it.

The process starts with an environment that holds no secret (no `MESH_*`, no cloud keys, no
Dagster settings) and, before it reads its job or imports the step's module, closes itself with
Landlock (Linux >= 5.13): it may read the Python installation and the product's own folder
(its modules), read and write the scratch folder, and nothing else. No other domain's files, no
lake, no masking key, no warehouse; no TCP connection either (Landlock ABI >= 4).

Where the kernel has no Landlock, a pandas step is refused, unless the platform team allowed
unsandboxed Python for the domain (`MESH_UNSANDBOXED_PYTHON`, platform_core.settings): it then
runs in its own process with its inputs and a clean environment, but with the filesystem of the
user running the platform.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from platform_core.descriptors.names import literal

# Linux's Landlock system calls (the same numbers on every architecture) and flags.
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_VERSION = 1  # landlock_create_ruleset flag: ask the ABI version
_PATH_BENEATH = 1
_NO_NEW_PRIVS = 38
_READ = (1 << 0) | (1 << 2) | (1 << 3)  # execute, read file, read dir
_FILE_RIGHTS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)  # what applies to a file, not a folder
TIMEOUT_SECONDS = 3600
# What the step's process keeps of the environment: nothing that could hold a secret.
KEPT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")


class IsolationError(Exception):
    """A pandas step could not run isolated, or failed; the reason in words."""


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none (or it is disabled)."""
    if sys.platform != "linux":
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION))
    return max(int(version), 0)


class Sandbox:
    """The process one pandas step runs in, started before the step needs it: its interpreter,
    pandas and DuckDB load while the run builds the steps before it.

    `folder` is the step's scratch folder, which the caller made for it and may remove once the
    step is done: its inputs go there as `<name>.parquet` (`input_path`), and `call` returns the
    Parquet file of its result there. The process may read the `readable` folders (the step's
    modules) and write nothing but `folder`."""

    def __init__(self, folder: Path, *, readable: Iterable[Path], sandboxed: bool) -> None:
        self.folder = folder
        start = {
            "scratch": str(folder),
            "readable": sorted(str(p.resolve()) for p in readable),
            "sandboxed": sandboxed,
        }
        environment = {k: v for k, v in os.environ.items() if k in KEPT_ENVIRONMENT}
        environment |= {"HOME": str(folder), "TMPDIR": str(folder), "PYTHONDONTWRITEBYTECODE": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-m", "platform_core.execution.isolation", json.dumps(start)],
            cwd=folder,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def input_path(self, name: str) -> Path:
        return self.folder / f"{name}.parquet"

    def call(self, module: Path, function: str, inputs: Iterable[str]) -> Path:
        """`function` of `module` called with the inputs written to `input_path`; its result's file."""
        job = {"module": str(module.resolve()), "function": function, "inputs": sorted(inputs)}
        try:
            _, stderr = self.process.communicate(json.dumps(job), timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.close()
            raise IsolationError(f"the step ran for more than {TIMEOUT_SECONDS} s and was stopped") from None
        if self.process.returncode != 0:
            raise IsolationError(_reason(stderr) or f"the step's process ended with code {self.process.returncode}")
        return self.folder / "result.parquet"

    def close(self) -> None:
        """Stop the process if it still runs (its step never came, or failed the run)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stderr):
            if stream is not None:
                stream.close()


def _python_paths() -> set[str]:
    """What importing Python, pandas and DuckDB reads, as the step's own process (isolated mode:
    no working folder, no PYTHONPATH) finds them: the interpreter's and the environment's folders,
    and the platform's own package (not the project around it)."""
    package = str(Path(__file__).resolve().parents[1])  # platform_core
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, package}
    paths |= {p for p in sys.path if p and Path(p).is_dir()}
    paths |= {"/usr", "/lib", "/lib64", "/etc/localtime", "/etc/ld.so.cache", "/dev/null", "/dev/urandom"}
    # what DuckDB and NumPy read to size their threads and memory: this process's own entries and
    # the machine's counters, never another process's (/proc/<pid>/environ holds secrets)
    paths |= {
        "/proc/self/cgroup",
        "/proc/self/status",
        "/proc/self/mountinfo",
        "/proc/stat",
        "/proc/meminfo",
        "/proc/cpuinfo",
        "/proc/sys/vm/overcommit_memory",
        "/sys/devices/system/cpu",
        "/sys/fs/cgroup",
    }
    return {str(Path(p).resolve()) for p in paths if Path(p).exists()}


def _reason(stderr: str) -> str:
    """The last line of the step's traceback: its error, in its own words."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


# --- in the step's own process ------------------------------------------------------------------


def _restrict(readable: Iterable[str], writable: str) -> None:
    """Close this process (and what it starts) to every file but `readable` (read) and `writable`
    (read and write), and to TCP, for good."""
    abi = landlock_abi()
    if abi < 1:
        raise IsolationError("this kernel offers no Landlock")
    libc = ctypes.CDLL(None, use_errno=True)
    fs = (1 << 13) - 1  # the rights of ABI 1
    fs |= (1 << 13) if abi >= 2 else 0  # refer
    fs |= (1 << 14) if abi >= 3 else 0  # truncate
    fs |= (1 << 15) if abi >= 5 else 0  # ioctl on devices
    net = 0b11 if abi >= 4 else 0  # bind and connect TCP

    class Ruleset(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]

    attributes = Ruleset(fs, net)
    size = ctypes.sizeof(Ruleset) if abi >= 4 else 8
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attributes), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise IsolationError(f"Landlock refused a ruleset: {os.strerror(ctypes.get_errno())}")
    try:
        for path, rights in [*((p, _READ) for p in readable), (writable, fs)]:
            descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                allowed = rights & fs if os.path.isdir(path) else rights & fs & _FILE_RIGHTS
                rule = PathBeneath(allowed, descriptor)
                if libc.syscall(_ADD_RULE, ruleset, _PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    raise IsolationError(f"Landlock refused {path}: {os.strerror(ctypes.get_errno())}")
            finally:
                os.close(descriptor)
        if libc.prctl(_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.syscall(_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)):
            raise IsolationError(f"Landlock could not restrict the step: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)


def _main(start: dict) -> None:
    import importlib.util

    import duckdb
    import pandas as pd

    scratch = start["scratch"]
    if start["sandboxed"]:
        _restrict([*start["readable"], *_python_paths()], scratch)
    job = json.loads(sys.stdin.read())  # the step's call, once the run reaches it
    with duckdb.connect(config={"temp_directory": scratch}) as con:
        inputs = {
            name: con.execute(f"SELECT * FROM read_parquet({literal(str(Path(scratch) / f'{name}.parquet'))})").df()
            for name in job["inputs"]
        }
    module = Path(job["module"])
    spec = importlib.util.spec_from_file_location(f"mesh_step_{module.stem}", module)
    assert spec is not None and spec.loader is not None, module
    loaded = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(module.parent))  # the step's own helper modules, beside it
    spec.loader.exec_module(loaded)
    result = getattr(loaded, job["function"])(inputs)
    if not isinstance(result, pd.DataFrame):
        raise TypeError(
            f"{module.name}:{job['function']} returned {type(result).__name__}, expected a pandas DataFrame"
        )
    with duckdb.connect(config={"temp_directory": scratch}) as con:
        con.register("result", result)
        con.execute(f"COPY result TO {literal(str(Path(scratch) / 'result.parquet'))} (FORMAT parquet)")


if __name__ == "__main__":
    _main(json.loads(sys.argv[1]))
