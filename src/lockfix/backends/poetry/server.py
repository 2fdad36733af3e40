"""A relock server that runs inside *Poetry's own* interpreter; lockfix never imports it.

Starting Poetry costs more than most relocks: ~0.7 s of imports before it reads a single
file, against ~0.5 s of actual locking for a typical package. lockfix therefore starts
Poetry's interpreter once with this file, which imports Poetry's modules while lockfix
is still planning, and then forks one child per relock. Each child starts from that
clean, already-imported state and runs Poetry's unmodified command-line entry point
(``poetry.console.application.main``) with the arguments lockfix chose, in the package's
directory: the same code path as ``cd pkg && poetry lock``, minus the imports.

Protocol, one JSON object per line (the server is the only writer of its stdout):

    lockfix -> server   {"id": 1, "cwd": "/repo/packages/core", "argv": ["poetry", "lock", ...]}
    server -> lockfix   {"ready": "2.5.1"}                       once, after the imports
                        {"id": 1, "pid": 4242}                   the child started; it leads
                                                                 its own process group
                        {"id": 1, "rc": 0, "output": "..."}      it ended (rc < 0: a signal)
                        {"error": "..."}                         Poetry cannot be imported

End of input makes the server kill whatever still runs and exit, so a lockfix that dies
never leaves a Poetry behind that would later write into the working tree. Standard
library only, and Python 3.8 syntax: this runs on whatever Python Poetry was installed
with.
"""

from __future__ import annotations

import sys

# This file's directory is lockfix's package directory; it holds a module named
# ``poetry.py`` that must not shadow Poetry itself.
if sys.path and sys.path[0] in ("", __file__.rpartition("/")[0]):
    del sys.path[0]

import contextlib
import gc
import importlib
import json
import os
import selectors
import signal

#: What ``poetry lock`` imports, heaviest first; modules that a Poetry version lacks are
#: skipped. Anything missed here is simply imported by each child, as Poetry would.
PRELOAD = (
    "poetry.console.application",
    "poetry.console.commands.lock",
    "poetry.console.commands.installer_command",
    "poetry.factory",
    "poetry.installation.installer",
    "poetry.puzzle.solver",
    "poetry.puzzle.provider",
    "poetry.mixology.version_solver",
    "poetry.repositories.legacy_repository",
    "poetry.repositories.pypi_repository",
    "poetry.packages.locker",
    "poetry.utils.env",
    "poetry.utils.authenticator",
    "poetry.plugins.plugin_manager",
    "poetry.core.factory",
    "poetry.core.version.markers",
    "poetry.core.json",
    "poetry.core.spdx",
    "poetry.core.vcs",
    "poetry.core.packages.directory_dependency",
    "poetry.core.packages.url_dependency",
    "poetry.core.packages.vcs_dependency",
    "poetry.repositories.single_page_repository",
    "poetry.puzzle.transaction",
    "poetry.console.logging",
    "poetry.console.commands.self",
    "requests",
    "cachecontrol",
    "keyring",
    "keyring.backends.chainer",
    "keyring.backends.SecretService",
    "keyring.backends.libsecret",
    "keyring.backends.kwallet",
    "secretstorage",
    "virtualenv",
    "lark",
    "netrc",
    "pickle",
)


def _warm() -> None:
    """Build, once, the parsers and validators Poetry otherwise builds lazily in every
    command: its PEP 508 and marker grammars (lark) and, on 2.x, its cached JSON-schema
    validators. Pure, deterministic caches; each step may be missing from a version."""
    # (module, function, arguments, whether the call is only worth it when the function
    # caches its result: Poetry 1.8's validators are rebuilt on every call anyway)
    steps = (
        ("poetry.core.version.markers", "parse_marker", ('python_version >= "3.8"',), False),
        ("poetry.core.packages.dependency", "Dependency.create_from_pep_508",
         ('a>=1; python_version >= "3.8"',), False),
        ("poetry.core.json", "_get_validator", ("poetry-schema",), True),
        ("poetry.core.json", "_get_validator", ("project-schema",), True),
        ("poetry.core.json", "_get_validator", ("dependency-groups-schema",), True),
        ("poetry.json", "_get_validator_and_properties", (), True),
    )
    for module, name, args, cached_only in steps:
        with contextlib.suppress(Exception):
            target: object = importlib.import_module(module)
            for part in name.split("."):
                target = getattr(target, part)
            if not cached_only or hasattr(target, "cache_info"):
                target(*args)  # type: ignore[operator]


def _send(message: dict[str, object]) -> None:
    os.write(1, (json.dumps(message) + "\n").encode("utf-8"))


def _preload() -> str:
    for name in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    try:  # plugins Poetry will load (poetry-plugin-export on 1.8, for one)
        from importlib.metadata import entry_points

        eps = entry_points()
        groups = ("poetry.application.plugin", "poetry.plugin")
        found = (  # Python 3.10+ has select(); 3.8 and 3.9 return a dict
            [ep for g in groups for ep in eps.select(group=g)]
            if hasattr(eps, "select")
            else [ep for g in groups for ep in eps.get(g, [])]  # type: ignore[attr-defined,unused-ignore]
        )
        for ep in found:
            importlib.import_module(ep.value.partition(":")[0])
    except Exception:
        pass
    _warm()
    from poetry.__version__ import __version__  # type: ignore[import-untyped,unused-ignore]

    return str(__version__)


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _child(request: dict[str, object], out_fd: int, close: list[int]) -> None:
    """In the forked child: become Poetry for one command, never return."""
    code = 70
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in close:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(null)
        os.close(out_fd)
        os.chdir(str(request["cwd"]))
        argv = request["argv"]
        assert isinstance(argv, list)
        sys.argv = [str(a) for a in argv]
        from poetry.console.application import main  # type: ignore[import-untyped,unused-ignore]

        try:
            code = int(main() or 0)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve() -> int:
    gc.disable()  # nothing to collect while importing; faster
    try:
        version = _preload()
    except Exception as exc:
        _send({"error": f"cannot import Poetry in {sys.executable}: {exc!r}"})
        return 1
    # Children share the imported modules copy-on-write; a collection in a child would
    # touch (and so copy) every one of those objects. Freeze them out of the collector.
    gc.freeze()
    gc.enable()

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # lockfix decides when Poetry stops
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the selector up

    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ, "stdin")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    running: dict[int, tuple[object, int]] = {}  # pid -> (request id, output pipe)
    output: dict[int, bytearray] = {}  # output pipe -> bytes so far
    pending = b""
    open_input = True
    _send({"ready": version})

    def pump(fd: int) -> bool:
        """Take what a relock's output pipe holds now; False once it is closed."""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            output[fd] += chunk

    def reap() -> None:
        while running:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            req_id, fd = running.pop(pid)
            pump(fd)
            with contextlib.suppress(KeyError, ValueError):
                sel.unregister(fd)
            os.close(fd)
            text = bytes(output.pop(fd)).decode("utf-8", "replace")
            _send({"id": req_id, "rc": _exit_code(status), "output": text})

    while open_input or running:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "stdin":
                chunk = os.read(0, 65536)
                if not chunk:
                    open_input = False
                    sel.unregister(0)
                    for pid in list(running):
                        with contextlib.suppress(OSError):
                            os.killpg(pid, signal.SIGKILL)
                    continue
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if not line.strip():
                        continue
                    request = json.loads(line)
                    out_r, out_w = os.pipe()
                    pid = os.fork()
                    if pid == 0:
                        _child(request, out_w, [out_r, wake_r, wake_w, *output])
                    os.close(out_w)
                    os.set_blocking(out_r, False)
                    output[out_r] = bytearray()
                    sel.register(out_r, selectors.EVENT_READ, "out")
                    running[pid] = (request.get("id"), out_r)
                    _send({"id": request.get("id"), "pid": pid})
            elif key.data == "wake":
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
            elif not pump(key.fd):
                sel.unregister(key.fd)
        reap()
    return 0


if __name__ == "__main__":
    os._exit(serve())  # skip tearing down ~900 modules: nothing is left to flush
