"""The package metadata in `pyproject.toml` agrees with itself and with its dependencies.

`requires-python` once said 3.10 while the `keras>=3.15.1` it depends on needs 3.11, so
`pip install keras-denoise` failed on Python 3.10 with an error about Keras. These tests read
the metadata as pip does and would have caught it.
"""

import functools
import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

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


# --- The built distributions ------------------------------------------------------------------
# The sdist once lacked the root `conftest.py`, so the test suite it ships failed with "fixture
# 'rng' not found"; the editable install the README's commands use cannot show such a gap.

REPOSITORY_ONLY = {".ci/run"}  # in the repository, deliberately not in the sdist


class _Built(NamedTuple):
    sdist: Path
    wheel: Path
    sources: set  # the files the build saw: tracked or untracked but not ignored, and present


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    """The sdist and the wheel, built from this checkout by hatchling offline, and its files."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an unpacked sdist, say): no file list to compare with")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "hatchling", "build", "-d", str(out)], cwd=ROOT,
                   capture_output=True, check=True)
    (sdist,), (wheel,) = out.glob("*.tar.gz"), out.glob("*.whl")
    return _Built(sdist, wheel, {name for name in listed if name and (ROOT / name).is_file()})


def test_the_sdist_holds_every_source_file_but_the_ci_script(distributions):
    with tarfile.open(distributions.sdist) as archive:
        names = {member.name.split("/", 1)[1] for member in archive.getmembers() if member.isfile()}
    expected = distributions.sources - REPOSITORY_ONLY
    assert "conftest.py" in names
    assert sorted(expected - names) == []
    assert sorted(names - expected) == ["PKG-INFO"]


def test_the_wheel_holds_the_package_its_data_and_the_console_script(distributions):
    with zipfile.ZipFile(distributions.wheel) as archive:
        names = set(archive.namelist())
        info = next(name.split("/")[0] for name in names if name.endswith(".dist-info/WHEEL"))
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    package = {name.removeprefix("src/") for name in distributions.sources
               if name.startswith("src/keras_denoise/")}
    assert {"keras_denoise/py.typed", "keras_denoise/data/sample_digits.npz"} <= package
    assert {name for name in names if not name.startswith(info)} == package
    assert {f"{info}/licenses/LICENSE", f"{info}/licenses/NOTICE"} <= names
    assert re.search(r"^keras-denoise = keras_denoise\._cli:main$", entry_points, re.MULTILINE)


def test_the_installed_wheel_works_outside_the_source_tree(distributions, tmp_path):
    # Installed on its own (no dependencies, nothing downloaded) and imported from elsewhere,
    # so that neither `src/` nor the editable install can stand in for a file the wheel lacks.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--target", str(target), str(distributions.wheel)],
                   capture_output=True, check=True)
    environment = {**os.environ, "PYTHONPATH": str(target), "TF_CPP_MIN_LOG_LEVEL": "2"}
    program = (
        "import json, keras_denoise\n"
        "from keras_denoise.datasets import load_sample_digits\n"
        "x_train, x_test = load_sample_digits()\n"
        "print(json.dumps({'file': keras_denoise.__file__, 'shapes': [x_train.shape, x_test.shape],"
        " 'version': keras_denoise.__version__}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=environment,
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert Path(found["file"]).is_relative_to(target)
    assert found["shapes"] == [[3000, 28, 28, 1], [600, 28, 28, 1]]
    script = target / "bin" / "keras-denoise"
    completed = subprocess.run([str(script), "--version"], cwd=tmp_path, env=environment,
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"keras-denoise {found['version']}"
