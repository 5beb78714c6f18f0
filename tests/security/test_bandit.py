"""The static security linter finds nothing: every finding is fixed or
justified (bandit.yaml for whole checks, `# nosec <id>: why` on single lines)."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT


def test_bandit_reports_no_issue():
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-c", "bandit.yaml", "-r",
         "accounts", "bots", "botplatform", "xsandbox", "manage.py", "-f", "txt"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
