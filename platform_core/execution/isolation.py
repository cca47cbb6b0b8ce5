"""A pandas step's Python, run in a process of its own that reaches nothing but its inputs.

The step's declared inputs are handed in as Parquet files in a scratch folder, written there by
the run's own database, and its result comes back the same way (data, never pickles: nothing
the step's code writes is run by the platform). The process is started ahead of its step, so
that Python, pandas, pandera and DuckDB load while the run builds the steps before it.

The process also runs the step's contract, as pandera does it for pandas steps, so that the
run's own process never loads pandas (0.3 s of a run). It does so without trusting the step's
code: it forks, and only the child imports and calls the step, closed within the step's `work`
folder by one more Landlock layer (a process cannot trace, nor read the memory of, a process
whose Landlock domain is wider than its own). Once the child has exited, the parent, which never
ran the step's code, copies the result out of `work`, where nothing the child left running can
change it any more, audits that copy and hands it to the run with the results. The parents of
`relationships` rules are handed to the parent alone: the step sees its declared inputs only.

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
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import duckdb

from platform_core.background import Background
from platform_core.descriptors.names import literal
from platform_core.quality.results import RuleResult

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
    pandas, pandera and DuckDB load while the run builds the steps before it.

    `folder` is the step's scratch folder, which the caller made for it and may remove once the
    step is done. The step's inputs go to its `work` folder (`input_path`), the only folder its
    code may write; the parents of its `relationships` rules to `reference_path`, which its code
    cannot read. `send` hands it its job, which it works on while the run builds other steps;
    `answer` gives the Parquet file of its result, outside `work`, with the results of its
    contract's rules. The process may read the `readable` folders (the step's modules)."""

    def __init__(self, folder: Path, *, readable: Iterable[Path], sandboxed: bool) -> None:
        self.folder = folder
        self.work = folder / "work"
        self.work.mkdir(mode=0o700)
        start = {
            "scratch": str(folder),
            "work": str(self.work),
            "readable": sorted(str(p.resolve()) for p in readable),
            "sandboxed": sandboxed,
        }
        environment = {k: v for k, v in os.environ.items() if k in KEPT_ENVIRONMENT}
        environment |= {"HOME": str(self.work), "TMPDIR": str(self.work), "PYTHONDONTWRITEBYTECODE": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-m", "platform_core.execution.isolation", json.dumps(start)],
            cwd=self.work,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.exchange: Background[tuple[str, str]] | None = None  # the job sent, until its answer comes

    def input_path(self, name: str) -> Path:
        return self.work / f"{name}.parquet"

    def reference_path(self, index: int) -> Path:
        return self.folder / f"reference-{index}.parquet"

    def send(self, module: Path, function: str, inputs: Iterable[str], contract: Mapping[str, Any]) -> None:
        """Hand the process its job: `function` of `module` called with the inputs written to
        `input_path`, then the contract's rules run over its result (`contract`: see `audit_result`).
        It works in its own process while the run goes on; `answer` waits for it."""
        job = {"module": str(module.resolve()), "function": function, "inputs": sorted(inputs), "contract": contract}
        self.exchange = Background(lambda: self.process.communicate(json.dumps(job), timeout=TIMEOUT_SECONDS))

    def answer(self) -> tuple[Path, list[RuleResult]]:
        """The file of the step's result, cast to the contract's `types`, and the results of the
        contract's `rules`, once the process has given them."""
        assert self.exchange is not None, "send comes first"
        try:
            stdout, stderr = self.exchange.result()
        except subprocess.TimeoutExpired:
            self.close()
            raise IsolationError(f"the step ran for more than {TIMEOUT_SECONDS} s and was stopped") from None
        if self.process.returncode != 0:
            raise IsolationError(_reason(stderr) or f"the step's process ended with code {self.process.returncode}")
        return self.folder / "result.parquet", [RuleResult(**{**r, "parts": ()}) for r in json.loads(stdout)]

    def close(self) -> None:
        """Stop the process if it still runs (its step never came, or failed the run)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.exchange is not None:  # its streams are read until the process's end, which has come
            self.exchange.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
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
    import pandas  # noqa: F401 - loaded before the job comes, for the step and for the audit

    scratch, work = Path(start["scratch"]), Path(start["work"])
    # The child is forked before either process closes itself: each closes itself to its own
    # files, as Landlock follows /proc/self to the process that made the rule.
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(writer)
        _step_child(reader, work, sandboxed=start["sandboxed"], readable=start["readable"])
    os.close(reader)
    # pandera for the audit, in the parent alone: it sets variables in the environment the
    # step's code would see, and the step does not need it
    from platform_core.quality.pandera_executor import run_pandera_rules  # noqa: F401 - loaded ahead

    if start["sandboxed"]:
        _restrict([*start["readable"], *_python_paths()], str(scratch))
    text = sys.stdin.read()  # the step's call, once the run reaches it
    with os.fdopen(writer, "w", encoding="utf-8") as pipe:
        pipe.write(text)
    code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    if code != 0:  # the step failed: its traceback is on stderr already
        sys.exit(code if code > 0 else 1)
    job = json.loads(text)
    with duckdb.connect(config={"temp_directory": str(scratch)}) as con:
        results = audit_result(con, work / "result.parquet", scratch / "result.parquet", job["contract"])
    json.dump([asdict(r) for r in results], sys.stdout, default=_plain)


def _step_child(job_pipe: int, work: Path, *, sandboxed: bool, readable: list[str]) -> NoReturn:
    """In the forked child: the step's code, closed within `work`, its job read from `job_pipe`.
    It keeps nothing of the parent's to write to but stderr: not the answer the parent gives
    the run (stdout), not the run's job (stdin). Its Landlock domain is not the parent's, nor
    under it: it may not trace the parent nor read its memory."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        if sandboxed:
            _restrict([*readable, *_python_paths()], str(work))
        with os.fdopen(job_pipe, encoding="utf-8") as pipe:
            text = pipe.read()
        if text:  # nothing comes when the run stopped the process before its step
            _call_step(json.loads(text), work)
            code = 0
    except BaseException:  # noqa: BLE001 - said on stderr, as the step's own error
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def _call_step(job: dict, work: Path) -> None:
    import importlib.util

    import pandas as pd

    with duckdb.connect(config={"temp_directory": str(work)}) as con:
        inputs = {
            name: con.execute(f"SELECT * FROM read_parquet({literal(str(work / f'{name}.parquet'))})").df()
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
    with duckdb.connect(config={"temp_directory": str(work)}) as con:
        con.register("result", result)
        write_parquet(con, "SELECT * FROM result", work / "result.parquet")


def write_parquet(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> None:
    """What `select` reads, written by the database of `con` to the Parquet file `path`."""
    con.execute(f"COPY ({select}) TO {literal(str(path))} (FORMAT parquet)")


def audit_result(
    con: duckdb.DuckDBPyConnection, produced: Path, audited: Path, contract: Mapping[str, Any]
) -> list[RuleResult]:
    """Copy the step's result from `produced` to `audited`, cast to the contract's column
    `types`, and run the contract's `rules` (as JSON) over that copy with pandera, at `now`;
    a `relationships` rule's parent values are in the file its `references` entry names, or
    the entry says why they could not be read."""
    from pydantic import TypeAdapter

    from platform_core.descriptors.rules import Rule
    from platform_core.quality.audit import runnable
    from platform_core.quality.pandera_executor import run_pandera_rules
    from platform_core.quality.results import RuleError
    from platform_core.quality.schema_check import cast_select

    source = f"read_parquet({literal(str(produced))})"
    columns = [name for name, *_ in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    write_parquet(con, cast_select(source, columns, contract["types"]), audited)
    table = con.sql(f"SELECT * FROM read_parquet({literal(str(audited))})")
    types = dict(zip(table.columns, (str(t) for t in table.types), strict=True))
    references = contract["references"]

    def parent_values(port: str, column: str) -> list:
        reference = references[f"{port}.{column}"]
        if "error" in reference:
            raise RuleError(reference["error"])
        values = con.execute(f"SELECT * FROM read_parquet({literal(reference['file'])})").fetchall()
        return [value for (value,) in values]

    rules = runnable(TypeAdapter(list[Rule]).validate_python(contract["rules"]), types)
    return run_pandera_rules(table.df(), rules, parent_values, datetime.fromisoformat(contract["now"]), types)


def _plain(value: Any) -> Any:
    """A NumPy number in a result as the Python number it is."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


if __name__ == "__main__":
    _main(json.loads(sys.argv[1]))
