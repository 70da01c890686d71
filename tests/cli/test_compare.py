"""`logbook report compare`: one HTML file, the same bytes for the same events, nothing while the views lag."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from logbook import read_models
from logbook.application import Logbook
from logbook.cli import main
from logbook.config import Settings
from logbook.demo import load_demo

SECRET = "s" * 40


def run(data_dir: Path, *args: str) -> tuple[int, str, str]:
    env = {"LOGBOOK_DATA_DIR": str(data_dir), "LOGBOOK_SECRET_KEY": SECRET, "DATABASE_URL": None}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=None, secret_key=SECRET.encode(), master_key=b"m" * 32)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo, projected."""
    data_dir = tmp_path_factory.mktemp("store")
    settings = settings_for(data_dir)
    with closing(Logbook(settings)) as app:
        load_demo(app, seed=7, contact_count=400, echo=lambda message: None, bulk=True)
    with closing(read_models.projector(settings, lambda: datetime(2026, 12, 1, tzinfo=timezone.utc))) as projector:
        projector.catch_up()
    return data_dir


def test_two_reports_of_the_same_events_are_the_same_bytes(store: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.html", tmp_path / "second.html"

    runs = [run(store, "report", "compare", "--by", "site", "--from", "2026-05-01", "--to", "2026-11-01T00:00:00+01:00",
                "--out", str(out)) for out in (first, second)]

    assert [(code, out) for code, out, _ in runs] == [(0, ""), (0, "")]
    assert "wrote" in runs[0][2] and "sha256:" in runs[0][2]
    assert first.read_bytes() == second.read_bytes()
    html = first.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Oostende" in html and "Brugge" in html
    assert "Contacts from 1 May 2026 up to, not including, 1 November 2026." in html
    assert not list(tmp_path.glob("*.partial"))


def test_it_refuses_while_the_read_model_lags_and_writes_nothing(tmp_path: Path) -> None:
    with closing(Logbook(settings_for(tmp_path / "store"))) as app:
        app.register_team(team_id="jac-brugge", name="JAC Brugge", organisation="caw-nwvl", site="Brugge",
                          service="jac")
    out = tmp_path / "report.html"

    code, stdout, err = run(tmp_path / "store", "report", "compare", "--by", "team", "--wait", "0.2",
                            "--out", str(out))

    assert code == 1
    assert stdout == ""
    assert "boundaries read model is at position 0 of" in err and "Nothing was written" in err
    assert not out.exists()


@pytest.mark.parametrize("args, fault", [
    (["--by", "rule"], "--by"),
    (["--by", "site", "--from", "May"], "--from"),
    (["--by", "site", "--from", "2026-05-01T10:00:00"], "--from"),
    (["--by", "site", "--from", "2026-06-01", "--to", "2026-05-01"], "--to"),
])
def test_a_bad_option_is_a_usage_error(store: Path, tmp_path: Path, args: list[str], fault: str) -> None:
    code, _, err = run(store, "report", "compare", *args, "--out", str(tmp_path / "report.html"))

    assert code == 2
    assert fault in err
    assert not (tmp_path / "report.html").exists()
