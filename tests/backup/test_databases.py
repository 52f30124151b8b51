"""The small parts of a database's backup: the libpq environment made from
a SQLAlchemy URL, and the renaming of a schema in a restore script, which
must never touch the rows it copies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sceau.backup.databases import (
    _iso,
    libpq_environment,
    renamed_script,
    safe_url,
    tool_environment,
)
from sceau.backup.errors import BackupError

URL = (
    "postgresql+psycopg://sceau:s3cr%40t@db.example.ci:6432/sceau"
    "?options=-csearch_path%3Dt_live&sslmode=verify-full"
)


def test_the_url_becomes_libpq_variables_with_the_password_out_of_argv() -> None:
    env = libpq_environment(URL)

    assert env == {
        "PGHOST": "db.example.ci",
        "PGPORT": "6432",
        "PGUSER": "sceau",
        "PGPASSWORD": "s3cr@t",
        "PGDATABASE": "sceau",
        "PGSSLMODE": "verify-full",
    }
    assert "s3cr" not in safe_url(URL)


def test_a_renamed_script_renames_statements_and_leaves_rows_alone() -> None:
    script = [
        b"CREATE SCHEMA t_live;\n",
        b"CREATE TABLE t_live.signatures (\n",
        b"    id integer DEFAULT nextval('t_live.seq'::regclass) NOT NULL\n",
        b");\n",
        b"ALTER TABLE ONLY t_live.anchors ADD CONSTRAINT fk FOREIGN KEY (b) "
        b"REFERENCES t_live.anchor_batches(id);\n",
        b"COPY t_live.signatures (ref, reason) FROM stdin;\n",
        b'SIG-1\tMotif: voir t_live.signatures et "t_live".x\n',
        b"\\.\n",
        b"SELECT pg_catalog.setval('t_live.seq', 3, true);\n",
        b"CREATE TABLE not_t_live.other (x integer);\n",
    ]

    renamed = list(renamed_script(script, "t_live", "r_copy"))

    assert renamed == [
        b"CREATE SCHEMA r_copy;\n",
        b"CREATE TABLE r_copy.signatures (\n",
        b"    id integer DEFAULT nextval('r_copy.seq'::regclass) NOT NULL\n",
        b");\n",
        b"ALTER TABLE ONLY r_copy.anchors ADD CONSTRAINT fk FOREIGN KEY (b) "
        b"REFERENCES r_copy.anchor_batches(id);\n",
        b"COPY r_copy.signatures (ref, reason) FROM stdin;\n",
        b'SIG-1\tMotif: voir t_live.signatures et "t_live".x\n',
        b"\\.\n",
        b"SELECT pg_catalog.setval('r_copy.seq', 3, true);\n",
        b"CREATE TABLE not_t_live.other (x integer);\n",
    ]


def test_statements_are_renamed_outside_literals_comments_and_bodies_only() -> None:
    script = [
        b"-- Name: signatures; Type: TABLE; Schema: t_live; t_live.x\n",
        b"COMMENT ON TABLE t_live.acts IS 'voir t_live.acts, ''t_live.x''\n",
        b"et t_live.y sur deux lignes';\n",
        b"ALTER TABLE t_live.acts ADD CONSTRAINT c CHECK (kind <> 't_live.z');\n",
        b"CREATE FUNCTION t_live.f() RETURNS text AS $body$ SELECT 't_live.q' $body$\n",
        b'    LANGUAGE sql; SELECT $$ t_live.w $$, "t_live".acts, t_live$x.y;\n',
        b'CREATE INDEX ix ON "t_live".acts USING btree ("t_live.acts");\n',
        b"SELECT 'x''t_live.v''', nextval('\"t_live\".seq'::regclass);\n",
    ]

    renamed = list(renamed_script(script, "t_live", "r_copy"))

    assert renamed == [
        b"-- Name: signatures; Type: TABLE; Schema: t_live; t_live.x\n",
        b"COMMENT ON TABLE r_copy.acts IS 'voir t_live.acts, ''t_live.x''\n",
        b"et t_live.y sur deux lignes';\n",
        b"ALTER TABLE r_copy.acts ADD CONSTRAINT c CHECK (kind <> 't_live.z');\n",
        b"CREATE FUNCTION r_copy.f() RETURNS text AS $body$ SELECT 't_live.q' $body$\n",
        b"    LANGUAGE sql; SELECT $$ t_live.w $$, r_copy.acts, t_live$x.y;\n",
        b'CREATE INDEX ix ON r_copy.acts USING btree ("t_live.acts");\n',
        b"SELECT 'x''t_live.v''', nextval('r_copy.seq'::regclass);\n",
    ]


def test_a_copy_that_starts_inside_a_literal_is_not_taken_for_rows() -> None:
    script = [
        b"COMMENT ON TABLE t_live.a IS 'first line\n",
        b"COPY t_live.a (x) FROM stdin;\n",
        b"';\n",
        b"COPY t_live.a (x) FROM stdin;\n",
        b"t_live.a\n",
        b"\\.\n",
    ]

    renamed = list(renamed_script(script, "t_live", "r_copy"))

    assert renamed[1] == b"COPY t_live.a (x) FROM stdin;\n"
    assert renamed[3] == b"COPY r_copy.a (x) FROM stdin;\n"
    assert renamed[4] == b"t_live.a\n"


@pytest.mark.parametrize("name", ["T_live", "t-live", "sceau$x", "1st", "", 'a"b'])
def test_a_schema_name_other_than_lower_case_unquoted_is_refused(name: str) -> None:
    for source, target in ((name, "r_copy"), ("t_live", name)):
        with pytest.raises(BackupError, match="lower-case unquoted names only"):
            list(renamed_script([b"SELECT 1;\n"], source, target))


def test_the_tools_see_no_key_pin_or_password_of_the_service() -> None:
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/home/sceau",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "PGPASSFILE": "/home/sceau/.pgpass",
        "PGSSLROOTCERT": "/etc/ssl/db.pem",
        "PGHOST": "elsewhere",
        "PGPASSWORD": "not-this-one",
        "SCEAU_BACKUP_KEY": "secret-1",
        "SCEAU_MASTER_KEY": "secret-2",
        "SCEAU_PKCS11_PIN": "secret-3",
        "SCEAU_DATABASE_URL": URL,
        "AWS_SECRET_ACCESS_KEY": "secret-4",
    }

    env = tool_environment(URL, environ)

    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/sceau",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "PGPASSFILE": "/home/sceau/.pgpass",
        "PGSSLROOTCERT": "/etc/ssl/db.pem",
        **libpq_environment(URL),
    }


def test_stored_times_read_the_same_on_both_backends() -> None:
    on_sqlite = _iso("2026-12-04 09:00:00.123456")
    on_postgresql = _iso(datetime(2026, 12, 4, 9, 0, 0, 123456, tzinfo=UTC))

    assert on_sqlite == on_postgresql == "2026-12-04T09:00:00.123456Z"
