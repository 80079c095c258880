"""The hardened systemd unit under contrib/: systemd's own checker accepts it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "coffer-vault.service"


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    coffer = Path(sys.executable).with_name("coffer")
    assert coffer.exists()
    copy = tmp_path / UNIT.name  # verify insists that ExecStart's binary exists: use ours
    copy.write_text(UNIT.read_text().replace("/usr/local/bin/coffer", str(coffer)))
    return copy


def test_unit_verifies_cleanly(unit: Path) -> None:
    out = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.strip() == "" and out.stderr.strip() == "", out


def test_unit_is_hardened(unit: Path) -> None:
    out = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out.stdout)
    assert match, out.stdout[-500:] + out.stderr
    assert float(match.group(1)) <= 2.0  # systemd calls < 2 "OK"; a default service is ~9.6
    text = UNIT.read_text()
    assert "LoadCredentialEncrypted=coffer-vault-pkcs11-pin" in text  # the PIN's documented way
    assert "--tls-cert" in text
