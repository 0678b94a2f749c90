"""A short soak in the test suite, only on request: KUZET_SOAK=1 (minutes: KUZET_SOAK_MINUTES)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.soak.run import run_soak

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("KUZET_SOAK", "").strip() != "1",
        reason="the soak runs only with KUZET_SOAK=1 (python -m tests.soak --minutes 30 is the"
        " release check; docs/reliability.md)",
    ),
    pytest.mark.skipif(shutil.which("mosquitto") is None, reason="the soak needs mosquitto"),
]


def test_soak_loses_nothing_and_notifies_once(tmp_path: Path) -> None:
    minutes = float(os.environ.get("KUZET_SOAK_MINUTES", "3"))
    result = run_soak(minutes, 10.0, tmp_path / "kuzet.log")
    # run_soak checks exactly-once storage and delivery itself; here: faults really happened
    assert len(result["faults"]) == 3, result
    assert result["stored"] == result["published"], result
