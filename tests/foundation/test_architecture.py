"""The arrows of DESIGN.md, checked on the code as it stands.

The import contracts live in ``.importlinter`` and are checked by
import-linter, the tool made for this; X's hostnames are checked by reading
the sources."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PLATFORM = ("accounts", "bots", "botplatform")
HOSTNAME = re.compile(r"\b(?:[a-z0-9-]+\.)*(?:x|twitter)\.com\b", re.IGNORECASE)


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


def test_every_import_contract_is_kept():
    result = lint_imports()
    contracts = re.findall(r"^(.+?) (KEPT|BROKEN)", result.stdout, re.MULTILINE)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    names = {name.strip() for name, _ in contracts}
    assert "accounts never imports bots" in names
    assert "nothing of the platform imports the sandbox" in names
    assert "the sandbox imports nothing of the platform" in names
    assert len(contracts) == 6 and all(verdict == "KEPT" for _, verdict in contracts)


def test_a_broken_arrow_is_reported(tmp_path):
    # The control: the same tool on the same code breaks a contract the code
    # does not keep (bots builds on accounts).
    config = tmp_path / "contracts.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    accounts\n    bots\n\n"
        "[importlinter:contract:control]\nname = bots never imports accounts\ntype = forbidden\n"
        "source_modules =\n    bots\nforbidden_modules =\n    accounts\n"
    )
    result = lint_imports("--config", str(config))
    assert result.returncode == 1
    assert "bots never imports accounts BROKEN" in result.stdout
    assert "bots.posting.publisher -> accounts.gateway" in result.stdout


def test_x_hostnames_are_named_in_one_module():
    found = {}
    for package in PLATFORM:
        for path in (ROOT / package).rglob("*"):
            if path.suffix not in (".py", ".html", ".js") or "migrations" in path.parts:
                continue
            hits = HOSTNAME.findall(path.read_text(encoding="utf-8"))
            if hits:
                found[str(path.relative_to(ROOT))] = sorted(set(hits))
    assert found.pop("accounts/x_hosts.py") == ["api.twitter.com", "api.x.com", "twitter.com", "x.com"]
    assert found == {}


ACCOUNT_WRITE = re.compile(
    r"XAccount\.objects\b[^\n]*\.(?:update|create|delete|bulk_create|bulk_update|get_or_create|update_or_create)\("
    r"|\baccount\.(?:save|delete|mark_needs_reauth)\("
    r"|\baccount\.(?:status|status_reason|rate_limited_until|workspace_id|workspace)\s*=[^=]"
)


def account_writes(package: str) -> dict[str, list[str]]:
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        hits = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if ACCOUNT_WRITE.search(line)]
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    return found


def test_bots_never_write_an_x_accounts_fields():
    # Account health (needs reconnecting, paused by a rate limit) is set through accounts' services.
    assert account_writes("bots") == {}
    # The control: the same scan finds the writes accounts makes.
    writes = account_writes("accounts")
    assert any(".update(" in line for line in writes["accounts/services.py"]), writes
