"""What `rails-mcp config` writes into a host's entry: paths that still work, no hidden secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from rails_mcp.hostconfig import choose_env


def test_a_relative_state_dir_is_written_as_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    env, notes = choose_env(["RAILS_STATE_DIR=shop/state"], include_secrets=False)
    assert env == {"RAILS_STATE_DIR": str(tmp_path / "shop" / "state")}
    assert any("made absolute" in n for n in notes)


def test_a_base_url_carrying_a_password_is_left_out_unless_secrets_are_asked_for():
    url = "https://user:hunter2@rails.example/"
    env, notes = choose_env([f"RAILS_BASE_URL={url}"], include_secrets=False)
    assert "RAILS_BASE_URL" not in env
    assert "hunter2" not in " ".join(notes)
    env, _ = choose_env([f"RAILS_BASE_URL={url}"], include_secrets=True)
    assert env["RAILS_BASE_URL"] == url
