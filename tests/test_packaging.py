"""The package metadata in `pyproject.toml` agrees with itself and with its dependencies.

`requires-python` once said 3.10 while the `keras>=3.15.1` it depends on needs 3.11, so
`pip install keras-denoise` failed on Python 3.10 with an error about Keras. These tests read
the metadata as pip does and would have caught it.
"""

import functools
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
CI_SCRIPT = ROOT / ".ci" / "run"
CLASSIFIER_PREFIX = "Programming Language :: Python :: "


@functools.cache
def _project() -> dict:
    with PYPROJECT.open("rb") as file:
        return tomllib.load(file)["project"]


def _classified_pythons() -> list:
    """The `major.minor` Python versions the classifiers name, in order."""
    versions = []
    for classifier in _project()["classifiers"]:
        if classifier.startswith(CLASSIFIER_PREFIX):
            version = classifier.removeprefix(CLASSIFIER_PREFIX)
            if version.count(".") == 1:
                versions.append(Version(version))
    return sorted(versions)


def _lowest_python() -> Version:
    return _classified_pythons()[0]


def _core_dependencies() -> list:
    return [Requirement(line) for line in _project()["dependencies"]]


def _declared_minimum(requirement: Requirement) -> Version | None:
    floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    return max(floors, default=None)


def test_the_classifiers_name_consecutive_python_versions():
    versions = _classified_pythons()
    assert len(versions) >= 2
    minors = [version.minor for version in versions]
    assert minors == list(range(minors[0], minors[0] + len(minors)))


def test_requires_python_allows_every_classified_version():
    requires = SpecifierSet(_project()["requires-python"])
    for version in _classified_pythons():
        assert requires.contains(version), (str(requires), str(version))


def test_requires_python_starts_at_the_lowest_classified_version():
    requires = SpecifierSet(_project()["requires-python"])
    lowest = _lowest_python()
    below = Version(f"{lowest.major}.{lowest.minor - 1}")
    assert requires.contains(lowest)
    assert not requires.contains(below), (str(requires), str(below))


def test_ci_tests_the_newest_classified_python():
    if not CI_SCRIPT.exists():
        pytest.skip("the CI script is in the repository only, not in the sdist")
    match = re.search(r"^newest_python=(\S+)$", CI_SCRIPT.read_text(), flags=re.MULTILINE)
    assert match is not None
    assert Version(match.group(1)) == _classified_pythons()[-1]


@pytest.mark.parametrize(
    "requirement", _core_dependencies(), ids=lambda requirement: requirement.name
)
def test_each_core_dependency_installs_on_the_lowest_python(requirement):
    # Only the installed release's metadata is at hand (nothing is downloaded). Its floor
    # for Python allowing ours settles it: releases raise their floors, never lower them. If
    # it does not, that is decisive only for the lowest release we allow; for a newer one,
    # pip would pick an older release on the lowest Python.
    distribution = metadata.distribution(requirement.name)
    installed = Version(distribution.version)
    theirs = SpecifierSet(distribution.metadata.get("Requires-Python") or "")
    lowest = _lowest_python()
    if not theirs.contains(lowest) and installed != _declared_minimum(requirement):
        pytest.skip(
            f"{requirement.name} {installed} needs Python {theirs}, but it is newer than "
            f"the lowest release allowed ({requirement}), so this proves nothing"
        )
    message = (
        f"{requirement.name} {installed}, the lowest release that {requirement} allows, "
        f"requires Python {theirs}, but keras-denoise claims Python {lowest}"
    )
    assert theirs.contains(lowest), message
