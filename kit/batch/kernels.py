"""A pool of pre-started Jupyter kernels, started ahead so start-up overlaps with running notebooks.

Starting a kernel (a Python process importing IPython, then the notebook's own imports) costs more than
a short investigation. The pool starts `size` kernels ahead and optionally pre-imports the modules the
notebook imports (silently: nothing is bound in the kernel's namespace, nothing counts as a cell).

Two ways to use a kernel:
- `reuse=False`: a kernel serves exactly one incident and is shut down after it; `take()` starts its
  replacement at once.
- `reuse=True` (kit batch): a kernel whose incident finished cleanly is handed back (`give_back`) and
  serves the next one after `fresh_state`: its namespace, history and execution counter are reset as in
  a new kernel, and what a notebook may change in the process (environment variables, working folder,
  sys.path, warning filters, matplotlib's figures and settings) is restored to what it was when the
  kernel had booted. Imported modules stay loaded (the point). A kernel whose incident failed, whose
  kernel died, or that started a simulated account in itself (a `scenario` run) is never reused.
  With `spare` kernels beyond `size` (started at the first `take`, so they do not slow the first
  incidents' start), the next incident takes a kernel that is already reset while the one just handed
  back is being reset in the background: no incident waits for a reset.

Every kernel handed out is in that fresh state (just booted, or reset): the notebook runs in it as is.
"""

from __future__ import annotations

import ast
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client import KernelManager

from kit.errors import KitError
from kit.report.run import start_quiet_kernel


class KernelStartError(KitError):
    """A kernel of the pool did not start (or did not answer) in time."""


@dataclass
class Kernel:
    """A started, ready kernel handed out for one incident."""

    manager: KernelManager
    number: int  # 1, 2, ... in start order
    incidents: int = 0  # incidents it has served so far

    def shutdown(self) -> None:
        """Stop the kernel process now (it served its incident; nothing in it is needed)."""
        try:
            self.manager.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - already gone is fine
            pass

    def kill(self) -> None:
        """Kill the kernel process at once, from any thread (the batch was interrupted): the notebook
        running in it stops with DeadKernelError; `shutdown()` still cleans up afterwards."""
        process = getattr(self.manager.provisioner, "process", None)
        try:
            if process is not None and process.poll() is None:
                process.kill()
        except OSError:  # already gone
            pass


class PoolClosed(KitError):
    """The pool was closed (the batch was interrupted) while waiting for a kernel."""


class KernelPool:
    """`size` kernels started ahead; `take()` hands out a ready one (and, without reuse, starts its replacement).

    `budget` caps how many kernels are ever started (the number of incidents), so no kernel is started
    that nobody will use. Use as a context manager: leaving it shuts every kernel not handed out.
    With `reuse`, `give_back(kernel)` returns a kernel for the next incident and `retire(kernel)` ends one.
    """

    def __init__(self, size: int, *, budget: int, kernel_name: str = "python3", cwd: str | Path | None = None,
                 warm_modules: Sequence[str] = (), learn: bool = True, startup_timeout: float = 120.0,
                 reuse: bool = False, spare: int = 0) -> None:
        if size < 1:
            raise ValueError("a kernel pool needs at least one kernel")
        self.size = size
        self.budget = budget
        self.kernel_name = kernel_name
        self.cwd = str(cwd) if cwd else None
        self.warm_modules = tuple(warm_modules)
        self.learning = learn
        self.startup_timeout = startup_timeout
        self.reuse = reuse
        self.spare = max(0, spare) if reuse else 0  # started at the first take()
        self._spare_started = False
        self._ready: queue.Queue[Kernel | BaseException] = queue.Queue()
        self._lock = threading.Lock()
        self._started = 0
        self._closed = False
        self._learned = False
        self._threads: list[threading.Thread] = []
        self._handed_out: list[Kernel] = []

    def __enter__(self) -> KernelPool:
        for _ in range(min(self.size, self.budget)):
            self._start_one()
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def take(self) -> Kernel:
        """A ready kernel (waits for one to finish starting); starts a replacement within the budget.

        Raises PoolClosed when the pool is closed (or stopped) meanwhile.
        """
        while True:
            with self._lock:
                if self._closed:
                    raise PoolClosed("the batch was interrupted before a kernel was handed out")
            try:
                item = self._ready.get(timeout=0.2)
                break
            except queue.Empty:
                continue
        with self._lock:
            if self._closed:  # taken while closing: close() will not see it, so shut it here
                if isinstance(item, Kernel):
                    item.shutdown()
                raise PoolClosed("the batch was interrupted before a kernel was handed out")
            if isinstance(item, Kernel):
                self._handed_out.append(item)
        if not self.reuse or isinstance(item, BaseException):
            self._start_one()
        self._start_spares()
        if isinstance(item, BaseException):
            raise KernelStartError(f"kernel {self.kernel_name} did not start: {item}") from item
        return item

    def give_back(self, kernel: Kernel) -> None:
        """(reuse) `kernel` finished its incident cleanly: put it back, in a fresh state, for the next one.

        A kernel that cannot be brought back to its fresh state is retired (and replaced) instead.
        """
        kernel.incidents += 1
        try:
            fresh_state(kernel, timeout=self.startup_timeout)
        except Exception:  # noqa: BLE001 - not reusable: a new kernel takes its place
            self.retire(kernel, replace=True)
            return
        with self._lock:
            if kernel in self._handed_out:
                self._handed_out.remove(kernel)
            closed = self._closed
            if not closed:
                self._ready.put(kernel)
        if closed:
            kernel.shutdown()

    def retire(self, kernel: Kernel, *, replace: bool) -> None:
        """Shut `kernel` down; with `replace`, start another one (within the budget) for incidents to come."""
        with self._lock:
            if kernel in self._handed_out:
                self._handed_out.remove(kernel)
        if replace:
            self._start_one()
        kernel.shutdown()

    def stop(self) -> None:
        """Interrupt: start no more kernels, hand out no more, kill those running notebooks now."""
        with self._lock:
            self._closed = True
            handed_out = list(self._handed_out)
        for kernel in handed_out:
            kernel.kill()

    def close(self) -> None:
        """Shut down every kernel still in the pool, including those still starting."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for thread in threads:
            thread.join()
        while True:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Kernel):
                item.shutdown()

    def learn(self, kernel: Kernel) -> None:
        """Warm the kernels started from now on with every module `kernel` imported (lazy imports too).

        A notebook imports much of what it needs inside functions (matplotlib for a chart, the diagnosis
        when the first cell runs); asking a kernel that ran an incident gives the exact list.
        """
        if not self.learning:
            return
        modules = imported_modules(kernel, timeout=self.startup_timeout)
        if modules:
            with self._lock:
                self.warm_modules = tuple(dict.fromkeys([*self.warm_modules, *modules]))
                self._learned = True

    @property
    def learned(self) -> bool:
        """Whether the warm-up list was learnt from a kernel that ran an incident (or learning is off)."""
        with self._lock:
            return self._learned or not self.learning

    @property
    def started(self) -> int:
        """How many kernels were started so far."""
        with self._lock:
            return self._started

    def _start_spares(self) -> None:
        with self._lock:
            if self._spare_started:
                return
            self._spare_started = True
        for _ in range(self.spare):
            self._start_one()

    def _start_one(self) -> None:
        with self._lock:
            if self._closed or self._started >= self.budget:
                return
            self._started += 1
            number = self._started
            thread = threading.Thread(target=self._boot, args=(number,), name=f"kit-kernel-{number}", daemon=True)
            self._threads.append(thread)
        thread.start()

    def _boot(self, number: int) -> None:
        with self._lock:
            warm_modules = self.warm_modules
        manager = KernelManager(kernel_name=self.kernel_name)
        try:
            start_quiet_kernel(manager, cwd=self.cwd)
            client = manager.client()
            client.start_channels()
            try:
                client.wait_for_ready(timeout=self.startup_timeout)
                if warm_modules:
                    _run_silently(client, warm_up_code(warm_modules), self.startup_timeout)
                if self.reuse:
                    _run_silently(client, BASELINE_CODE, self.startup_timeout)
            finally:
                client.stop_channels()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever takes this kernel
            try:
                manager.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001
                pass
            self._ready.put(exc)
            return
        self._ready.put(Kernel(manager=manager, number=number))


# Run once in a booted (and warmed) kernel: what `fresh_state` restores before each further incident. Kept
# on the shell object, outside the user's namespace, so no notebook sees or resets it.
BASELINE_CODE = """\
def __kit_baseline():
    import gc, os, sys, threading, warnings
    # What the kernel has loaded so far (modules, service models) lives as long as the kernel: out of the
    # garbage collector's reach, each collection (one per reset, others while a notebook runs) is short.
    gc.collect()
    gc.freeze()
    shell = get_ipython()
    mpl = sys.modules.get("matplotlib")
    shell._kit_baseline = {"environ": dict(os.environ), "cwd": os.getcwd(), "path": list(sys.path),
                           "warnings": list(warnings.filters), "threads": threading.active_count(),
                           "rc": dict(mpl.rcParams) if mpl is not None else None}
__kit_baseline()
del __kit_baseline
"""

# Run before a kernel serves its next incident: the state of a kernel that has just booted.
FRESH_STATE_CODE = """\
def __kit_fresh_state():
    import os, sys, threading, time, warnings
    shell = get_ipython()
    base = shell._kit_baseline
    widgets = sys.modules.get("ipywidgets")
    if widgets is not None:
        widgets.Widget.close_all()  # the registry would keep the last incident's objects (its sessions) alive
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
    mpl = sys.modules.get("matplotlib")
    if mpl is not None:
        if base["rc"] is None:
            mpl.rcdefaults()
        else:
            mpl.rcParams.update(base["rc"])
    os.environ.clear()
    os.environ.update(base["environ"])
    os.chdir(base["cwd"])
    sys.path[:] = base["path"]
    warnings.filters[:] = base["warnings"]
    getattr(warnings, "_filters_mutated", lambda: None)()
    import gc
    shell._kit_resets = getattr(shell, "_kit_resets", 0) + 1
    if shell._kit_resets % 16 == 0:  # now and then a full sweep, frozen objects included (cycles dropped by caches)
        gc.unfreeze()
    shell.reset(new_session=True)  # the namespace, In/Out, and execution_count back to 1 (and a gc.collect())
    gc.freeze()  # what survives a reset is kept for good (modules' caches): out of later collections' way
    deadline = time.monotonic() + 5
    while threading.active_count() > base["threads"] and time.monotonic() < deadline:
        time.sleep(0.05)  # worker threads finishing their last call
    if threading.active_count() > base["threads"]:  # work of the last incident still running: never reuse
        raise RuntimeError(f"{threading.active_count() - base['threads']} thread(s) left by the last incident")
__kit_fresh_state()
"""


def fresh_state(kernel: Kernel, *, timeout: float = 60.0) -> None:
    """Bring a used kernel back to the state it booted in (see the module's docstring); raises if it cannot."""
    client = kernel.manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=timeout)
        _run_silently(client, FRESH_STATE_CODE, timeout)
    finally:
        client.stop_channels()


def notebook_imports(cells: Iterable[dict[str, Any]]) -> list[str]:
    """Top-level module names the notebook's code cells import (what a fresh kernel will import first)."""
    names: list[str] = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
    return list(dict.fromkeys(names))


def warm_up_code(modules: Sequence[str]) -> str:
    """Code that imports `modules` and leaves no name behind (a module that fails to import is skipped)."""
    return ("def __kit_warm_up(names):\n"
            "    import importlib\n"
            "    for name in names:\n"
            "        try:\n"
            "            importlib.import_module(name)\n"
            "        except Exception:\n"
            "            pass\n"
            f"__kit_warm_up({list(modules)!r})\n"
            "del __kit_warm_up\n")


def imported_modules(kernel: Kernel, *, timeout: float = 60.0) -> list[str]:
    """Names of the modules loaded in `kernel` (top-level packages and their submodules), or [] if it cannot say."""
    client = kernel.manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=timeout)
        reply = _run_silently(client, "", timeout,
                              user_expressions={"modules": "sorted(__import__('sys').modules)"})
    except Exception:  # noqa: BLE001 - a kernel that cannot answer teaches nothing
        return []
    finally:
        client.stop_channels()
    value = (reply.get("user_expressions") or {}).get("modules") or {}
    if value.get("status") != "ok":
        return []
    try:
        names = ast.literal_eval(value["data"]["text/plain"])
    except (KeyError, ValueError, SyntaxError):
        return []
    return [n for n in names if isinstance(n, str) and not n.startswith("_") and "._" not in n
            and n != "__main__"]


def _run_silently(client: Any, code: str, timeout: float, **options: Any) -> dict[str, Any]:
    """Execute `code` without history or execution count, wait for its reply, return the reply's content."""
    message_id = client.execute(code, silent=True, store_history=False, allow_stdin=False, **options)
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = client.get_shell_msg(timeout=0.5)
        except queue.Empty:  # a kernel killed meanwhile (the batch was interrupted) never answers
            if not client.is_alive():
                raise KernelStartError("the kernel died") from None
            if time.monotonic() > deadline:
                raise
            continue
        if reply.get("parent_header", {}).get("msg_id") == message_id:
            if reply["content"].get("status") != "ok":
                raise KernelStartError(f"warm-up failed: {reply['content'].get('ename')}")
            return reply["content"]
