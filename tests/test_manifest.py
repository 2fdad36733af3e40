"""Example-based tests for the pyproject.toml three-way merge (lockfix.manifest)."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import tomlkit

from lockfix import manifest
from lockfix.errors import MalformedToml, MergeClash
from lockfix.manifest import Clash, ManifestMerge, merge_manifest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


def data(text: str) -> dict[str, Any]:
    """What the strict reader (and tomlkit) see; both must agree."""
    strict = tomllib.loads(text)
    assert repr(tomlkit.parse(text).unwrap()) == repr(strict)  # repr: nan == nan
    return strict


def merged(base: str | None, ours: str, theirs: str, policy: Any = "theirs") -> ManifestMerge:
    result = merge_manifest(base, ours, theirs, policy)
    data(result.text)  # always valid TOML
    return result


# ---------------------------------------------------------------- classic Poetry

POETRY_BASE = """\
# Service manifest: keep dependencies sorted by purpose, not alphabetically.
[tool.poetry]
name = "billing"
version = "1.4.0"
description = "Billing service"
authors = ["Team <team@example.com>"]
packages = [{ include = "billing", from = "src" }]

[tool.poetry.dependencies]
python = ">=3.9,<3.13"
# web
fastapi = "^0.110"
uvicorn = { version = "^0.29", extras = ["standard"] }
# data
sqlalchemy = "^2.0"

[tool.poetry.group.dev.dependencies]
pytest = "^8.0"

[[tool.poetry.source]]
name = "internal"
url = "https://pypi.internal.example/simple"
priority = "supplemental"

[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
"""


def test_adjacent_dependency_additions_keep_both_and_ours_comments() -> None:
    """The classic conflict: two branches add a dependency on the same line."""
    ours = POETRY_BASE.replace(
        'sqlalchemy = "^2.0"\n', 'sqlalchemy = "^2.0"\nalembic = "^1.13"  # migrations\n'
    )
    theirs = POETRY_BASE.replace('sqlalchemy = "^2.0"\n', 'sqlalchemy = "^2.0"\nredis = "^5.0"\n')
    result = merged(POETRY_BASE, ours, theirs)
    assert result.clashes == ()
    deps = data(result.text)["tool"]["poetry"]["dependencies"]
    assert deps["alembic"] == "^1.13" and deps["redis"] == "^5.0"
    # ours' layout is untouched; theirs' line lands right after what precedes it in theirs
    assert result.text == ours.replace(
        'sqlalchemy = "^2.0"\n', 'sqlalchemy = "^2.0"\nredis = "^5.0"\n'
    )
    assert "# Service manifest" in result.text and "# migrations" in result.text


def test_one_sided_changes_from_both_sides_all_land() -> None:
    ours = (POETRY_BASE.replace('version = "1.4.0"', 'version = "1.5.0"  # release')
            .replace('pytest = "^8.0"\n', 'pytest = "^8.0"\nmypy = "^1.9"\n'))
    theirs = (POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^0.111"')
              .replace('description = "Billing service"\n', "")
              .replace("[build-system]", '[tool.ruff]\nline-length = 100\n\n[build-system]'))
    result = merged(POETRY_BASE, ours, theirs)
    got = data(result.text)
    assert result.clashes == ()
    assert got["tool"]["poetry"]["version"] == "1.5.0"
    assert "description" not in got["tool"]["poetry"]
    assert got["tool"]["poetry"]["dependencies"]["fastapi"] == "^0.111"
    assert got["tool"]["poetry"]["group"]["dev"]["dependencies"] == {
        "pytest": "^8.0", "mypy": "^1.9"
    }
    assert got["tool"]["ruff"] == {"line-length": 100}
    assert 'version = "1.5.0"  # release' in result.text
    assert result.text.index("[tool.ruff]") < result.text.index("[build-system]")


def test_removal_by_one_side_removes() -> None:
    theirs = POETRY_BASE.replace('sqlalchemy = "^2.0"\n', "")
    ours = POETRY_BASE.replace('pytest = "^8.0"', 'pytest = "^8.1"')
    got = data(merged(POETRY_BASE, ours, theirs).text)
    assert "sqlalchemy" not in got["tool"]["poetry"]["dependencies"]
    got = data(merged(POETRY_BASE, theirs, ours).text)
    assert "sqlalchemy" not in got["tool"]["poetry"]["dependencies"]


def test_scalar_clash_is_settled_by_policy() -> None:
    ours = POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^0.111"')
    theirs = POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^0.112"')
    result = merged(POETRY_BASE, ours, theirs, "theirs")
    assert result.clashes == (Clash(
        path="tool.poetry.dependencies.fastapi", base='"^0.110"', ours='"^0.111"',
        theirs='"^0.112"', chosen="theirs", reason="manifest-policy theirs"),)
    assert result.clashes[0].note() == (
        "pyproject clash at tool.poetry.dependencies.fastapi: took theirs (manifest-policy theirs)")
    assert data(result.text)["tool"]["poetry"]["dependencies"]["fastapi"] == "^0.112"

    result = merged(POETRY_BASE, ours, theirs, "ours")
    assert result.text == ours
    assert [c.chosen for c in result.clashes] == ["ours"]

    with pytest.raises(MergeClash) as caught:
        merge_manifest(POETRY_BASE, ours, theirs, "fail")
    assert "tool.poetry.dependencies.fastapi" in caught.value.message
    assert caught.value.hint is not None and "--manifest-policy" in caught.value.hint


def test_fail_policy_lists_every_clash() -> None:
    ours = POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^1"').replace(
        'version = "1.4.0"', 'version = "2.0.0"')
    theirs = POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^2"').replace(
        'version = "1.4.0"', 'version = "1.5.0"')
    with pytest.raises(MergeClash) as caught:
        merge_manifest(POETRY_BASE, ours, theirs, "fail")
    assert "tool.poetry.version" in caught.value.message
    assert "tool.poetry.dependencies.fastapi" in caught.value.message


def test_fail_policy_without_clash_merges() -> None:
    ours = POETRY_BASE.replace('pytest = "^8.0"', 'pytest = "^8.1"')
    theirs = POETRY_BASE.replace('sqlalchemy = "^2.0"', 'sqlalchemy = "^2.1"')
    result = merged(POETRY_BASE, ours, theirs, "fail")
    assert result.clashes == ()
    assert 'pytest = "^8.1"' in result.text and 'sqlalchemy = "^2.1"' in result.text


def test_identical_changes_on_both_sides_are_no_clash() -> None:
    both = POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^0.111"')
    theirs = both.replace('pytest = "^8.0"', 'pytest = "^8.2"')
    result = merged(POETRY_BASE, both, theirs, "fail")
    assert result.clashes == ()
    assert data(result.text) == data(theirs)


def test_delete_versus_modify_is_a_clash() -> None:
    ours = POETRY_BASE.replace('sqlalchemy = "^2.0"\n', "")
    theirs = POETRY_BASE.replace('sqlalchemy = "^2.0"', 'sqlalchemy = "^2.1"')
    result = merged(POETRY_BASE, ours, theirs, "theirs")
    assert result.clashes == (Clash("tool.poetry.dependencies.sqlalchemy", '"^2.0"', None,
                                    '"^2.1"', "theirs", "manifest-policy theirs"),)
    assert data(result.text)["tool"]["poetry"]["dependencies"]["sqlalchemy"] == "^2.1"
    result = merged(POETRY_BASE, ours, theirs, "ours")
    assert "sqlalchemy" not in data(result.text)["tool"]["poetry"]["dependencies"]
    with pytest.raises(MergeClash):
        merge_manifest(POETRY_BASE, ours, theirs, "fail")


def test_deleted_table_stays_deleted_and_the_edit_inside_is_reported() -> None:
    """Issue 15 item 5: a one-line edit never brings back a table the other side deleted,
    whatever the policy; the clash is reported at the key the edit touched."""
    ours = POETRY_BASE.replace('[tool.poetry.group.dev.dependencies]\npytest = "^8.0"\n', "")
    theirs = POETRY_BASE.replace('pytest = "^8.0"', 'pytest = "^8.1"')
    for policy in ("ours", "theirs", "newer"):
        result = merged(POETRY_BASE, ours, theirs, policy)
        assert result.clashes == (Clash(
            "tool.poetry.group.dev.dependencies.pytest", '"^8.0"', None, '"^8.1"', "ours",
            "ours deleted tool.poetry.group; the edit inside it is dropped"),)
        assert result.text == ours
        # and the same with the sides swapped
        result = merged(POETRY_BASE, theirs, ours, policy)
        assert [(c.path, c.chosen) for c in result.clashes] == [
            ("tool.poetry.group.dev.dependencies.pytest", "theirs")]
        assert "group" not in data(result.text)["tool"]["poetry"]
    with pytest.raises(MergeClash):
        merge_manifest(POETRY_BASE, ours, theirs, "fail")


def test_poetry_dependency_names_match_canonically() -> None:
    base = '[tool.poetry.dependencies]\npython = "^3.9"\nrequests = "^2.0"\n'
    ours = '[tool.poetry.dependencies]\npython = "^3.9"\nRequests = "^2.0"  # http\n'
    theirs = '[tool.poetry.dependencies]\npython = "^3.9"\nrequests = "^2.31"\n'
    result = merged(base, ours, theirs, "fail")
    assert result.text == '[tool.poetry.dependencies]\npython = "^3.9"\nRequests = "^2.31"  # http\n'
    # only theirs respelled it: theirs' spelling wins
    result = merged(base, base, theirs.replace("requests", "Requests"))
    assert data(result.text)["tool"]["poetry"]["dependencies"] == {
        "python": "^3.9", "Requests": "^2.31"
    }


def test_group_dependency_names_match_canonically_too() -> None:
    base = '[tool.poetry.group.dev.dependencies]\ntyping_extensions = "^4.0"\n'
    ours = base.replace('"^4.0"', '"^4.9"')
    theirs = '[tool.poetry.group.dev.dependencies]\ntyping-extensions = "^4.0"\nmypy = "*"\n'
    got = data(merged(base, ours, theirs, "fail").text)
    assert got["tool"]["poetry"]["group"]["dev"]["dependencies"] == {
        "typing-extensions": "^4.9", "mypy": "*"
    }


def test_string_to_inline_table_is_a_plain_value_change() -> None:
    ours = POETRY_BASE.replace('pytest = "^8.0"', 'pytest = "^8.1"')
    theirs = POETRY_BASE.replace(
        'sqlalchemy = "^2.0"', 'sqlalchemy = { version = "^2.0", extras = ["asyncio"] }')
    result = merged(POETRY_BASE, ours, theirs)
    assert result.clashes == ()
    assert 'sqlalchemy = { version = "^2.0", extras = ["asyncio"] }' in result.text


def test_dependency_tables_merge_inside_inline_tables() -> None:
    ours = POETRY_BASE.replace('version = "^0.29"', 'version = "^0.30"')
    theirs = POETRY_BASE.replace('extras = ["standard"]', 'extras = ["standard"], optional = true')
    result = merged(POETRY_BASE, ours, theirs, "fail")
    assert data(result.text)["tool"]["poetry"]["dependencies"]["uvicorn"] == {
        "version": "^0.30", "extras": ["standard"], "optional": True
    }


def test_sources_merge_by_name() -> None:
    ours = POETRY_BASE.replace(
        "[build-system]",
        '[[tool.poetry.source]]\nname = "mirror"\nurl = "https://mirror.example/simple"\n'
        'priority = "primary"\n\n[build-system]')
    theirs = POETRY_BASE.replace('priority = "supplemental"', 'priority = "explicit"')
    result = merged(POETRY_BASE, ours, theirs, "fail")
    assert data(result.text)["tool"]["poetry"]["source"] == [
        {"name": "internal", "url": "https://pypi.internal.example/simple",
         "priority": "explicit"},
        {"name": "mirror", "url": "https://mirror.example/simple", "priority": "primary"},
    ]


def test_added_source_at_the_end_is_laid_out_like_the_others() -> None:
    base = ('[tool.poetry.group.dev.dependencies]\nclick = "8.1.6"\n\n'
            '[[tool.poetry.source]]\nname = "fixture"\nurl = "http://127.0.0.1/simple/"\n')
    ours = base.replace("8.1.6", "8.1.7")
    theirs = base + ('\n[[tool.poetry.source]]\nname = "extra"\nurl = "https://x.example/"\n\n'
                     '[tool.poetry.group.docs.dependencies]\nsphinx = "^7"\n')
    assert merged(base, ours, theirs, "fail").text == (
        '[tool.poetry.group.dev.dependencies]\nclick = "8.1.7"\n\n'
        '[tool.poetry.group.docs.dependencies]\nsphinx = "^7"\n\n'
        '[[tool.poetry.source]]\nname = "fixture"\nurl = "http://127.0.0.1/simple/"\n\n'
        '[[tool.poetry.source]]\nname = "extra"\nurl = "https://x.example/"\n'
    )


def test_sources_clash_names_the_source() -> None:
    ours = POETRY_BASE.replace("pypi.internal.example", "a.example")
    theirs = POETRY_BASE.replace("pypi.internal.example", "b.example")
    result = merged(POETRY_BASE, ours, theirs)
    assert [c.path for c in result.clashes] == ["tool.poetry.source[internal].url"]


def test_array_of_tables_without_names_merges_element_wise() -> None:
    base = '[[tool.mypy.overrides]]\nmodule = "a"\n\n[[tool.mypy.overrides]]\nmodule = "b"\n'
    ours = base + '\n[[tool.mypy.overrides]]\nmodule = "c"\n'
    theirs = '[[tool.mypy.overrides]]\nmodule = "b"\n'
    got = data(merged(base, ours, theirs).text)
    assert got["tool"]["mypy"]["overrides"] == [{"module": "b"}, {"module": "c"}]


def test_plain_arrays_merge_as_sequences() -> None:
    base = 'classifiers = ["A", "B", "C"]\n'
    ours = 'classifiers = ["A", "B", "C", "D"]\n'
    theirs = 'classifiers = ["Z", "A", "C"]\n'
    result = merged(base, ours, theirs)
    assert result.text == 'classifiers = ["Z", "A", "C", "D"]\n'


# ------------------------------------------------------------------- PEP 621

PEP621_BASE = """\
[project]
name = "svc"
version = "1.0.0"
requires-python = ">=3.9"
dependencies = [
    "requests>=2.31",
    "click>=8",  # CLI
    "numpy<2; python_version < '3.10'",
]

[project.optional-dependencies]
docs = ["sphinx>=7"]

[dependency-groups]
test = ["pytest>=8", { include-group = "lint" }]
lint = ["ruff"]

[tool.poetry]
package-mode = true

[build-system]
requires = ["poetry-core>=2.0,<3.0"]
build-backend = "poetry.core.masonry.api"
"""


def test_pep621_adjacent_additions_and_formatting_kept() -> None:
    ours = PEP621_BASE.replace('    "click>=8",  # CLI\n', '    "click>=8",  # CLI\n    "rich>=13",\n')
    theirs = PEP621_BASE.replace('    "click>=8",  # CLI\n', '    "click>=8",  # CLI\n    "httpx>=0.27",\n')
    result = merged(PEP621_BASE, ours, theirs, "fail")
    assert (
        'dependencies = [\n    "requests>=2.31",\n    "click>=8",  # CLI\n    "httpx>=0.27",\n'
        '    "rich>=13",\n    "numpy<2; python_version < \'3.10\'",\n]\n'
    ) in result.text


def test_pep621_dependencies_merge_by_normalized_name() -> None:
    ours = PEP621_BASE.replace('"requests>=2.31"', '"requests[socks]>=2.31"')
    theirs = PEP621_BASE.replace('    "click>=8",  # CLI\n', "").replace(
        "]\n\n[project.optional", '    "attrs",\n]\n\n[project.optional')
    result = merged(PEP621_BASE, ours, theirs, "fail")
    assert data(result.text)["project"]["dependencies"] == [
        "requests[socks]>=2.31", "numpy<2; python_version < '3.10'", "attrs"
    ]
    # a respelled name is the same dependency
    theirs = PEP621_BASE.replace('"requests>=2.31"', '"Requests>=2.32"')
    got = data(merged(PEP621_BASE, ours, theirs).text)["project"]["dependencies"]
    assert got[0] == "Requests>=2.32"  # both changed it: a clash, theirs by default


def test_pep621_dependency_clash_path() -> None:
    ours = PEP621_BASE.replace('"click>=8"', '"click>=8.1"')
    theirs = PEP621_BASE.replace('"click>=8"', '"click>=8.2"')
    result = merged(PEP621_BASE, ours, theirs)
    assert result.clashes == (Clash("project.dependencies[click]", '"click>=8"',
                                    '"click>=8.1"', '"click>=8.2"', "theirs",
                                    "manifest-policy theirs"),)
    assert '"click>=8.2",  # CLI' in result.text


def test_same_name_different_markers_are_different_entries() -> None:
    ours = PEP621_BASE.replace(
        "    \"numpy<2; python_version < '3.10'\",\n",
        "    \"numpy<2; python_version < '3.10'\",\n    \"numpy>=2; python_version >= '3.10'\",\n")
    theirs = PEP621_BASE.replace("numpy<2;", "numpy<1.27;")
    result = merged(PEP621_BASE, ours, theirs, "fail")
    assert data(result.text)["project"]["dependencies"][2:] == [
        "numpy<1.27; python_version < '3.10'", "numpy>=2; python_version >= '3.10'"
    ]
    ours = PEP621_BASE.replace("numpy<2;", "numpy<1.26;")
    result = merged(PEP621_BASE, ours, theirs)
    assert [c.path for c in result.clashes] == [
        'project.dependencies[numpy; python_version < "3.10"]'
    ]


def test_optional_dependencies_and_dependency_groups() -> None:
    ours = PEP621_BASE.replace('docs = ["sphinx>=7"]', 'docs = ["sphinx>=7", "furo"]').replace(
        'lint = ["ruff"]', 'lint = ["ruff", "mypy"]')
    theirs = PEP621_BASE.replace('docs = ["sphinx>=7"]', 'docs = ["sphinx>=7.2"]\ncli = ["typer"]'
                                 ).replace('{ include-group = "lint" }',
                                           '{ include-group = "lint" }, "coverage"')
    result = merged(PEP621_BASE, ours, theirs, "fail")
    got = data(result.text)
    assert got["project"]["optional-dependencies"] == {
        "docs": ["sphinx>=7.2", "furo"], "cli": ["typer"]
    }
    assert got["dependency-groups"] == {
        "test": ["pytest>=8", {"include-group": "lint"}, "coverage"], "lint": ["ruff", "mypy"]
    }


def test_include_group_entries_are_keyed_by_group() -> None:
    ours = PEP621_BASE.replace('{ include-group = "lint" }', '{ include-group = "lint" }, '
                                                              '{ include-group = "docs" }')
    theirs = PEP621_BASE.replace('{ include-group = "lint" }', "").replace(
        '"pytest>=8", ', '"pytest>=8"')
    got = data(merged(PEP621_BASE, ours, theirs, "fail").text)
    assert got["dependency-groups"]["test"] == ["pytest>=8", {"include-group": "docs"}]


def test_build_system_requires_merges_by_name() -> None:
    ours = PEP621_BASE.replace('requires = ["poetry-core>=2.0,<3.0"]',
                               'requires = ["poetry-core>=2.0,<3.0", "cython"]')
    theirs = PEP621_BASE.replace('"poetry-core>=2.0,<3.0"', '"poetry-core>=2.1,<3.0"')
    result = merged(PEP621_BASE, ours, theirs, "fail")
    assert 'requires = ["poetry-core>=2.1,<3.0", "cython"]' in result.text


def test_unparsable_requirement_strings_still_key_by_their_head() -> None:
    base = 'dependency-groups = { dev = ["weird thing!!", "pytest"] }\n'
    ours = 'dependency-groups = { dev = ["weird thing!!", "pytest>=8"] }\n'
    theirs = 'dependency-groups = { dev = ["weird thing??", "pytest"] }\n'
    result = merged(base, ours, theirs, "fail")
    assert data(result.text)["dependency-groups"]["dev"] == ["weird thing??", "pytest>=8"]


# ------------------------------------------------------ layout and TOML subtleties


def test_both_sides_add_the_same_table_in_different_places() -> None:
    """git merges this into a duplicate [tool.pytest.ini_options]; we get one table."""
    base = '[tool.poetry]\nname = "x"\n\n[build-system]\nrequires = ["poetry-core"]\n'
    ours = base + '\n[tool.pytest.ini_options]\naddopts = "-q"\n'
    theirs = ('[tool.poetry]\nname = "x"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n'
              'testpaths = ["tests"]\n\n[build-system]\nrequires = ["poetry-core"]\n')
    result = merged(base, ours, theirs, "fail")
    assert result.text.count("[tool.pytest.ini_options]") == 1
    assert data(result.text)["tool"]["pytest"]["ini_options"] == {
        "addopts": "-q", "testpaths": ["tests"]
    }
    # and when the two copies disagree on a key, that key is the only clash
    theirs = theirs.replace('addopts = "-q"', 'addopts = "-ra"')
    result = merged(base, ours, theirs)
    assert [c.path for c in result.clashes] == ["tool.pytest.ini_options.addopts"]
    assert result.text.count("[tool.pytest.ini_options]") == 1


def test_out_of_order_tables() -> None:
    base = ('[tool.poetry]\nname = "x"\n\n[build-system]\nrequires = ["poetry-core"]\n\n'
            '[tool.poetry.dependencies]\npython = "^3.9"\n')
    ours = base.replace('name = "x"\n', 'name = "x"\nversion = "1.0"\n')
    theirs = base + 'click = "^8"\n'
    result = merged(base, ours, theirs, "fail")
    assert result.text == ours + 'click = "^8"\n'
    theirs = base.replace('[tool.poetry]\nname = "x"\n', '[tool.poetry]\nname = "x"\nlicense = "MIT"\n')
    result = merged(base, ours, theirs, "fail")
    assert data(result.text)["tool"]["poetry"]["license"] == "MIT"
    assert result.text.index("license") < result.text.index("[build-system]")


# Valid TOML that tomlkit 0.15 refuses ("Key "poetry" already exists").
TOMLKIT_CANNOT_READ = """\
[tool.poetry.dependencies]
python = "^3.9"

[tool.poetry]
name = "app"

[tool]
black = { line-length = 88 }

[tool.poetry.group.dev.dependencies]
pytest = "^8"
"""


def test_side_that_tomlkit_cannot_read_still_merges() -> None:
    ours = TOMLKIT_CANNOT_READ.replace('"^8"', '"^8.1"')
    theirs = TOMLKIT_CANNOT_READ.replace('python = "^3.9"', 'python = "^3.9"\nclick = "^8"')
    for base, pytest_wanted in ((TOMLKIT_CANNOT_READ, "^8.1"), (None, "^8")):  # 2-way: clash
        got = tomllib.loads(merge_manifest(base, ours, theirs, "theirs").text)
        assert got["tool"]["poetry"]["dependencies"]["click"] == "^8"
        assert got["tool"]["poetry"]["group"]["dev"]["dependencies"]["pytest"] == pytest_wanted
        assert got["tool"]["black"] == {"line-length": 88}
    # ours readable, theirs not: ours' layout is kept
    result = merged(TOMLKIT_CANNOT_READ, POETRY_BASE, theirs)
    assert result.text.startswith(POETRY_BASE.split("\n")[0])
    assert data(result.text)["tool"]["poetry"]["dependencies"]["click"] == "^8"
    assert merge_manifest(TOMLKIT_CANNOT_READ, ours, TOMLKIT_CANNOT_READ).text == ours


def test_dotted_keys() -> None:
    base = '[tool.poetry]\nname = "x"\ndependencies.python = "^3.9"\n'
    ours = base.replace('name = "x"', 'name = "y"')
    theirs = base + 'dependencies.click = "^8"\n'
    result = merged(base, ours, theirs, "fail")
    assert result.text == (
        '[tool.poetry]\nname = "y"\ndependencies.python = "^3.9"\ndependencies.click = "^8"\n'
    )


def test_root_level_dotted_keys() -> None:
    base = 'project.name = "x"\nproject.version = "1"\n'
    ours = 'project.name = "x"\nproject.version = "2"\n'
    theirs = base + 'project.dependencies = ["click"]\n'
    result = merged(base, ours, theirs, "fail")
    assert result.text == 'project.name = "x"\nproject.version = "2"\nproject.dependencies = ["click"]\n'


def test_new_group_goes_beside_the_existing_super_table() -> None:
    base = ('[tool.poetry.group.dev.dependencies]\npytest = "^8"\n\n'
            '[build-system]\nrequires = ["poetry-core"]\n')
    ours = base.replace('pytest = "^8"', 'pytest = "^8.1"')
    theirs = base.replace(
        "[build-system]", '[tool.poetry.group.docs.dependencies]\nsphinx = "^7"\n\n[build-system]')
    result = merged(base, ours, theirs, "fail")
    assert result.text == theirs.replace('pytest = "^8"', 'pytest = "^8.1"')


def test_emptied_dotted_table_stays_present() -> None:
    base = 'tool.x.y.z = 1\n'
    ours = 'tool.x.y.z = 1\nother = 2\n'
    theirs = 'tool.x.y = {}\n'
    got = data(merged(base, ours, theirs, "fail").text)
    assert got == {"tool": {"x": {"y": {}}}, "other": 2}


def test_inline_table_additions_stay_inline_and_drop_comments() -> None:
    base = 'tool = { black = { line-length = 88 } }\n'
    ours = 'tool = { black = { line-length = 100 } }\n'
    theirs = '[tool.black]\nline-length = 88\ntarget-version = ["py39"]  # oldest\n'
    result = merged(base, ours, theirs, "fail")
    assert data(result.text) == {"tool": {"black": {"line-length": 100,
                                                    "target-version": ["py39"]}}}
    assert "\n" not in result.text.rstrip("\n")


def test_multiline_array_keeps_layout_and_trailing_comma_style() -> None:
    base = 'deps = [\n  "a",\n  "b"\n]\n'
    ours = 'deps = [\n  "a",\n  "b",  # bee\n  "c"\n]\n'
    theirs = 'deps = [\n  "a",\n  "b",\n  "d"\n]\n'
    assert merged(base, ours, theirs).text == 'deps = [\n  "a",\n  "b",  # bee\n  "d",\n  "c"\n]\n'


def test_crlf_file_stays_crlf_and_new_tables_get_a_blank_line() -> None:
    base = '[tool.poetry.dependencies]\r\npython = "^3.9"\r\nrequests = "^2"\r\n'
    ours = base.replace('requests = "^2"\r\n', 'requests = "^2"\r\nclick = "^8"\r\n')
    theirs = base.replace("\r\n", "\n") + 'httpx = "*"\n\n[tool.ruff]\nline-length = 100\n'
    assert merged(base, ours, theirs).text == (
        '[tool.poetry.dependencies]\r\npython = "^3.9"\r\nrequests = "^2"\r\nhttpx = "*"\r\n'
        'click = "^8"\r\n\r\n[tool.ruff]\r\nline-length = 100\r\n'
    )


def test_keys_that_need_quoting_are_quoted_in_clash_paths() -> None:
    base = '[tool."my.tool"]\n"odd key" = 1\n'
    result = merged(base, base.replace("= 1", "= 2"), base.replace("= 1", "= 3"))
    assert [c.path for c in result.clashes] == ['tool."my.tool"."odd key"']


def test_clash_rendering_is_short() -> None:
    base = f'text = "{"x" * 200}"\n'
    result = merged(base, 'text = "a"\n', 'text = [1, 2.5, true, {a = 1979-05-27}]\n')
    (clash,) = result.clashes
    assert clash.base is not None and len(clash.base) <= 80 and clash.base.endswith("...")
    assert clash.theirs == "[1, 2.5, true, {a = 1979-05-27}]"


def test_types_are_not_confused() -> None:
    """1, 1.0 and true are different TOML values; nan equals itself."""
    base = "a = 1\nb = nan\n"
    result = merged(base, "a = 1.0\nb = nan\n", "a = true\nb = nan\n")
    assert [c.path for c in result.clashes] == ["a"]
    assert merged(base, base, "a = 1\nb = nan\nc = 1\n", "fail").clashes == ()


# ------------------------------------------------------------------ identities


@pytest.mark.parametrize("base", [None, POETRY_BASE, PEP621_BASE, ""])
def test_identities(base: str | None) -> None:
    other = PEP621_BASE.replace('"click>=8"', '"click>=9"') + "\n[tool.x]\ny = 1\n"
    assert merge_manifest(base, other, other).text == other
    if base is not None:
        assert merge_manifest(base, other, base).text == other
        assert data(merge_manifest(base, base, other).text) == data(other)


def test_theirs_only_change_is_textually_theirs_when_layout_allows() -> None:
    theirs = POETRY_BASE.replace('sqlalchemy = "^2.0"\n', 'sqlalchemy = "^2.0"\nredis = "^5"\n')
    assert merge_manifest(POETRY_BASE, POETRY_BASE, theirs).text == theirs


def test_deterministic() -> None:
    ours = PEP621_BASE.replace('"click>=8"', '"click>=8.1"').replace('lint = ["ruff"]', 'x = []')
    theirs = PEP621_BASE.replace('"click>=8"', '"click>=8.2"').replace('docs = [', 'doc = [')
    first = merge_manifest(PEP621_BASE, ours, theirs)
    for _ in range(3):
        assert merge_manifest(PEP621_BASE, ours, theirs) == first


# -------------------------------------------------------------------- two-way


def test_two_way_keeps_the_union() -> None:
    ours = POETRY_BASE.replace('sqlalchemy = "^2.0"\n', 'sqlalchemy = "^2.0"\nalembic = "^1"\n')
    theirs = POETRY_BASE.replace('sqlalchemy = "^2.0"\n', "").replace(
        'pytest = "^8.0"', 'pytest = "^8.0"\nruff = "*"')
    result = merged(None, ours, theirs, "fail")
    deps = data(result.text)["tool"]["poetry"]
    # without a base nothing can be told apart from "the other side added it"
    assert set(deps["dependencies"]) == {"python", "fastapi", "uvicorn", "sqlalchemy", "alembic"}
    assert set(deps["group"]["dev"]["dependencies"]) == {"pytest", "ruff"}


def test_two_way_difference_is_a_clash() -> None:
    ours = PEP621_BASE.replace('"click>=8"', '"click>=8.1"').replace('"1.0.0"', '"1.1.0"')
    theirs = PEP621_BASE.replace('"click>=8"', '"click>=8.2"').replace(
        'lint = ["ruff"]', 'lint = ["black"]')
    result = merged(None, ours, theirs, "ours")
    assert [c.path for c in result.clashes] == [
        "project.version", "project.dependencies[click]"
    ]
    assert all(c.base is None for c in result.clashes)
    got = data(result.text)
    assert got["project"]["version"] == "1.1.0"
    assert got["dependency-groups"]["lint"] == ["ruff", "black"]  # arrays: union
    with pytest.raises(MergeClash):
        merge_manifest(None, ours, theirs, "fail")


# ------------------------------------------------------------------- malformed


@pytest.mark.parametrize("side", ["base", "ours", "theirs"])
def test_malformed_side_names_side_line_and_column(side: str) -> None:
    texts = {"base": POETRY_BASE, "ours": POETRY_BASE, "theirs": POETRY_BASE}
    texts[side] = '[tool.poetry]\nname = "x"\nversion = \n'
    with pytest.raises(MalformedToml) as caught:
        merge_manifest(texts["base"], texts["ours"], texts["theirs"],
                       where="packages/api/pyproject.toml")
    error = caught.value
    assert error.where == f"packages/api/pyproject.toml ({side})"
    assert error.line == 3 and error.col is not None
    assert " at line" not in error.detail


def test_duplicate_table_is_malformed() -> None:
    """What git's text merge produces when both sides add the same table."""
    text = '[tool.pytest.ini_options]\na = 1\n\n[tool.pytest.ini_options]\nb = 2\n'
    with pytest.raises(MalformedToml) as caught:
        merge_manifest(None, text, "")
    assert caught.value.where == "pyproject.toml (ours)"


# ---------------------------------------------------------------- the safety net


def test_falls_back_when_patching_ours_goes_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = POETRY_BASE.replace('pytest = "^8.0"', 'pytest = "^8.1"')
    theirs = POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^0.111"')
    calls: list[int] = []
    real = manifest._Patcher.table

    def broken_once(self: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("tomlkit had a bad day")
        real(self, *args, **kwargs)

    monkeypatch.setattr(manifest._Patcher, "table", broken_once)
    result = merge_manifest(POETRY_BASE, ours, theirs)
    expected = data(ours)
    expected["tool"]["poetry"]["dependencies"]["fastapi"] = "^0.111"
    assert data(result.text) == expected

    monkeypatch.setattr(manifest, "_reads_as", lambda *args: False)
    result = merge_manifest(POETRY_BASE, ours, theirs)
    assert data(result.text) == expected  # written plainly, but right


# ------------------------------------------------- issue 14: the newer constraint wins


def test_newer_takes_the_constraint_that_starts_later_on_either_side() -> None:
    base = '[tool.poetry.dependencies]\npython = "^3.9"\nruff = "^0.11.0"\n'
    patch = base.replace("^0.11.0", "^0.11.4")
    minor = base.replace("^0.11.0", "^0.12.0")
    for ours, theirs, chosen in ((minor, patch, "ours"), (patch, minor, "theirs")):
        result = merged(base, ours, theirs, "newer")
        assert data(result.text)["tool"]["poetry"]["dependencies"]["ruff"] == "^0.12.0"
        assert result.clashes == (Clash("tool.poetry.dependencies.ruff", '"^0.11.0"',
                                        '"^0.12.0"' if chosen == "ours" else '"^0.11.4"',
                                        '"^0.11.4"' if chosen == "ours" else '"^0.12.0"',
                                        chosen, "newer: ^0.12.0 > ^0.11.4"),)
        assert result.clashes[0].note() == (
            f"pyproject clash at tool.poetry.dependencies.ruff: took {chosen} "
            "(newer: ^0.12.0 > ^0.11.4)")
    # the side policies still mean a side
    assert data(merged(base, minor, patch, "theirs").text)["tool"]["poetry"][
        "dependencies"]["ruff"] == "^0.11.4"


def test_newer_is_the_default() -> None:
    ours = POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^0.112"')
    theirs = POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^0.111"')
    result = merge_manifest(POETRY_BASE, ours, theirs)
    assert result.text == ours
    assert [c.chosen for c in result.clashes] == ["ours"]


def test_newer_compares_table_form_versions_and_keeps_the_rest() -> None:
    ours = POETRY_BASE.replace('version = "^0.29"', 'version = "^0.31"')
    theirs = POETRY_BASE.replace('uvicorn = { version = "^0.29", extras = ["standard"] }',
                                 'uvicorn = { version = "^0.30", extras = ["standard"], '
                                 'optional = true }')
    result = merged(POETRY_BASE, ours, theirs, "newer")
    assert data(result.text)["tool"]["poetry"]["dependencies"]["uvicorn"] == {
        "version": "^0.31", "extras": ["standard"], "optional": True}
    assert [(c.path, c.chosen, c.reason) for c in result.clashes] == [
        ("tool.poetry.dependencies.uvicorn.version", "ours", "newer: ^0.31 > ^0.30")]
    # string against table: compared when the table holds nothing but the version
    ours = POETRY_BASE.replace('sqlalchemy = "^2.0"', 'sqlalchemy = { version = "^2.2" }')
    theirs = POETRY_BASE.replace('sqlalchemy = "^2.0"', 'sqlalchemy = "^2.1"')
    result = merged(POETRY_BASE, ours, theirs, "newer")
    assert [(c.chosen, c.reason) for c in result.clashes] == [("ours", "newer: ^2.2 > ^2.1")]


@pytest.mark.parametrize(("ours_value", "theirs_value", "why"), [
    ('{ version = "^2.2", extras = ["asyncio"] }', '"^2.1"', "different extras"),
    ('{ version = "^2.2", source = "internal" }', '"^2.1"', "different source"),
    ('"2.2.0"', '"^2.1"', "exact pin against a range"),
    ('"^2.1"', '">=2.1"', "same lower bound"),
    ('"^2.2"', '"not a constraint"', "theirs: invalid constraint"),
    ('{ path = "../sqlalchemy" }', '"^2.1"', "ours: no version constraint"),
])
def test_newer_falls_back_to_theirs_when_not_clearly_newer(
        ours_value: str, theirs_value: str, why: str) -> None:
    ours = POETRY_BASE.replace('sqlalchemy = "^2.0"', f"sqlalchemy = {ours_value}")
    theirs = POETRY_BASE.replace('sqlalchemy = "^2.0"', f"sqlalchemy = {theirs_value}")
    result = merged(POETRY_BASE, ours, theirs, "newer")
    assert [(c.chosen, c.reason) for c in result.clashes] == [
        ("theirs", f"not clearly newer, {why}: theirs by default")]
    assert data(result.text) == data(theirs)


def test_newer_leaves_everything_but_dependencies_to_theirs() -> None:
    ours = POETRY_BASE.replace('version = "1.4.0"', 'version = "1.6.0"').replace(
        'python = ">=3.9,<3.13"', 'python = ">=3.11,<3.13"')
    theirs = POETRY_BASE.replace('version = "1.4.0"', 'version = "1.5.0"').replace(
        'python = ">=3.9,<3.13"', 'python = ">=3.10,<3.13"')
    result = merged(POETRY_BASE, ours, theirs, "newer")
    assert [(c.path, c.chosen, c.reason) for c in result.clashes] == [
        ("tool.poetry.version", "theirs", "not a dependency constraint: theirs by default"),
        ("tool.poetry.dependencies.python", "theirs",
         "not a dependency constraint: theirs by default"),
    ]


def test_newer_in_groups_and_dependency_arrays() -> None:
    ours = POETRY_BASE.replace('pytest = "^8.0"', 'pytest = "^8.2"')
    theirs = POETRY_BASE.replace('pytest = "^8.0"', 'pytest = "^8.1"')
    assert "pytest = \"^8.2\"" in merged(POETRY_BASE, ours, theirs, "newer").text
    ours = PEP621_BASE.replace('"click>=8"', '"click>=8.2"').replace(
        'docs = ["sphinx>=7"]', 'docs = ["sphinx>=7.1"]').replace('"ruff"', '"ruff>=0.5"')
    theirs = PEP621_BASE.replace('"click>=8"', '"click>=8.1"').replace(
        'docs = ["sphinx>=7"]', 'docs = ["sphinx>=7.3"]').replace('"ruff"', '"ruff>=0.4"')
    result = merged(PEP621_BASE, ours, theirs, "newer")
    got = data(result.text)
    assert got["project"]["dependencies"][1] == "click>=8.2"
    assert got["project"]["optional-dependencies"]["docs"] == ["sphinx>=7.3"]
    assert got["dependency-groups"]["lint"] == ["ruff>=0.5"]
    assert [(c.path, c.chosen) for c in result.clashes] == [
        ("project.dependencies[click]", "ours"),
        ("project.optional-dependencies.docs[sphinx]", "theirs"),
        ("dependency-groups.lint[ruff]", "ours"),
    ]
    assert result.clashes[0].reason == "newer: click>=8.2 > click>=8.1"
    # different extras: theirs
    ours = PEP621_BASE.replace('"click>=8"', '"click[x]>=8.2"')
    result = merged(PEP621_BASE, ours, theirs, "newer")
    assert result.clashes[0].chosen == "theirs"
    assert result.clashes[0].reason == "not clearly newer, different extras: theirs by default"


def test_fail_still_fails_on_a_newer_clash() -> None:
    ours = POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^0.112"')
    theirs = POETRY_BASE.replace('fastapi = "^0.110"', 'fastapi = "^0.111"')
    with pytest.raises(MergeClash):
        merge_manifest(POETRY_BASE, ours, theirs, "fail")


# ------------------------- issue 15 item 1: the same package added to different tables

NBQA_BASE = """\
[tool.poetry]
name = "app"
version = "0.1.0"

[tool.poetry.dependencies]
python = ">=3.9"
requests = "^2.30"

[tool.poetry.group.dev.dependencies]
pytest = "^8"
"""


def test_same_package_added_to_different_tables_is_one_clash() -> None:
    ours = NBQA_BASE.replace('requests = "^2.30"\n', 'requests = "^2.30"\nnbqa = "^0.7.0"\n')
    theirs = NBQA_BASE + 'nbqa = { version = "^0.5", python = ">=3.6.1" }\n'
    for policy, kept in (("theirs", "dev"), ("newer", "dev"), ("ours", "main")):
        result = merged(NBQA_BASE, ours, theirs, policy)
        got = data(result.text)["tool"]["poetry"]
        in_main = "nbqa" in got["dependencies"]
        in_dev = "nbqa" in got["group"]["dev"]["dependencies"]
        assert (in_main, in_dev) == (kept == "main", kept == "dev"), policy
        (clash,) = result.clashes
        assert clash.path == ("tool.poetry.dependencies.nbqa (ours) / "
                              "tool.poetry.group.dev.dependencies.nbqa (theirs)")
        assert clash.chosen == ("ours" if kept == "main" else "theirs")
        assert clash.reason.startswith("both added it, to different tables; ")
    assert merged(NBQA_BASE, ours, theirs, "newer").clashes[0].reason == (
        "both added it, to different tables; not clearly newer, different python: "
        "theirs by default")
    with pytest.raises(MergeClash):
        merge_manifest(NBQA_BASE, ours, theirs, "fail")


def test_cross_table_addition_decided_by_newer_and_emptied_new_group_goes() -> None:
    ours = NBQA_BASE.replace('requests = "^2.30"\n', 'requests = "^2.30"\nnbqa = "^0.7.0"\n')
    theirs = NBQA_BASE + '\n[tool.poetry.group.lint.dependencies]\nnbqa = "^0.5"\n'
    result = merged(NBQA_BASE, ours, theirs, "newer")
    assert [(c.chosen, c.reason) for c in result.clashes] == [
        ("ours", "both added it, to different tables; newer: ^0.7.0 > ^0.5")]
    assert result.text == ours  # theirs' lint group existed only for nbqa
    # PEP 621 array against a Poetry group, and PEP 735 against PEP 621
    base = '[project]\nname = "a"\ndependencies = ["requests"]\n\n[dependency-groups]\ndev = []\n'
    ours = base.replace('["requests"]', '["requests", "nbqa>=0.7"]')
    theirs = base.replace("dev = []", 'dev = ["nbqa>=0.5"]')
    result = merged(base, ours, theirs, "theirs")
    assert data(result.text)["project"]["dependencies"] == ["requests"]
    assert data(result.text)["dependency-groups"]["dev"] == ["nbqa>=0.5"]
    assert result.clashes[0].path == ("project.dependencies[nbqa] (ours) / "
                                      "dependency-groups.dev[nbqa] (theirs)")
    result = merged(base, ours, theirs, "newer")
    assert data(result.text)["dependency-groups"]["dev"] == []


def test_cross_table_is_no_clash_when_it_is_not_both_new_or_not_different() -> None:
    ours = NBQA_BASE.replace('requests = "^2.30"\n', 'requests = "^2.30"\nnbqa = "^0.7"\n')
    same = NBQA_BASE + 'nbqa = "^0.7"\n'
    result = merged(NBQA_BASE, ours, same, "fail")  # same constraint in both: both kept
    assert "nbqa" in data(result.text)["tool"]["poetry"]["group"]["dev"]["dependencies"]
    # base already had it in one table: an ordinary (one-sided) change, no clash
    base = NBQA_BASE.replace('pytest = "^8"', 'pytest = "^8"\nnbqa = "^0.5"')
    result = merged(base, ours.replace('pytest = "^8"', 'pytest = "^8"\nnbqa = "^0.5"'),
                    base.replace('nbqa = "^0.5"', 'nbqa = "^0.6"'), "fail")
    assert result.clashes == ()
    # Poetry's main table and [project] dependencies are one table: no cross-table clash
    base = '[project]\nname = "a"\ndependencies = []\n\n[tool.poetry.dependencies]\npython = "^3.9"\n'
    ours = base.replace("dependencies = []", 'dependencies = ["nbqa>=0.7"]')
    theirs = base + 'nbqa = { source = "internal" }\n'
    assert merged(base, ours, theirs, "fail").clashes == ()
    # two-way merges cannot tell an addition: both kept
    ours = NBQA_BASE.replace('requests = "^2.30"\n', 'requests = "^2.30"\nnbqa = "^0.7"\n')
    result = merged(None, ours, NBQA_BASE + 'nbqa = "^0.5"\n', "fail")
    assert result.clashes == ()


# ----------------------------- issue 15 item 5: delete against modify of a whole table

MIGRATION_BASE = """\
[tool.poetry]
name = "app"
version = "0.1.0"
description = "An app"
authors = ["Team <team@example.com>"]

[tool.poetry.dependencies]
python = ">=3.9"
requests = "^2.30"
click = "^8.1"

[[tool.poetry.source]]
name = "local"
url = "http://127.0.0.1/simple/"
priority = "primary"

[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
"""

MIGRATED = """\
[project]
name = "app"
version = "0.1.0"
description = "An app"
authors = [{ name = "Team", email = "team@example.com" }]
requires-python = ">=3.9"
dependencies = ["requests (>=2.30,<3.0)", "click (>=8.1,<9.0)"]

[[tool.poetry.source]]
name = "local"
url = "http://127.0.0.1/simple/"
priority = "primary"

[build-system]
requires = ["poetry-core>=2.0.0"]
build-backend = "poetry.core.masonry.api"
"""


@pytest.mark.parametrize("policy", ["newer", "theirs", "ours"])
def test_migration_to_pep621_is_not_undone_by_a_one_line_edit(policy: str) -> None:
    theirs = MIGRATION_BASE.replace('requests = "^2.30"', 'requests = "^2.31"')
    result = merged(MIGRATION_BASE, MIGRATED, theirs, policy)
    assert result.text == MIGRATED
    assert result.clashes == (Clash(
        "tool.poetry.dependencies.requests", '"^2.30"', None, '"^2.31"', "ours",
        "ours deleted tool.poetry.dependencies; the edit inside it is dropped"),)
    # the other way round: the deletion is theirs, ours' edit is reported
    result = merged(MIGRATION_BASE, theirs, MIGRATED, policy)
    assert "dependencies" not in data(result.text)["tool"]["poetry"]
    assert "name" not in data(result.text)["tool"]["poetry"]
    assert [(c.path, c.chosen) for c in result.clashes] == [
        ("tool.poetry.dependencies.requests", "theirs")]


def test_whole_tool_table_deleted_reports_each_edit_at_its_deepest_key() -> None:
    ours = MIGRATED.replace(
        '[[tool.poetry.source]]\nname = "local"\nurl = "http://127.0.0.1/simple/"\n'
        'priority = "primary"\n\n', "")
    theirs = MIGRATION_BASE.replace('requests = "^2.30"', 'requests = "^2.31"\nrich = "^13"'
                                    ).replace('description = "An app"\n', "")
    result = merged(MIGRATION_BASE, ours, theirs, "theirs")
    assert result.text == ours
    assert [(c.path, c.base, c.theirs) for c in result.clashes] == [
        ("tool.poetry.dependencies.requests", '"^2.30"', '"^2.31"'),
        ("tool.poetry.dependencies.rich", None, '"^13"'),
    ]
    assert all(c.reason.startswith("ours deleted tool; ") for c in result.clashes)
    with pytest.raises(MergeClash):
        merge_manifest(MIGRATION_BASE, ours, theirs, "fail")


def test_deleted_dependency_spec_is_still_a_value_clash() -> None:
    """A dependency in table form is one value: delete against modify goes by policy."""
    ours = POETRY_BASE.replace('uvicorn = { version = "^0.29", extras = ["standard"] }\n', "")
    theirs = POETRY_BASE.replace('version = "^0.29"', 'version = "^0.30"')
    result = merged(POETRY_BASE, ours, theirs, "newer")
    assert [(c.path, c.chosen) for c in result.clashes] == [
        ("tool.poetry.dependencies.uvicorn", "theirs")]
    assert "uvicorn" in data(result.text)["tool"]["poetry"]["dependencies"]
    assert result.clashes[0].reason == "not clearly newer, ours: removed it: theirs by default"


# ------------------------------------------------------ issue 9 item 3: uv's tables

UV_BASE = """\
[project]
name = "app"
version = "0.1.0"
dependencies = ["requests>=2.30"]

[tool.uv]
dev-dependencies = ["pytest>=8"]
constraint-dependencies = ["urllib3<2"]
override-dependencies = ["idna==3.4"]

[tool.uv.workspace]
members = ["packages/*", "libs/core"]
exclude = ["packages/legacy"]

[tool.uv.sources]
core = { workspace = true }
Torch = [
    { index = "cpu", marker = "sys_platform != 'linux'" },
    { index = "cu124", marker = "sys_platform == 'linux'" },
]

[[tool.uv.index]]
name = "cpu"
url = "https://download.pytorch.org/whl/cpu"
explicit = true

[[tool.uv.index]]
name = "cu124"
url = "https://download.pytorch.org/whl/cu124"
explicit = true
"""


def test_uv_dependency_arrays_merge_by_package_name() -> None:
    ours = UV_BASE.replace('["pytest>=8"]', '["pytest>=8", "mypy>=1.9"]').replace(
        '["urllib3<2"]', '["urllib3<2", "certifi>=2024"]')
    theirs = UV_BASE.replace('["pytest>=8"]', '["pytest>=8.1", "ruff"]').replace(
        '["idna==3.4"]', '["idna==3.6"]')
    result = merged(UV_BASE, ours, theirs, "fail")
    uv = data(result.text)["tool"]["uv"]
    assert uv["dev-dependencies"] == ["pytest>=8.1", "ruff", "mypy>=1.9"]
    assert uv["constraint-dependencies"] == ["urllib3<2", "certifi>=2024"]
    assert uv["override-dependencies"] == ["idna==3.6"]
    # a two-sided change there is a dependency clash: newer decides
    ours = UV_BASE.replace('"pytest>=8"', '"pytest>=8.2"')
    theirs = UV_BASE.replace('"pytest>=8"', '"pytest>=8.1"')
    result = merged(UV_BASE, ours, theirs, "newer")
    assert [(c.path, c.chosen) for c in result.clashes] == [
        ("tool.uv.dev-dependencies[pytest]", "ours")]


def test_uv_workspace_globs_merge_as_sets() -> None:
    ours = UV_BASE.replace('["packages/*", "libs/core"]', '["libs/core", "packages/*", "tools/*"]')
    theirs = UV_BASE.replace('["packages/*", "libs/core"]', '["packages/*", "apps/*"]').replace(
        '["packages/legacy"]', '["packages/legacy", "packages/old"]')
    result = merged(UV_BASE, ours, theirs, "fail")
    workspace = data(result.text)["tool"]["uv"]["workspace"]
    # ours' order (with theirs' removal of libs/core), then theirs' additions
    assert workspace == {"members": ["packages/*", "tools/*", "apps/*"],
                         "exclude": ["packages/legacy", "packages/old"]}
    both = UV_BASE.replace('"libs/core"]', '"libs/core", "apps/*"]')
    result = merged(UV_BASE, both, both.replace('"packages/*", ', ""), "fail")
    assert data(result.text)["tool"]["uv"]["workspace"]["members"] == ["libs/core", "apps/*"]


def test_uv_sources_are_keyed_by_package_name() -> None:
    ours = UV_BASE.replace("core = { workspace = true }",
                           'core = { workspace = true }\nhttpx = { git = "https://x/httpx" }')
    theirs = UV_BASE.replace("Torch = [", "torch = [").replace("cu124", "cu126")
    result = merged(UV_BASE, ours, theirs, "fail")
    sources = data(result.text)["tool"]["uv"]["sources"]
    assert set(sources) == {"core", "httpx", "torch"}
    assert sources["torch"][1] == {"index": "cu126", "marker": "sys_platform == 'linux'"}
    assert 'httpx = { git = "https://x/httpx" }' in result.text
    # both changed one source differently: a clash named by the package, theirs by default
    ours = UV_BASE.replace("core = { workspace = true }", 'core = { path = "libs/core" }')
    theirs = UV_BASE.replace("core = { workspace = true }", 'core = { path = "../core" }')
    result = merged(UV_BASE, ours, theirs, "newer")
    assert [(c.path, c.chosen) for c in result.clashes] == [("tool.uv.sources.core.path", "theirs")]


def test_uv_indexes_are_keyed_by_name() -> None:
    ours = UV_BASE.replace('url = "https://download.pytorch.org/whl/cpu"\nexplicit = true',
                           'url = "https://download.pytorch.org/whl/cpu"\nexplicit = false')
    theirs = UV_BASE.replace(
        '[[tool.uv.index]]\nname = "cpu"\nurl = "https://download.pytorch.org/whl/cpu"\n'
        'explicit = true\n\n', "") + '\n[[tool.uv.index]]\nname = "internal"\nurl = "https://i/"\n'
    result = merged(UV_BASE, ours, theirs)
    # theirs deleted "cpu", ours changed it: a clash on the element; "internal" added
    assert [c.path for c in result.clashes] == ["tool.uv.index[cpu]"]
    assert [i["name"] for i in data(result.text)["tool"]["uv"]["index"]] == ["cu124", "internal"]
    # an index without a name is known by its URL
    base = '[[tool.uv.index]]\nurl = "https://a/"\n'
    result = merged(base, base + 'default = true\n',
                    base + '\n[[tool.uv.index]]\nurl = "https://b/"\n', "fail")
    assert data(result.text)["tool"]["uv"]["index"] == [
        {"url": "https://a/", "default": True}, {"url": "https://b/"}]
