"""`make demo` tells the whole story, on this machine, with nothing outside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import ROOT


@pytest.mark.starts_early
def test_the_demo_runs_the_whole_flow_and_its_repair(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    story = [
        "Approval needed",  # the approver's card
        "[Approve]  [Deny]",
        "was approved",  # the requester hears it
        "<Key>",  # the Key and Secret form
        "[Authorize]",  # the owner's direct message
        "Bitbucket Cloud is connected to Terraform organization acme-infra",
        "connection of acme-infra is broken",
        "works again",
        "The whole flow in",
    ]
    positions = [out.find(line) for line in story]
    assert all(p >= 0 for p in positions), dict(zip(story, positions, strict=True))
    assert positions == sorted(positions), dict(zip(story, positions, strict=True))
    assert "fakeSecretDoNotUse" not in out  # the secret goes to Terraform only
    assert "Traceback" not in result.stderr
