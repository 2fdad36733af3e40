"""A hermetic PEP 503 package index on 127.0.0.1, for ``lockfix demo`` and the tests.

Neither the demo nor the tests may reach the internet: every project they create names
this index as its only (``primary``) source. The index serves tiny but *valid* wheels built in memory
from a declarative spec (:class:`Dist`). Wheels are byte-for-byte deterministic (fixed
zip timestamps and permissions, stored entries), so one spec always has one sha256 —
across tests, runs and machines.

    index = PackageIndex()                      # 127.0.0.1, free port, daemon thread
    index.add_many(DEFAULT_UNIVERSE)
    index.add("requests", "2.32.0", requires=["urllib3>=1.21,<3"])  # visible at once
    index.url                                   # http://127.0.0.1:PORT/simple/
    index.stop()

Pages: ``/simple/`` (all projects), ``/simple/<normalized-name>/`` (anchors with
``#sha256=`` fragments, ``data-requires-python`` and PEP 658/714 metadata attributes),
``/files/<wheel>`` and ``/files/<wheel>.metadata``. Responses carry
``Cache-Control: no-store`` so that Poetry's HTTP cache never hides a version added
between two steps of a test. A published (name, version) is immutable, as on PyPI:
re-adding it with a different spec is an error.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import posixpath
import re
import threading
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Union
from urllib.parse import unquote, urlsplit

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def normalize(name: str) -> str:
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel_name(name: str) -> str:
    """Distribution name as it appears in wheel / dist-info file names."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Dist:
    """One wheel: a project name, a version and its core metadata."""

    name: str
    version: str
    requires: tuple[str, ...] = ()
    requires_python: str | None = None
    extras: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (extra, requirements)

    @classmethod
    def make(
        cls,
        name: str,
        version: str,
        requires: Iterable[str] = (),
        requires_python: str | None = None,
        extras: Mapping[str, Iterable[str]] | None = None,
    ) -> Dist:
        return cls(
            name,
            version,
            tuple(requires),
            requires_python,
            tuple((e, tuple(reqs)) for e, reqs in sorted((extras or {}).items())),
        )

    @property
    def project(self) -> str:
        return normalize(self.name)

    @property
    def module(self) -> str:
        return _wheel_name(self.name)

    @property
    def filename(self) -> str:
        return f"{_wheel_name(self.name)}-{self.version}-py3-none-any.whl"

    def metadata(self) -> bytes:
        lines = [
            "Metadata-Version: 2.1",
            f"Name: {self.name}",
            f"Version: {self.version}",
            f"Summary: lockfix test-bed package {self.name} {self.version}",
        ]
        if self.requires_python:
            lines.append(f"Requires-Python: {self.requires_python}")
        lines += [f"Requires-Dist: {req}" for req in self.requires]
        for extra, reqs in self.extras:
            lines.append(f"Provides-Extra: {extra}")
            for req in reqs:
                base, _, marker = req.partition(";")
                cond = f'extra == "{extra}"'
                cond = f"({marker.strip()}) and {cond}" if marker.strip() else cond
                lines.append(f"Requires-Dist: {base.strip()}; {cond}")
        return ("\n".join(lines) + "\n\n").encode()

    def build(self) -> bytes:
        """The wheel's bytes: deterministic for a given spec."""
        dist_info = f"{_wheel_name(self.name)}-{self.version}.dist-info"
        files: list[tuple[str, bytes]] = [
            (f"{self.module}/__init__.py", f'__version__ = "{self.version}"\n'.encode()),
            (f"{dist_info}/METADATA", self.metadata()),
            (
                f"{dist_info}/WHEEL",
                b"Wheel-Version: 1.0\nGenerator: lockfix-testbed\n"
                b"Root-Is-Purelib: true\nTag: py3-none-any\n\n",
            ),
        ]
        record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files)
        files.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
            for path, data in files:
                info = zipfile.ZipInfo(path, date_time=_ZIP_EPOCH)
                info.external_attr = 0o100644 << 16
                info.create_system = 3
                zf.writestr(info, data)
        return buf.getvalue()


@dataclass(frozen=True)
class _Built:
    dist: Dist
    wheel: bytes
    metadata: bytes
    sha256: str = field(init=False)
    metadata_sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.wheel).hexdigest())
        object.__setattr__(self, "metadata_sha256", hashlib.sha256(self.metadata).hexdigest())


# {name: {version: requires}} or {name: {version: {"requires": [...], "requires_python": ...}}}
VersionSpec = Union[Sequence[str], Mapping[str, object]]
UniverseSpec = Mapping[str, Mapping[str, VersionSpec]]

_PY38 = {"requires_python": ">=3.8"}

#: A small, realistic universe. Names and versions are labels only; the wheels hold no
#: code. Several projects have an older and a newer version, so tests can tell "kept"
#: from "upgraded".
DEFAULT_UNIVERSE: UniverseSpec = {
    "requests": {
        "2.30.0": {
            "requires": ["urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"],
            "requires_python": ">=3.7",
        },
        "2.31.0": {
            "requires": ["urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"],
            "requires_python": ">=3.7",
        },
    },
    "urllib3": {"1.26.18": [], "2.0.7": {"requires": [], "requires_python": ">=3.7"}},
    "idna": {"3.4": [], "3.6": {"requires": [], "requires_python": ">=3.5"}},
    "certifi": {"2023.7.22": {"requires": [], "requires_python": ">=3.6"}},
    "click": {"8.1.6": [], "8.1.7": {"requires": [], "requires_python": ">=3.7"}},
    "attrs": {"23.1.0": _PY38},
    "typing-extensions": {"4.8.0": _PY38},
    "annotated-types": {"0.6.0": _PY38},
    "pydantic": {
        "2.5.0": {
            "requires": ["annotated-types>=0.4.0", "typing-extensions>=4.6.1"],
            "requires_python": ">=3.7",
        }
    },
    "sniffio": {"1.3.0": []},
    "anyio": {  # fastapi 0.104.1 pins anyio<4: it gets 3.7.1, a plain ">=3" gets 4.0.0
        "3.7.1": {"requires": ["idna>=2.8", "sniffio>=1.1"], "requires_python": ">=3.7"},
        "4.0.0": {"requires": ["idna>=2.8", "sniffio>=1.1"], "requires_python": ">=3.8"},
    },
    "httpx": {"0.25.0": {"requires": ["certifi", "idna", "sniffio"], "requires_python": ">=3.8"}},
    "mdurl": {"0.1.2": []},
    "markdown-it-py": {"3.0.0": {"requires": ["mdurl~=0.1"], "requires_python": ">=3.8"}},
    "pygments": {"2.16.1": []},
    "rich": {"13.6.0": ["markdown-it-py>=2.2.0", "pygments>=2.13.0,<3.0.0"]},
    "six": {"1.16.0": []},
    "packaging": {"23.2": {"requires": [], "requires_python": ">=3.7"}},
    "iniconfig": {"2.0.0": []},
    "pluggy": {"1.3.0": _PY38},
    "exceptiongroup": {"1.1.3": []},
    "tomli": {"2.0.1": []},
    "pytest": {
        "7.4.3": [
            "iniconfig",
            "packaging",
            "pluggy>=0.12,<2.0",
            'exceptiongroup>=1.0.0rc8; python_version < "3.11"',
            'tomli>=1.0.0; python_version < "3.11"',
        ]
    },
    "structlog": {"23.2.0": _PY38},
    "redis": {"5.0.1": []},
    "celery": {"5.3.4": {"requires": ["click>=8.1.2,<9.0"], "requires_python": ">=3.8"}},
    "starlette": {"0.27.0": {"requires": ["anyio>=3.4.0,<5"], "requires_python": ">=3.7"}},
    "fastapi": {
        "0.104.1": {
            "requires": [
                "anyio>=3.7.1,<4.0.0",
                "pydantic>=1.7.4,!=1.8,!=1.8.1,!=2.0.0,!=2.0.1,!=2.1.0,<3.0.0",
                "starlette>=0.27.0,<0.28.0",
                "typing-extensions>=4.8.0",
            ],
            "requires_python": ">=3.8",
        }
    },
}


def dists_from_spec(spec: UniverseSpec) -> list[Dist]:
    out: list[Dist] = []
    for name, versions in spec.items():
        for version, vspec in versions.items():
            if isinstance(vspec, Mapping):
                requires = vspec.get("requires", ())
                rp = vspec.get("requires_python")
                extras = vspec.get("extras")
                assert isinstance(requires, (list, tuple)), vspec
                assert rp is None or isinstance(rp, str), vspec
                assert extras is None or isinstance(extras, Mapping), vspec
                out.append(Dist.make(name, version, requires, rp, extras))
            else:
                out.append(Dist.make(name, version, vspec))
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    index: PackageIndex


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, *, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        index = self.server.index
        index._log(path)
        found = index._resolve(path)
        if found is None:
            self._send(404, b"not found\n", "text/plain", head=head)
        else:
            body, ctype = found
            self._send(200, body, ctype, head=head)

    def _send(self, status: int, body: bytes, ctype: str, *, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)


class PackageIndex:
    """A PEP 503 simple index on 127.0.0.1, serving wheels built from :class:`Dist` specs."""

    def __init__(self, *, port: int = 0, pep658: bool = True) -> None:
        """``port=0`` takes a free port. A given port is tried first and, if it is busy,
        a free one is taken instead (the conftest passes one port for the whole session
        so that identical projects get identical locks; see ``repos.RepoCache``)."""
        self.pep658 = pep658
        self._lock = threading.Lock()
        self._projects: dict[str, dict[str, _Built]] = {}  # project -> version -> built
        self._files: dict[str, _Built] = {}  # filename -> built
        self.requests: list[str] = []  # paths requested, in order (for assertions)
        try:
            self._server = _Server(("127.0.0.1", port), _Handler)
        except OSError:
            if port == 0:
                raise
            self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.index = self
        host, port = self._server.server_address[:2]
        self.host: str = str(host)
        self.port: int = int(port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"test-index-{self.port}",
            daemon=True,
        )
        self._thread.start()

    # -- public API ---------------------------------------------------------------

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The simple-index URL to put in ``[[tool.poetry.source]] url``."""
        return f"{self.root}/simple/"

    def add(
        self,
        name: str,
        version: str,
        requires: Iterable[str] = (),
        requires_python: str | None = None,
        *,
        extras: Mapping[str, Iterable[str]] | None = None,
    ) -> Dist:
        """Publish one wheel; it is served from the next request on."""
        dist = Dist.make(name, version, requires, requires_python, extras)
        self.add_dist(dist)
        return dist

    def add_dist(self, dist: Dist) -> None:
        built = _Built(dist, dist.build(), dist.metadata())
        with self._lock:
            versions = self._projects.setdefault(dist.project, {})
            old = versions.get(dist.version)
            if old is not None:
                if old.dist != dist:
                    raise ValueError(
                        f"{dist.name} {dist.version} is already published with another spec"
                    )
                return
            versions[dist.version] = built
            self._files[dist.filename] = built

    def add_many(self, spec: UniverseSpec | Iterable[Dist]) -> None:
        """``{name: {version: [requires...]}}`` (or ``{version: {"requires": ...,
        "requires_python": ..., "extras": ...}}``), or an iterable of :class:`Dist`."""
        dists = dists_from_spec(spec) if isinstance(spec, Mapping) else list(spec)
        for dist in dists:
            self.add_dist(dist)

    def versions(self, name: str) -> list[str]:
        with self._lock:
            return list(self._projects.get(normalize(name), {}))

    def sha256(self, name: str, version: str) -> str:
        """Hex sha256 of the served wheel (what Poetry records in ``files``)."""
        with self._lock:
            return self._projects[normalize(name)][version].sha256

    def fingerprint(self) -> str:
        """A digest of everything published (names, versions, wheel hashes)."""
        with self._lock:
            items = sorted(
                (p, v, b.sha256) for p, vs in self._projects.items() for v, b in vs.items()
            )
        return hashlib.sha256(repr(items).encode()).hexdigest()

    def wheel(self, name: str, version: str) -> tuple[str, bytes]:
        with self._lock:
            built = self._projects[normalize(name)][version]
        return built.dist.filename, built.wheel

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> PackageIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving --------------------------------------------------------------------

    def _log(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def _resolve(self, path: str) -> tuple[bytes, str] | None:
        parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
        with self._lock:
            if parts == ["simple"]:
                return self._root_page(), "text/html; charset=utf-8"
            if len(parts) == 2 and parts[0] == "simple":
                versions = self._projects.get(parts[1])
                if versions is None:
                    return None
                return self._project_page(parts[1], versions), "text/html; charset=utf-8"
            if len(parts) == 2 and parts[0] == "files":
                name = parts[1]
                if name in self._files:
                    return self._files[name].wheel, "application/octet-stream"
                if self.pep658 and name.endswith(".metadata"):
                    built = self._files.get(name[: -len(".metadata")])
                    if built is not None:
                        return built.metadata, "text/plain; charset=utf-8"
        return None

    def _root_page(self) -> bytes:
        links = "".join(f'    <a href="{p}/">{p}</a>\n' for p in sorted(self._projects))
        return _page("Simple index", links)

    def _project_page(self, project: str, versions: Mapping[str, _Built]) -> bytes:
        links = []
        for built in versions.values():
            attrs = [f'href="../../files/{built.dist.filename}#sha256={built.sha256}"']
            if built.dist.requires_python:
                attrs.append(f'data-requires-python="{html.escape(built.dist.requires_python)}"')
            if self.pep658:
                meta = f"sha256={built.metadata_sha256}"
                attrs.append(f'data-dist-info-metadata="{meta}"')
                attrs.append(f'data-core-metadata="{meta}"')
            links.append(f"    <a {' '.join(attrs)}>{built.dist.filename}</a><br/>\n")
        return _page(f"Links for {project}", "".join(links))


def _page(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{title}</title>\n  </head>\n  <body>\n    <h1>{title}</h1>\n"
        f"{body}  </body>\n</html>\n"
    ).encode()
