"""The end-to-end test bed itself: the local index, the wheels, real Poetry against them,
and the git repositories the end-to-end tests start from."""

from __future__ import annotations

import base64
import email.parser
import hashlib
import io
import re
import urllib.error
import urllib.request
import zipfile
from urllib.parse import urljoin

import pytest

from lockfix.localindex import Dist, PackageIndex
from tests.support.repos import (
    API_GATEWAY,
    BACKGROUND_WORKER,
    CORE,
    add_dependency,
    dependents,
    lock_order,
    locked_package,
    locked_versions,
    pep508,
    read_lock,
    set_dependency_text,
    single_project,
    update_dependency,
)

pytestmark = pytest.mark.filterwarnings("error")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        body: bytes = resp.read()
        return body


# ---------------------------------------------------------------------------------------
# wheels and the index (no Poetry)


def test_wheels_are_valid_and_deterministic() -> None:
    dist = Dist.make(
        "Typing_Extensions",
        "4.8.0",
        ["foo>=1; python_version < '3.11'"],
        ">=3.8",
        extras={"socks": ["pysocks>=1.5"]},
    )
    wheel = dist.build()
    assert (
        wheel
        == Dist.make(
            "Typing_Extensions",
            "4.8.0",
            ["foo>=1; python_version < '3.11'"],
            ">=3.8",
            extras={"socks": ["pysocks>=1.5"]},
        ).build()
    )
    assert dist.filename == "typing_extensions-4.8.0-py3-none-any.whl"
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names == [
            "typing_extensions/__init__.py",
            "typing_extensions-4.8.0.dist-info/METADATA",
            "typing_extensions-4.8.0.dist-info/WHEEL",
            "typing_extensions-4.8.0.dist-info/RECORD",
        ]
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        meta = email.parser.Parser().parsestr(
            zf.read("typing_extensions-4.8.0.dist-info/METADATA").decode()
        )
        assert meta["Metadata-Version"] == "2.1"
        assert meta["Version"] == "4.8.0"
        assert meta["Requires-Python"] == ">=3.8"
        assert meta.get_all("Requires-Dist") == [
            "foo>=1; python_version < '3.11'",
            'pysocks>=1.5; extra == "socks"',
        ]
        assert meta.get_all("Provides-Extra") == ["socks"]
        record = zf.read("typing_extensions-4.8.0.dist-info/RECORD").decode().splitlines()
        for line in record:
            path, digest, size = line.rsplit(",", 2)
            if path.endswith("RECORD"):
                assert (digest, size) == ("", "")
                continue
            data = zf.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == "sha256=" + expected.decode()
            assert int(size) == len(data)


def test_index_serves_pep503_pages(index: PackageIndex) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/simple/", index.url)
    root = _get(index.url).decode()
    assert '<a href="requests/">requests</a>' in root
    assert '<a href="typing-extensions/">typing-extensions</a>' in root

    page = _get(index.url + "requests/").decode()
    anchors = re.findall(r'<a href="([^"#]+)#sha256=([0-9a-f]{64})"([^>]*)>([^<]+)</a>', page)
    assert [a[3] for a in anchors] == [
        "requests-2.30.0-py3-none-any.whl",
        "requests-2.31.0-py3-none-any.whl",
    ]
    for href, sha, attrs, _ in anchors:
        assert href.startswith("../../files/")
        wheel = _get(urljoin(index.url + "requests/", href))
        assert hashlib.sha256(wheel).hexdigest() == sha
        assert 'data-requires-python="&gt;=3.7"' in attrs
        meta_sha = re.search(r'data-core-metadata="sha256=([0-9a-f]{64})"', attrs)
        assert meta_sha
        meta = _get(urljoin(index.url + "requests/", href) + ".metadata")
        assert hashlib.sha256(meta).hexdigest() == meta_sha.group(1)
        with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
            assert meta in {zf.read(n) for n in zf.namelist() if n.endswith("METADATA")}
    assert index.sha256("requests", "2.31.0") == anchors[1][1]

    with pytest.raises(urllib.error.HTTPError) as err:
        _get(index.url + "no-such-project/")
    assert err.value.code == 404
    err.value.close()

    # A version published mid-test is served by the very next request.
    index.add("requests", "2.32.0", ["urllib3>=1.21,<3"], requires_python=">=3.8")
    assert "requests-2.32.0-py3-none-any.whl" in _get(index.url + "requests/").decode()
    index.add("requests", "2.32.0", ["urllib3>=1.21,<3"], requires_python=">=3.8")  # idempotent
    with pytest.raises(ValueError, match="already published"):
        index.add("requests", "2.32.0", ["urllib3>=2"])
    # Each index is private: its own port, its own universe.
    with PackageIndex() as other:
        assert other.url != index.url
        assert other.versions("requests") == []


def test_pep508_and_dependency_edits() -> None:
    assert pep508("requests", "^2.30") == "requests (>=2.30,<3.0)"
    assert pep508("httpx", "^0.25") == "httpx (>=0.25,<0.26)"
    assert pep508("x", "~1.2.3") == "x (>=1.2.3,<1.3)"
    assert pep508("x", "*") == "x"
    assert pep508("x", "1.0") == "x (==1.0)"
    assert pep508("x", ">=1,<2") == "x (>=1,<2)"

    text = (
        '[tool.poetry.dependencies]\npython = ">=3.9"\nrequests = "^2.30"\n\n'
        '[[tool.poetry.source]]\nname = "local"\n'
    )
    added = set_dependency_text(text, "click", "^8.1")
    assert 'requests = "^2.30"\nclick = "^8.1"\n\n[[tool.poetry.source]]' in added
    assert 'requests = "^2.31"\nclick' in set_dependency_text(added, "Requests", "^2.31")
    assert "requests" not in set_dependency_text(added, "requests", None)
    path = set_dependency_text(text, "core", {"path": "../core", "develop": True})
    assert 'core = { path = "../core", develop = true }\n' in path
    dev = set_dependency_text(text, "pytest", "^7.4", group="dev")
    assert dev.endswith('[tool.poetry.group.dev.dependencies]\npytest = "^7.4"\n')

    pep621 = '[project]\nname = "a"\ndependencies = [\n    "requests (>=2.30,<3.0)",\n]\n'
    assert set_dependency_text(pep621, "click", "^8.1").endswith(
        '    "requests (>=2.30,<3.0)",\n    "click (>=8.1,<9.0)",\n]\n'
    )


# ---------------------------------------------------------------------------------------
# real Poetry against the index


def test_poetry_locks_offline_and_relock_does_not_upgrade(make_single_project, poetry, index):
    assert poetry.env["https_proxy"] == "http://127.0.0.1:9"  # anything but 127.0.0.1 fails
    repo = make_single_project()  # requests = "^2.30"
    lock = repo.path / "poetry.lock"
    assert repo.is_clean()
    assert repo.git("log", "--format=%s").stdout.split("\n")[0] == "initial project"
    assert poetry.check_lock(repo.path).returncode == 0

    versions = locked_versions(lock)
    assert versions == {
        "certifi": "2023.7.22",
        "idna": "3.6",
        "requests": "2.31.0",
        "urllib3": "2.0.7",
    }
    data = read_lock(lock)
    assert data["metadata"]["lock-version"] == ("2.0" if poetry.major < 2 else "2.1")
    assert lock.read_text().startswith(
        "# This file is automatically @generated by Poetry " + ".".join(map(str, poetry.version))
    )
    for pkg in data["package"]:  # every package came from the test index, with its hash
        assert pkg["source"] == {
            "type": "legacy",
            "url": index.url.rstrip("/"),
            "reference": "local",
        }
        assert [f["hash"] for f in pkg["files"]] == [
            "sha256:" + index.sha256(pkg["name"], pkg["version"])
        ]

    # A newer release appears between two steps of the test ...
    index.add("requests", "2.32.0", ["urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"])
    index.add("idna", "3.7")  # not asked for: stays at 3.6
    before = lock.read_text()
    poetry.lock(repo.path)  # ... a plain relock keeps what is locked,
    assert lock.read_text() == before
    index.requests.clear()
    update_dependency(repo, ".", "requests", poetry, commit="update requests")
    assert "/simple/requests/" in index.requests
    after = locked_versions(lock)  # ... `poetry update --lock requests` takes it, alone.
    assert after == {**versions, "requests": "2.32.0"}
    assert repo.is_clean()


def test_monorepo_locks_path_deps_and_relocks_dependents(make_monorepo, poetry):
    repo = make_monorepo()
    assert repo.projects == {
        "core": CORE,
        "api-gateway": API_GATEWAY,
        "background-worker": BACKGROUND_WORKER,
    }
    assert lock_order(repo) == [CORE, API_GATEWAY, BACKGROUND_WORKER]
    assert dependents(repo, CORE) == [API_GATEWAY, BACKGROUND_WORKER]
    assert repo.is_clean()
    for pkg_dir in repo.projects.values():
        check = poetry.check_lock(repo.path / pkg_dir)
        assert check.returncode == 0, check.stdout + check.stderr

    gateway_lock = repo.path / API_GATEWAY / "poetry.lock"
    core = locked_package(gateway_lock, "core")
    assert core["source"] == {"type": "directory", "url": "../core"}
    assert core["develop"] is True
    assert core["dependencies"] == {"requests": "^2.30"}
    gateway = locked_versions(gateway_lock)
    assert gateway["fastapi"] == "0.104.1"
    assert gateway["anyio"] == "3.7.1"  # fastapi pins anyio<4
    assert gateway["requests"] == "2.31.0"  # reached through core
    assert locked_versions(repo.path / BACKGROUND_WORKER / "poetry.lock")["celery"] == "5.3.4"

    # Changing core's dependencies relocks core, then both dependents (whose locks record
    # core's requirements), none of them upgrading anything.
    repo.checkout("core-six", create=True)
    add_dependency(repo, CORE, "six", "^1.16", poetry, commit="core: add six")
    changed = repo.git("show", "--name-only", "--format=", "HEAD").stdout.split()
    assert sorted(changed) == sorted(
        [f"{CORE}/pyproject.toml", f"{CORE}/poetry.lock"]
        + [f"{d}/poetry.lock" for d in (API_GATEWAY, BACKGROUND_WORKER)]
    )
    for pkg_dir in (API_GATEWAY, BACKGROUND_WORKER):
        lock = repo.path / pkg_dir / "poetry.lock"
        assert locked_package(lock, "core")["dependencies"] == {
            "requests": "^2.30",
            "six": "^1.16",
        }
        assert locked_versions(lock)["six"] == "1.16.0"
    assert {k: v for k, v in locked_versions(gateway_lock).items() if k != "six"} == gateway


def test_adjacent_additions_conflict_in_plain_git_merge(make_single_project, poetry):
    repo = make_single_project()
    repo.branch("feature-click")
    add_dependency(repo, ".", "attrs", "^23.1", poetry, commit="add attrs")
    repo.checkout("feature-click")
    add_dependency(repo, ".", "click", "^8.1", poetry, commit="add click")
    assert 'requests = "^2.30"\nclick = "^8.1"\n' in repo.read("pyproject.toml")
    repo.checkout("main")

    proc = repo.merge("feature-click")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "CONFLICT (content): Merge conflict in pyproject.toml" in proc.stdout
    assert "CONFLICT (content): Merge conflict in poetry.lock" in proc.stdout
    assert repo.unmerged() == ["poetry.lock", "pyproject.toml"]
    assert repo.has_conflict_markers("pyproject.toml")
    assert repo.has_conflict_markers("poetry.lock")
    assert 'click = "^8.1"' in repo.stage(3, "pyproject.toml")
    assert 'attrs = "^23.1"' in repo.stage(2, "pyproject.toml")
    assert "attrs" not in repo.stage(1, "pyproject.toml")
    assert 'attrs = "^23.1"\n=======\nclick = "^8.1"\n>>>>>>> feature-click' in repo.read(
        "pyproject.toml"
    )
    repo.git("merge", "--abort")
    assert repo.is_clean()


def test_pep621_project(make_single_project, poetry):
    if poetry.major < 2:  # [project] dependencies need Poetry 2
        with pytest.raises(ValueError, match="PEP 621"):
            make_single_project(style="pep621")
        return
    repo = make_single_project({"requests": "^2.30"}, style="pep621", dev_deps={"pytest": "^7.4"})
    assert '"requests (>=2.30,<3.0)",\n]' in repo.read("pyproject.toml")
    assert poetry.check_lock(repo.path).returncode == 0
    lock = repo.path / "poetry.lock"
    assert locked_package(lock, "requests")["groups"] == ["main"]
    assert locked_package(lock, "pytest")["groups"] == ["dev"]
    add_dependency(repo, ".", "click", "^8.1", poetry)
    assert '"requests (>=2.30,<3.0)",\n    "click (>=8.1,<9.0)",\n]' in repo.read("pyproject.toml")
    assert locked_versions(lock)["click"] == "8.1.7"


def test_repo_cache_hands_out_what_poetry_makes(tmp_path, poetry, index, repo_cache):
    if repo_cache is None:
        pytest.skip("LOCKFIX_TESTBED_NO_CACHE is set")
    first = single_project(tmp_path, poetry, index, cache=repo_cache)
    hits = repo_cache.hits
    second = single_project(tmp_path, poetry, index, cache=repo_cache)
    assert repo_cache.hits == hits + 1
    assert second.path != first.path
    assert second.head() == first.head()
    assert second.is_clean()
    second.write("pyproject.toml", "changed\n")  # a copy, not a shared tree
    assert first.is_clean()

    fresh = single_project(tmp_path, poetry, index)  # no cache: real Poetry, right now
    for name in ("pyproject.toml", "poetry.lock"):
        assert fresh.read(name) == first.read(name)

    index.add("requests", "2.32.0", ["urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"])
    misses = repo_cache.misses
    newer = single_project(tmp_path, poetry, index, cache=repo_cache)
    assert repo_cache.misses == misses + 1  # another universe, another key
    assert locked_versions(newer.path / "poetry.lock")["requests"] == "2.32.0"
