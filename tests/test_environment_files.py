"""requirements.txt and environment.yml describe the same environment; torch pins a matching pair."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def requirement_lines() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_environment_yml_pip_list_equals_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == requirement_lines()
    assert "python>=3.11" in env["dependencies"]


def test_torch_pair_is_pinned_and_the_rest_have_lower_bounds():
    reqs = requirement_lines()
    assert "torch==2.14.1" in reqs and "torchvision==0.29.1" in reqs
    others = [r for r in reqs if not r.startswith("torch")]
    assert others and all(">=" in r for r in others)


def test_core_packages_are_required():
    names = {r.split("=")[0].split(">")[0] for r in requirement_lines()}
    assert {"jupyterlab", "ipywidgets", "torch", "matplotlib", "seaborn", "nbval", "scikit-learn",
            "torchvision", "tqdm", "pandas"} <= names
