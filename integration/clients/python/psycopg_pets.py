#!/usr/bin/env python3
"""Streamlit's pets example and a few protocol checks through psycopg 3.

Usage: psycopg_pets.py [URL | HOST PORT DBNAME]
       (default: $XCONNPROXY_URL, else postgresql://postgres@127.0.0.1:6544/pets_db)

Prints one line per check and "N passed, M failed"; exits 1 on any failure.
PQTRACE=FILE appends libpq's protocol trace of every connection to FILE.
The SQL is valid for both SQLite (through xconnproxy) and PostgreSQL, so the
same run against a real PostgreSQL shows what the driver expects.
"""
import datetime
import os
import sys
import traceback

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus

DEFAULT_URL = "postgresql://postgres@127.0.0.1:6544/pets_db"


def conninfo_from_argv(argv):
    if len(argv) >= 4:
        host, port, db = argv[1:4]
        user = os.environ.get("PGUSER", "postgres")
        return f"postgresql://{user}@{host}:{port}/{db}"
    if len(argv) >= 2:
        return argv[1]
    return os.environ.get("XCONNPROXY_URL", DEFAULT_URL)


URL = conninfo_from_argv(sys.argv)
RESULTS = {"passed": 0, "failed": 0}


def check(fn):
    name = fn.__name__
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - every failure is reported
        RESULTS["failed"] += 1
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[0]
        sqlstate = getattr(exc, "sqlstate", None)
        print(f"FAIL {name}: {detail}" + (f" [SQLSTATE {sqlstate}]" if sqlstate else ""))
    else:
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    return fn


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


TRACE = open(os.environ["PQTRACE"], "a") if os.environ.get("PQTRACE") else None


def connect(**kw):
    # sslmode=disable: xconnproxy declines SSL anyway; this keeps the stream
    # readable when a protocol logger sits in between.
    conn = psycopg.connect(URL, sslmode="disable", **kw)
    if TRACE:  # PQTRACE=FILE: libpq's own protocol trace of every message
        conn.pgconn.trace(TRACE.fileno())
    return conn


PETS = [("jerry", "fish"), ("barbara", "cat"), ("alex", "puppy")]
PETS_SORTED = sorted(PETS)


@check
def server_identity():
    with connect(autocommit=True) as conn:
        expect(conn.info.server_version >= 150000, f"server_version {conn.info.server_version}")
        v = conn.execute("SELECT version()").fetchone()[0]
        expect(v.startswith("PostgreSQL "), f"version() = {v!r}")
        num = conn.execute("SELECT current_setting('server_version_num')").fetchone()[0]
        expect(int(num) >= 150000, f"server_version_num {num!r}")
        sch = conn.execute("SELECT current_schema()").fetchone()[0]
        expect(sch == "public", f"current_schema() = {sch!r}")
        scs = conn.execute("SHOW standard_conforming_strings").fetchone()[0]
        expect(scs == "on", f"standard_conforming_strings {scs!r}")


@check
def pets_transaction():
    with connect() as conn:  # autocommit off: psycopg sends BEGIN itself
        conn.execute("DROP TABLE IF EXISTS pet_owners")
        conn.execute("CREATE TABLE pet_owners (person TEXT, pet TEXT)")
        conn.commit()
        with conn.cursor() as cur:
            for person, pet in PETS:
                cur.execute("INSERT INTO pet_owners (person, pet) VALUES (%s, %s)", (person, pet))
                expect(cur.rowcount == 1, f"rowcount {cur.rowcount}")
            expect(conn.info.transaction_status == TransactionStatus.INTRANS,
                   f"status {conn.info.transaction_status!r}, want INTRANS")
        conn.commit()
        expect(conn.info.transaction_status == TransactionStatus.IDLE, "not idle after commit")
        with conn.cursor() as cur:
            cur.execute("SELECT person, pet FROM pet_owners ORDER BY person")
            rows = cur.fetchall()
            expect(rows == PETS_SORTED, f"rows {rows}")
            expect(cur.rowcount == 3, f"rowcount {cur.rowcount}")
            expect([d.name for d in cur.description] == ["person", "pet"], f"columns {cur.description}")
        conn.rollback()


@check
def pets_executemany_pipeline():
    # psycopg 3.1 sends executemany() in pipeline mode: several
    # Parse/Bind/Describe/Execute before one Sync.
    with connect() as conn:
        conn.execute("DROP TABLE IF EXISTS pet_owners_many")
        conn.execute("CREATE TABLE pet_owners_many (person TEXT, pet TEXT)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO pet_owners_many (person, pet) VALUES (%s, %s)", PETS)
        conn.commit()
        rows = conn.execute("SELECT person, pet FROM pet_owners_many ORDER BY person").fetchall()
        expect(rows == PETS_SORTED, f"rows {rows}")
        conn.rollback()


TRICKY = "O'Brien said \"hi\" \\ naïve café, 日本語, emoji 🐍"
BLOB = b"\x00\x01\x02'\\\xfe\xff"


@check
def typed_roundtrip():
    with connect(autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS typed_rt")
        conn.execute("CREATE TABLE typed_rt (id INTEGER, big BIGINT, r DOUBLE PRECISION,"
                     " t TEXT, b BYTEA, flag BOOLEAN, n TEXT)")
        rows_in = [
            (1, 2**40 + 7, 3.25, TRICKY, BLOB, True, None),
            (2, -5, -0.1, "", b"\x00", False, None),
        ]
        for row in rows_in:
            conn.execute("INSERT INTO typed_rt (id, big, r, t, b, flag, n)"
                         " VALUES (%s, %s, %s, %s, %s, %s, %s)", row)
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                cur.execute("SELECT id, big, r, t, b, flag, n FROM typed_rt ORDER BY id")
                got = cur.fetchall()
            got = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in got]
            expect(got == rows_in, f"binary={binary}: got {got!r}")
            expect(type(got[0][5]) is bool, f"boolean came back as {type(got[0][5])}")
        # parameters in WHERE clauses
        n = conn.execute("SELECT count(*) FROM typed_rt WHERE t = %s", (TRICKY,)).fetchone()[0]
        expect(n == 1, f"WHERE t = %s matched {n}")
        n = conn.execute("SELECT id FROM typed_rt WHERE flag = %s", (True,)).fetchall()
        expect(n == [(1,)], f"WHERE flag = true matched {n}")
        n = conn.execute("SELECT id FROM typed_rt WHERE big = %s", (2**40 + 7,)).fetchall()
        expect(n == [(1,)], f"WHERE big = %s matched {n}")
        n = conn.execute("SELECT id FROM typed_rt WHERE b = %s", (BLOB,)).fetchall()
        expect(n == [(1,)], f"WHERE b = %s matched {n}")
        n = conn.execute("SELECT id FROM typed_rt WHERE n IS NULL ORDER BY id").fetchall()
        expect(n == [(1,), (2,)], f"n IS NULL matched {n}")


@check
def date_timestamp_roundtrip():
    d = datetime.date(2024, 5, 1)
    ts = datetime.datetime(2024, 5, 1, 12, 30, 15, 123456)
    with connect(autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS dt_rt")
        conn.execute("CREATE TABLE dt_rt (id INTEGER, d DATE, ts TIMESTAMP)")
        conn.execute("INSERT INTO dt_rt (id, d, ts) VALUES (%s, %s, %s)", (1, d, ts))
        for binary in (False, True):
            got = conn.cursor(binary=binary).execute("SELECT d, ts FROM dt_rt WHERE id = 1").fetchone()
            expect(got == (d, ts), f"binary={binary}: got {got!r}")
        n = conn.execute("SELECT id FROM dt_rt WHERE d = %s AND ts = %s", (d, ts)).fetchall()
        expect(n == [(1,)], f"WHERE d = %s AND ts = %s matched {n}")


@check
def empty_bytea_roundtrip():
    with connect(autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS empty_bytea")
        conn.execute("CREATE TABLE empty_bytea (id INTEGER, b BYTEA)")
        # b"" with %s is sent as a zero-length *binary* bytea parameter (oid 17).
        conn.execute("INSERT INTO empty_bytea (id, b) VALUES (%s, %s)", (1, b""))
        got = conn.execute("SELECT b FROM empty_bytea WHERE id = 1").fetchone()[0]
        expect(got == b"", f"empty bytea came back as {got!r}")


@check
def error_in_transaction_then_rollback():
    with connect() as conn:
        conn.execute("INSERT INTO pet_owners (person, pet) VALUES (%s, %s)", ("zed", "ghost"))
        try:
            conn.execute("SELECT * FROM no_such_table_xcp")
            raise AssertionError("query on a missing table succeeded")
        except errors.UndefinedTable:
            pass
        expect(conn.info.transaction_status == TransactionStatus.INERROR,
               f"status {conn.info.transaction_status!r}, want INERROR")
        try:
            conn.execute("SELECT 1")
            raise AssertionError("statement in failed transaction succeeded")
        except errors.InFailedSqlTransaction:
            pass
        conn.rollback()
        expect(conn.info.transaction_status == TransactionStatus.IDLE, "not idle after rollback")
        n = conn.execute("SELECT count(*) FROM pet_owners WHERE person = %s", ("zed",)).fetchone()[0]
        expect(n == 0, f"rolled-back row is visible ({n})")
        rows = conn.execute("SELECT person FROM pet_owners ORDER BY person").fetchall()
        expect([r[0] for r in rows] == [p for p, _ in PETS_SORTED], f"rows {rows}")
        conn.rollback()


@check
def nested_transaction_savepoint():
    with connect(autocommit=True) as conn:
        with conn.transaction():
            conn.execute("INSERT INTO pet_owners (person, pet) VALUES (%s, %s)", ("sp_keep", "dog"))
            try:
                with conn.transaction():  # SAVEPOINT / ROLLBACK TO SAVEPOINT
                    conn.execute("INSERT INTO pet_owners (person, pet) VALUES (%s, %s)", ("sp_drop", "cat"))
                    conn.execute("SELECT * FROM no_such_table_xcp")
            except errors.UndefinedTable:
                pass
            expect(conn.info.transaction_status == TransactionStatus.INTRANS,
                   f"status after ROLLBACK TO SAVEPOINT {conn.info.transaction_status!r}")
        rows = conn.execute("SELECT person FROM pet_owners WHERE person LIKE 'sp_%' ORDER BY person").fetchall()
        expect(rows == [("sp_keep",)], f"rows {rows}")
        conn.execute("DELETE FROM pet_owners WHERE person LIKE 'sp_%'")


@check
def concurrent_read_transactions():
    # DB-API default (autocommit off): psycopg sends BEGIN before the first
    # statement, even a SELECT. Two such readers must not block each other.
    with connect() as a, connect() as b:
        na = a.execute("SELECT count(*) FROM pet_owners").fetchone()[0]
        expect(a.info.transaction_status == TransactionStatus.INTRANS, "a not in a transaction")
        nb = b.execute("SELECT count(*) FROM pet_owners").fetchone()[0]  # a still open
        expect(na == nb == 3, f"counts {na} {nb}")
        a.rollback()
        b.rollback()


@check
def unique_violation():
    with connect() as conn:
        conn.execute("DROP TABLE IF EXISTS uniq_xcp")
        conn.execute("CREATE TABLE uniq_xcp (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        conn.execute("INSERT INTO uniq_xcp (id, name) VALUES (%s, %s)", (1, "a"))
        conn.commit()
        try:
            conn.execute("INSERT INTO uniq_xcp (id, name) VALUES (%s, %s)", (1, "b"))
            raise AssertionError("duplicate key accepted")
        except errors.UniqueViolation as exc:
            expect(exc.sqlstate == "23505", f"sqlstate {exc.sqlstate}")
        conn.rollback()
        n = conn.execute("SELECT count(*) FROM uniq_xcp").fetchone()[0]
        expect(n == 1, f"count {n}")
        conn.rollback()


@check
def prepared_statement_reuse():
    # psycopg prepares server-side (named statement _pg3_N) once a query has
    # run prepare_threshold (5) times; run it 8 times plus one prepare=True.
    with connect(autocommit=True) as conn:
        for i in range(8):
            person, pet = PETS_SORTED[i % 3]
            got = conn.execute("SELECT pet FROM pet_owners WHERE person = %s", (person,)).fetchall()
            expect(got == [(pet,)], f"iteration {i}: {got}")
        got = conn.execute("SELECT count(*) FROM pet_owners WHERE person <> %s", ("nobody",),
                           prepare=True).fetchone()[0]
        expect(got == 3, f"prepare=True count {got}")


@check
def prepared_statement_then_rollback():
    # Once psycopg holds a server-side prepared statement, a ROLLBACK or a
    # "DROP ..." result makes it clear its cache with "DEALLOCATE ALL".
    with connect() as conn:
        for i in range(6):
            conn.execute("SELECT count(*) FROM pet_owners WHERE person <> %s", (f"x{i}",)).fetchone()
        conn.rollback()
        got = conn.execute("SELECT count(*) FROM pet_owners WHERE person <> %s", ("x",)).fetchone()[0]
        expect(got == 3, f"count after rollback {got}")
        conn.rollback()


@check
def set_show_roundtrip():
    with connect() as conn:
        conn.execute("SET application_name = 'psycopg_pets'")
        got = conn.execute("SHOW application_name").fetchone()[0]
        expect(got == "psycopg_pets", f"SHOW application_name = {got!r}")
        conn.rollback()  # SET inside a transaction is undone by ROLLBACK
        got = conn.execute("SELECT current_setting('application_name')").fetchone()[0]
        expect(got != "psycopg_pets", f"SET survived ROLLBACK: {got!r}")
        conn.rollback()


print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
sys.exit(1 if RESULTS["failed"] else 0)
