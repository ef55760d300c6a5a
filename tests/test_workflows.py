"""The GitHub Actions workflows: valid (checked against GitHub's workflow schema, vendored by
check-jsonschema, offline), and running the README's commands, so the README, .ci/run and
the workflows never drift apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))


def readme_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def run_steps(path: Path) -> list[str]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        step["run"].strip()
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]


def test_there_is_a_test_workflow_and_a_pages_workflow():
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "pages.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_are_valid_github_actions_workflows(path):
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
         "vendor.github-workflows", str(path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_can_fail(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\non: push\njobs:\n  a:\n    steps: 3\n")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
         "vendor.github-workflows", str(bad)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0


def test_the_test_workflow_runs_what_ci_runs():
    assert run_steps(REPO_ROOT / ".github" / "workflows" / "ci.yml") == ["bash .ci/run"]
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert readme_commands()[1].split(" && ")[-1] in ci


def test_the_pages_workflow_builds_with_the_readmes_first_command_and_deploys_it():
    path = REPO_ROOT / ".github" / "workflows" / "pages.yml"
    assert run_steps(path) == [readme_commands()[0]]
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    uses = [s.get("uses", "") for job in workflow["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    upload = next(s for j in workflow["jobs"].values() for s in j["steps"]
                  if s.get("uses", "").startswith("actions/upload-pages-artifact"))  # fmt: skip
    assert upload["with"]["path"] == "_build/html"
