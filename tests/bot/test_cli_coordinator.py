"""``mestring team create`` and ``mestring invite`` as a coordinator uses them."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from dialogs.invites import InviteStatus, check_invite
from storage.clock import SystemClock
from storage.engine import create_engine, create_sessionmaker

from .test_cli import run

LINK = re.compile(r"^(participants|instructor): https://t\.me/mestring_test_bot\?start=([\w-]+)$",
                  re.MULTILINE)


def invite_status(tmp_path: Path, code: str) -> InviteStatus:
    async def look() -> InviteStatus:
        engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'mestring.sqlite3'}")
        try:
            async with create_sessionmaker(engine)() as session:
                return (await check_invite(session, code, SystemClock().now())).status
        finally:
            await engine.dispose()

    return asyncio.run(look())


def test_team_create_prints_deep_links_and_writes_qr_codes(tmp_path: Path) -> None:
    result = run(
        ["team", "create", "--municipality", "Køge", "--name", "Hold 3",
         "--first-session", "2027-03-11T19:00", "--webinar-url", "https://meet.example.org/h3",
         "--language", "da", "--qr-dir", str(tmp_path / "qr"), "--keep-holidays"],
        tmp_path, MESTRING_BOT_USERNAME="mestring_test_bot",
    )
    assert result.returncode == 0, result.stderr
    links = dict(LINK.findall(result.stdout))
    assert set(links) == {"participants", "instructor"}
    assert len(links["participants"]) >= 16  # ≥ 96 random bits
    assert invite_status(tmp_path, links["participants"]) is InviteStatus.OK
    # 19:00 local every week, across the change to summer time on 28 March; Maundy Thursday
    # is kept, and marked.
    assert result.stdout.count("19:00 CET") + result.stdout.count("19:00 CEST") == 6
    assert ("kept on a holiday: webinar 3: Thu 2027-03-25 19:00 – Maundy Thursday, "
            "Easter holiday (schools)") in result.stdout
    pngs = sorted(p.name for p in (tmp_path / "qr").glob("*.png"))
    assert len(pngs) == 2
    assert all((tmp_path / "qr" / name).read_bytes().startswith(b"\x89PNG") for name in pngs)


def test_invite_create_and_revoke(tmp_path: Path) -> None:
    env = {"MESTRING_BOT_USERNAME": "@mestring_test_bot"}
    created = run(["team", "create", "--municipality", "Halsnæs", "--name", "Hold 1",
                   "--first-session", "2027-01-07T19:00"], tmp_path, **env)
    assert created.returncode == 0, created.stderr
    made = run(["invite", "create", "--municipality", "Halsnæs", "--team", "Hold 1"],
               tmp_path, **env)
    assert made.returncode == 0, made.stderr
    (whom, code), = LINK.findall(made.stdout)
    assert whom == "participants"
    invite_id = re.search(r"invite (\d+);", made.stdout).group(1)
    revoked = run(["invite", "revoke", invite_id], tmp_path, **env)
    assert revoked.returncode == 0, revoked.stderr
    assert invite_status(tmp_path, code) is InviteStatus.REVOKED
    again = run(["invite", "revoke", invite_id], tmp_path, **env)
    assert again.returncode == 2
    assert "already revoked" in again.stderr


def test_a_team_for_an_unknown_municipality_or_without_a_username_is_refused(
    tmp_path: Path,
) -> None:
    missing = run(["invite", "create", "--municipality", "Nowhere", "--team", "X"], tmp_path,
                  MESTRING_BOT_USERNAME="mestring_test_bot")
    assert missing.returncode == 2
    assert "no municipality called 'Nowhere'" in missing.stderr
    no_name = run(["team", "create", "--municipality", "Køge", "--name", "H",
                   "--first-session", "2027-01-07T19:00"], tmp_path)
    assert no_name.returncode == 2
    assert "MESTRING_BOT_USERNAME" in no_name.stderr


def test_coordinator_grant_list_and_revoke(tmp_path: Path) -> None:
    env = {"MESTRING_BOT_USERNAME": "mestring_test_bot"}
    assert run(["team", "create", "--municipality", "Køge", "--name", "Hold 1",
                "--first-session", "2027-01-07T19:00"], tmp_path, **env).returncode == 0
    granted = run(["coordinator", "grant", "--municipality", "Køge"], tmp_path, **env)
    assert granted.returncode == 0, granted.stderr
    line = next(x for x in granted.stdout.splitlines() if x.startswith("coordinator (Køge): "))
    code = line.rsplit("=", 1)[1]
    assert invite_status(tmp_path, code) is InviteStatus.OK
    unknown = run(["coordinator", "grant", "--municipality", "Atlantis"], tmp_path, **env)
    assert unknown.returncode == 2
    assert "no municipality called 'Atlantis'" in unknown.stderr
    listed = run(["team", "list"], tmp_path, **env)
    assert listed.returncode == 0
    assert "Hold 1" in listed.stdout
    assert run(["coordinator", "list"], tmp_path, **env).returncode == 0
    missing = run(["coordinator", "revoke", "99"], tmp_path, **env)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


def test_an_impossible_bot_username_is_one_line(tmp_path: Path) -> None:
    result = run(["team", "create", "--municipality", "Køge", "--name", "H",
                  "--first-session", "2027-01-07T19:00"], tmp_path, MESTRING_BOT_USERNAME="ab")
    assert result.returncode == 2
    assert result.stderr.startswith("mestring: MESTRING_BOT_USERNAME 'ab' is not a bot username")
    assert "Traceback" not in result.stderr


def test_qr_codes_of_invites_are_private_files_whatever_the_municipality_is_called(
    tmp_path: Path,
) -> None:
    env = {"MESTRING_BOT_USERNAME": "mestring_test_bot"}
    created = run(["team", "create", "--municipality", "Køge/Nord", "--name", "Hold 1",
                   "--first-session", "2027-01-07T19:00", "--country", "DK"], tmp_path, **env)
    assert created.returncode == 0, created.stderr
    posters = tmp_path / "posters"
    granted = run(["coordinator", "grant", "--municipality", "Køge/Nord", "--qr", str(posters)],
                  tmp_path, **env)
    assert granted.returncode == 0, granted.stderr
    (png,) = posters.iterdir()
    assert png.read_bytes().startswith(b"\x89PNG")
    # A coordinator invite is a live key to a municipality's research data.
    assert png.stat().st_mode & 0o777 == 0o600
    assert f"QR code: {png}" in granted.stdout


def test_an_unwritable_qr_folder_is_refused_before_any_invite_is_made(tmp_path: Path) -> None:
    env = {"MESTRING_BOT_USERNAME": "mestring_test_bot"}
    created = run(["team", "create", "--municipality", "Køge", "--name", "Hold 1",
                   "--first-session", "2027-01-07T19:00"], tmp_path, **env)
    assert created.returncode == 0, created.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    refused = run(["coordinator", "grant", "--municipality", "Køge", "--qr",
                   str(blocker / "qr")], tmp_path, **env)
    assert refused.returncode == 2
    assert refused.stderr.startswith("mestring: cannot write QR codes into")
    assert refused.stderr.count("\n") == 1
    made = run(["invite", "create", "--municipality", "Køge", "--team", "Hold 1",
                "--qr", str(blocker / "qr")], tmp_path, **env)
    assert made.returncode == 2
    # The only invites are the two the team was created with (ids 1 and 2).
    later = run(["invite", "create", "--municipality", "Køge", "--team", "Hold 1"],
                tmp_path, **env)
    assert "(invite 3;" in later.stdout, later.stdout


def test_team_create_over_christmas_flags_the_24th_and_31st_and_saves_nothing_unasked(
    tmp_path: Path,
) -> None:
    env = {"MESTRING_BOT_USERNAME": "mestring_test_bot"}
    args = ["team", "create", "--municipality", "Køge", "--name", "Juleholdet",
            "--first-session", "2027-12-10T19:00"]
    asked = run(args, tmp_path, **env)
    assert asked.returncode == 2
    assert asked.stdout.splitlines() == [
        "webinar 3: Fri 2027-12-24 19:00 – Christmas Eve, Christmas holiday (schools)",
        "webinar 4: Fri 2027-12-31 19:00 – New Year's Eve, Christmas holiday (schools)",
    ]
    assert asked.stderr == (
        "mestring: 2 webinar(s) fall on holidays, so nothing was saved: run again with "
        "--skip-holidays (those weeks are left out and the course runs over 8 weeks) or "
        "--keep-holidays\n")
    assert "Juleholdet" not in run(["team", "list"], tmp_path, **env).stdout
    assert "Køge" not in run(["team", "list"], tmp_path, **env).stdout  # not even the town

    both = run([*args, "--skip-holidays", "--keep-holidays"], tmp_path, **env)
    assert both.returncode == 2
    assert "choose one of" in both.stderr

    skipped = run([*args, "--skip-holidays"], tmp_path, **env)
    assert skipped.returncode == 0, skipped.stderr
    dates = re.findall(r"\d{4}-\d{2}-\d{2} 19:00", skipped.stdout)
    assert [d[:10] for d in dates] == [
        "2027-12-10", "2027-12-17", "2028-01-07", "2028-01-14", "2028-01-21", "2028-01-28"]
    assert "skipped the week of 2027-12-24: Christmas Eve" in skipped.stdout
    assert "skipped the week of 2027-12-31: New Year's Eve" in skipped.stdout

    kept = run([*args[:5], "Nytårsholdet", *args[6:], "--keep-holidays"], tmp_path, **env)
    assert kept.returncode == 0, kept.stderr
    dates = re.findall(r"\d{4}-\d{2}-\d{2} 19:00", kept.stdout)
    assert "2027-12-24 19:00" in dates
    assert "2027-12-31 19:00" in dates
    assert "kept on a holiday: webinar 3: Fri 2027-12-24 19:00 – Christmas Eve" in kept.stdout
