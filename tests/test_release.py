"""The release check: the sdist and the wheel as `python -m build` makes them (the wheel built from the sdist),
their contents, and the kit as users install it, each way the README gives: `pip install <wheel>` into a fresh
venv and `pipx install .`. Each install must run `kit demo` (the shipped notebook, end to end), `kit policy
check` and reach the notebooks for JupyterLab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VERSION = "0.2.0"  # what pyproject.toml says; test_version_has_one_home checks they agree

# The seed incident's authorization question as a contracts.md section 4 case: a user with no KMS permission,
# a key whose policy only delegates to IAM -> denied, no identity policy allows it.
CASE = {
    "principal_arn": "arn:aws:iam::111122223333:user/test",
    "action": "kms:CreateGrant",
    "resource": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "context": {"kms:GrantIsForAWSResource": "true", "kms:ViaService": "ec2.eu-west-1.amazonaws.com"},
    "identity_policies": [{"Version": "2012-10-17",
                           "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}],
    "resource_policy": {"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                                       "Action": "kms:*", "Resource": "*"}]},
}


def _clean_environment(**extra: str) -> dict[str, str]:
    """The process environment minus AWS settings and anything that would put the checkout on sys.path."""
    drop = ("AWS_", "PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_", "PIPX_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(drop)}
    return {**env, **extra}


def _run(command: list[str | Path], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel built by `python -m build` (the wheel from the sdist, which proves the sdist complete)."""
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, ROOT], cwd=out, env=_clean_environment())
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("ec2_kms_kit-*.whl")
    return wheel


def test_version_has_one_home() -> None:
    import tomllib

    import kit

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == VERSION
    assert kit.version() == VERSION
    assert f"## [{VERSION}]" in (ROOT / "CHANGELOG.md").read_text(), "the release has a changelog entry"
    assert "__version__ =" not in (ROOT / "kit" / "__init__.py").read_text(), "no second copy of the version"


def test_wheel_ships_notebooks_data_licence_and_types_but_no_tests_or_caches(dist: Path) -> None:
    wheel = _wheel(dist)
    assert wheel.name == f"ec2_kms_kit-{VERSION}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in ("kit/notebooks/investigate_instance.ipynb", "kit/py.typed", "kit/frames/schemas.json",
                    "kit/collect/readonly_operations.json", "kit/simulate/scenarios/seed.yaml",
                    "kit/diagnose/steps.yaml", "kit/report/findings.schema.json"):
        assert shipped in names, f"{shipped} is missing from the wheel"
    assert {f"ec2_kms_kit-{VERSION}.dist-info/licenses/{n}" for n in ("LICENSE", "NOTICE")} <= set(names)
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo")) or ".ipynb_checkpoints" in n]
    metadata = zipfile.ZipFile(wheel).read(f"ec2_kms_kit-{VERSION}.dist-info/METADATA").decode()
    assert "Name: ec2-kms-kit" in metadata and "License-Expression: Apache-2.0" in metadata
    entry_points = zipfile.ZipFile(wheel).read(f"ec2_kms_kit-{VERSION}.dist-info/entry_points.txt").decode()
    assert "kit = kit.cli:main" in entry_points


def test_sdist_carries_the_source_licence_and_notebook_but_no_local_state(dist: Path) -> None:
    (sdist,) = dist.glob("ec2_kms_kit-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = [n.split("/", 1)[1] for n in archive.getnames() if "/" in n]
    for shipped in ("pyproject.toml", "README.md", "LICENSE", "NOTICE", "kit/cli.py",
                    "kit/notebooks/investigate_instance.ipynb"):
        assert shipped in names, f"{shipped} is missing from the sdist"
    assert not [n for n in names if n.startswith((".venv/", ".git/", "reports/")) or "__pycache__" in n]


@pytest.mark.slow
def test_pip_install_of_the_wheel_gives_a_working_kit(dist: Path, tmp_path: Path) -> None:
    env = _clean_environment()
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path, env=env)
    bin_dir = venv / "bin"
    _run([bin_dir / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
          "-c", ROOT / "constraints.txt", _wheel(dist)], cwd=tmp_path, env=env)

    where = _run([bin_dir / "python", "-c", "import kit; print(kit.__file__)"], cwd=tmp_path, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), f"kit imported from {where}, not from the installed wheel"
    assert _run([bin_dir / "kit", "--version"], cwd=tmp_path, env=env).stdout.strip() == f"kit {VERSION} (ec2-kms-kit)"

    _check_demo_and_policy(bin_dir / "kit", tmp_path, env)
    copied = _run([bin_dir / "kit", "notebooks", "--copy", tmp_path / "my-notebooks"], cwd=tmp_path, env=env)
    assert "investigate_instance.ipynb" in copied.stdout
    notebook = json.loads((tmp_path / "my-notebooks" / "investigate_instance.ipynb").read_text())
    assert any("Investigation" in "".join(cell["source"]) for cell in notebook["cells"])
    assert _run([bin_dir / "jupyter", "lab", "--version"], cwd=tmp_path, env=env).stdout.strip()


@pytest.mark.slow
def test_pipx_install_of_the_checkout_gives_a_working_kit(tmp_path: Path) -> None:
    env = _clean_environment(PIPX_HOME=str(tmp_path / "pipx-home"), PIPX_BIN_DIR=str(tmp_path / "bin"),
                             PIPX_MAN_DIR=str(tmp_path / "man"), PIPX_DEFAULT_PYTHON=sys.executable)
    _run([sys.executable, "-m", "pipx", "install", "--include-deps",
          f"--pip-args=-c {ROOT / 'constraints.txt'} --disable-pip-version-check", ROOT], cwd=tmp_path, env=env)
    kit = tmp_path / "bin" / "kit"
    assert _run([kit, "--version"], cwd=tmp_path, env=env).stdout.strip() == f"kit {VERSION} (ec2-kms-kit)"
    _check_demo_and_policy(kit, tmp_path, env)
    assert (tmp_path / "bin" / "jupyter-lab").exists(), "--include-deps puts jupyter lab beside kit"


def _check_demo_and_policy(kit: Path, workdir: Path, env: dict[str, str]) -> None:
    out = workdir / "demo"
    _run([kit, "demo", "--out", out], cwd=workdir, env=env)
    assert json.loads((out / "findings.json").read_text())["verdict"]["cause"] == "kms-grant-denied"
    assert "Verdict" in (out / "report.html").read_text()
    case = workdir / "case.json"
    case.write_text(json.dumps(CASE))
    decision = json.loads(_run([kit, "policy", "check", case], cwd=workdir, env=env).stdout)
    assert (decision["decision"], decision["decided_by"]) == ("deny", "identity-policy")
