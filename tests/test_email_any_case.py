"""A player's e-mail is unique whatever its case (migration 0019): a self-excluded player
cannot register again as Foo@x.example beside foo@x.example (409 PLAYER_EXISTS, no player
made). On a database whose players already share an address but for its case, the
migration refuses, naming them, and changes nothing."""
import shutil
import uuid

import psycopg2
import pytest

from sql.migrate import MANIFEST_NAME, MIGRATIONS_DIR, migrate
from tests.databases import create_database
from tests.support import back_office, error_code

pytestmark = pytest.mark.usefixtures("clean_audit")


def register(api, username, email):
    return back_office(api, "POST", "players", {"username": username, "email": email})


def test_a_self_excluded_player_cannot_register_again_in_another_case(api, ledger):
    name = "ec-" + uuid.uuid4().hex[:10]
    first = register(api, name, f"{name}@casino.example")
    assert first.status_code == 201, first.text
    user_id = first.json()["userId"]
    excluded = back_office(api, "POST", f"players/{user_id}/exclusions", {"kind": "self-exclusion", "until": None})
    assert excluded.status_code == 201, excluded.text
    for email in (f"{name.upper()}@casino.example", f"{name}@CASINO.EXAMPLE", f"{name.capitalize()}@Casino.Example"):
        r = register(api, name + "-again", email)
        assert (r.status_code, error_code(r)) == (409, "PLAYER_EXISTS"), r.text
    assert ledger.query("SELECT count(*) FROM CASINO_USERS WHERE lower(email) = %s", f"{name}@casino.example") == [(1,)]
    assert ledger.query("SELECT count(*) FROM CASINO_USERS WHERE username = %s", name + "-again") == [(0,)]


def test_the_migration_refuses_players_who_already_share_an_address(tmp_path):
    before = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, before)
    (before / "0019_email_any_case.sql").unlink()
    manifest = before / MANIFEST_NAME
    manifest.write_text("".join(line for line in manifest.read_text().splitlines(keepends=True)
                                if not line.startswith("0019_")))
    dsn = create_database("email_case")
    migrate(dsn, directory=before, log=lambda _: None)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO CASINO_USERS (username, email) VALUES ('ann', 'Ann@x.example'),
                       ('ann2', 'ann@X.example'), ('bob', 'bob@x.example') RETURNING id""")
        ids = [row[0] for row in cur.fetchall()]
    with pytest.raises(Exception, match=rf"players share an e-mail but for its case: ann@x.example "
                                        rf"\(players {ids[0]}, {ids[1]}\)"):
        migrate(dsn, log=lambda _: None)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'casino_users_email_any_case'")
        assert cur.fetchone() == (0,)
        # The operator decides; then it applies.
        cur.execute("UPDATE CASINO_USERS SET email = 'ann.two@x.example' WHERE id = %s", (ids[1],))
    migrate(dsn, log=lambda _: None)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'casino_users_email_any_case'")
        assert cur.fetchone() == (1,)
    conn.close()
