from __future__ import annotations

from lockfix.workspace import build_graph, discover
from lockfix.workspace import links as path_dependencies


def poetry_deps(**deps):
    return {"tool": {"poetry": {"dependencies": deps}}}


def test_discover_marks_locks() -> None:
    pk = discover(["pyproject.toml", "packages/core/pyproject.toml", "packages/core/poetry.lock",
                   "packages/lib/pyproject.toml", "docs/poetry.lock"])
    assert {d: p.has_lock for d, p in pk.items()} == {
        "": False, "packages/core": True, "packages/lib": False
    }
    assert pk["packages/core"].lockfile == "packages/core/poetry.lock"
    assert pk[""].pyproject == "pyproject.toml" and pk[""].label == "."


def test_path_dependencies_from_every_place_poetry_allows() -> None:
    data = {
        "tool": {"poetry": {
            "dependencies": {"python": "^3.9", "core": {"path": "../core", "develop": True},
                             "wheel": {"path": "../dist/x-1.0-py3-none-any.whl"},
                             "multi": [{"path": "../m1", "markers": "sys_platform == 'linux'"},
                                       {"version": "^1"}]},
            "dev-dependencies": {"devtool": {"path": "../devtool"}},
            "group": {"test": {"dependencies": {"fixtures": {"path": "../../shared/fixtures"}}}},
        }},
        "project": {"dependencies": ["util @ file:///${PROJECT_ROOT}/../util", "requests>=2"],
                    "optional-dependencies": {"x": ["extra @ file:../extra"]}},
        "dependency-groups": {"dev": ["lint @ {root:uri}/../lint"]},
    }
    assert path_dependencies(data, "packages/api") == [
        "packages/core", "packages/m1", "packages/devtool", "shared/fixtures",
        "packages/util", "packages/extra",
    ]
    # outside the repository or absolute: not a workspace package
    assert path_dependencies(poetry_deps(x={"path": "../../.."}, y={"path": "/opt/y"}), "a") == []


def test_graph_levels_and_dependents() -> None:
    manifests = {
        "packages/core": poetry_deps(),
        "packages/api": poetry_deps(core={"path": "../core"}),
        "packages/worker": poetry_deps(core={"path": "../core"}),
        "packages/edge": poetry_deps(api={"path": "../api"}),
        "tools": poetry_deps(),
    }
    g = build_graph(manifests)
    assert g.levels(manifests) == [
        ["packages/core", "tools"], ["packages/api", "packages/worker"], ["packages/edge"]
    ]
    assert g.dependents_closure(["packages/core"]) == {
        "packages/core", "packages/api", "packages/worker", "packages/edge"
    }
    assert g.reachable("packages/edge") == ["packages/api", "packages/core"]
    assert g.cycles == []


def test_cycles_are_reported_not_looped_on() -> None:
    manifests = {
        "a": poetry_deps(b={"path": "../b"}),
        "b": poetry_deps(c={"path": "../c"}),
        "c": poetry_deps(a={"path": "../a"}),
        "d": poetry_deps(),
    }
    g = build_graph(manifests)
    assert len(g.cycles) == 1 and sorted(g.cycles[0]) == ["a", "b", "c"]
    assert g.levels(manifests) == [["d"], ["a", "b", "c"]]
    assert set(g.reachable("a")) == {"b", "c"}
