"""The install files agree with each other, and the version lives in one place."""

import re

try:
    import tomllib  # novermin: the except branch below covers Python 3.10
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import yaml

import segedu

# conda-forge spells a few packages differently from PyPI.
CONDA_NAMES = {"torch": "pytorch"}


def _split(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower(), spec.replace(" ", "")


def test_environment_yml_lists_the_same_packages_and_ranges_as_pyproject(repo_root):
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    wanted = [project["dependencies"], *project["optional-dependencies"].values()]
    pip_side = dict(_split(requirement) for group in wanted for requirement in group)
    environment = yaml.safe_load((repo_root / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
    conda_side = dict(
        _split(entry) for entry in environment["dependencies"] if isinstance(entry, str) and entry != "pip"
    )
    assert conda_side.pop("python") == project["requires-python"]
    expected = {CONDA_NAMES.get(name, name): spec for name, spec in pip_side.items()}
    assert conda_side == expected
    pip_entries = [entry for entry in environment["dependencies"] if isinstance(entry, dict)]
    assert pip_entries == [{"pip": ["-e ."]}]


def test_local_pins_satisfy_the_package_ranges(repo_root):
    from packaging.requirements import Requirement

    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    ranges = {Requirement(r).name: Requirement(r).specifier for r in project["dependencies"]}
    lines = (repo_root / "requirements" / "local.txt").read_text().splitlines()
    pins = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert {pin.name for pin in pins} == {"torch", "torchvision"}
    for pin in pins:
        version = str(pin.specifier).removeprefix("==")
        assert version in ranges[pin.name], f"{pin} is outside the package's range {ranges[pin.name]}"


def test_package_ranges_admit_colab(repo_root):
    from packaging.requirements import Requirement

    colab = {"torch": "2.11.0", "torchvision": "0.26.0", "ipywidgets": "7.7.1", "matplotlib": "3.10.0"}
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]
    for line in project["dependencies"]:
        requirement = Requirement(line)
        if requirement.name in colab:
            assert colab[requirement.name] in requirement.specifier, requirement


def test_version_has_one_home(repo_root):
    pyproject = (repo_root / "pyproject.toml").read_text()
    assert 'version = { attr = "segedu.__version__" }' in pyproject
    assert re.fullmatch(r"\d+\.\d+\.\d+", segedu.__version__)
    from importlib import metadata

    assert metadata.version("segedu") == segedu.__version__


def test_readme_gives_the_two_commands(repo_root):
    readme = (repo_root / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    ci = (repo_root / ".ci" / "run").read_text()
    assert "make test" in ci
