"""The install files agree with each other and keep their ranges bounded."""

from __future__ import annotations

from pathlib import Path

import tomllib
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def _requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in project["dependencies"] + extras]


def test_every_dependency_has_a_bounded_range():
    for requirement in _requirements():
        operators = {spec.operator for spec in requirement.specifier}
        assert operators & {">=", ">", "~="} and operators & {"<", "<=", "~="}, f"unbounded: {requirement}"
        assert "==" not in operators, f"pinned: {requirement} (use a range)"


def test_environment_yml_matches_pyproject():
    conda = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in ENVIRONMENT["dependencies"] if isinstance(d, dict))
    assert pip == ["-e .[dev]"], "environment.yml installs the package itself, with its dev extras"
    python = Requirement(next(d for d in conda if d.startswith("python")))
    assert python.specifier == Requirement("python" + PYPROJECT["project"]["requires-python"]).specifier
    assert "conda-forge" in ENVIRONMENT["channels"]
    assert any(d.startswith("fluidsynth") for d in conda), "conda supplies FluidSynth's library"
    pypi = {r.name.lower(): r.specifier for r in _requirements()}
    for dependency in conda:
        requirement = Requirement(dependency)
        if requirement.name.lower() in pypi:
            assert requirement.specifier == pypi[requirement.name.lower()], dependency


def test_ci_runs_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    for command in ("make install", "make test"):
        assert command in readme and command in ci
