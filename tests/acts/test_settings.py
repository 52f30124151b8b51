"""The acts' settings: read from the environment, refused when inconsistent."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sceau.settings import Settings


def test_reminder_hours_read_as_a_list_latest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCEAU_ACT_REMINDER_HOURS", "2, 48,24")

    assert Settings().act_reminder_hours == [48.0, 24.0, 2.0]


def test_inconsistent_act_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(act_default_days=30, act_max_days=10)
    with pytest.raises(ValidationError):
        Settings(act_reminder_hours=[0])
