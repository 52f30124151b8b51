"""The small parts of a database's backup: the libpq environment made from
a SQLAlchemy URL, and the renaming of a schema in a restore script, which
must never touch the rows it copies."""

from __future__ import annotations

from sceau.backup.databases import libpq_environment, renamed_script, safe_url

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
