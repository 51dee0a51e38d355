#!/usr/bin/env python3
"""Streamlit's pets example through SQLAlchemy (what st.connection(type="sql") uses).

Usage: sqlalchemy_pets.py [URL | HOST PORT DBNAME]
       (default: $XCONNPROXY_URL, else postgresql://postgres@127.0.0.1:6544/pets_db)

The engine uses the psycopg 3 dialect, postgresql+psycopg:// (SQLAlchemy 2.x).
SQLAlchemy 1.4 (Debian bookworm's python3-sqlalchemy) has no such dialect; the
script then says so, falls back to postgresql+psycopg2:// when psycopg2 is
installed, and replays with psycopg 3 the statements SQLAlchemy 2.x's psycopg
dialect sends on first connect (check sa2_psycopg_first_connect), so that
path is still covered. SQLALCHEMY_DIALECT=psycopg2 forces the fallback.

Prints one line per check and "N passed, M failed"; exits 1 on any failure.
SQLALCHEMY_ECHO=1 logs every statement SQLAlchemy sends.
"""
import datetime
import gc
import importlib.util
import os
import re
import sys
import traceback

import sqlalchemy
from sqlalchemy import create_engine, exc as sa_exc, text

DEFAULT_URL = "postgresql://postgres@127.0.0.1:6544/pets_db"


def url_from_argv(argv):
    if len(argv) >= 4:
        host, port, db = argv[1:4]
        user = os.environ.get("PGUSER", "postgres")
        return f"postgresql://{user}@{host}:{port}/{db}"
    if len(argv) >= 2:
        return argv[1]
    return os.environ.get("XCONNPROXY_URL", DEFAULT_URL)


BASE_URL = url_from_argv(sys.argv)
PLAIN_URL = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", BASE_URL)
RESULTS = {"passed": 0, "failed": 0}


def sqlstate_of(exc):
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def check(fn):
    name = fn.__name__
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - every failure is reported
        RESULTS["failed"] += 1
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[0]
        state = sqlstate_of(exc)
        print(f"FAIL {name}: {detail}" + (f" [SQLSTATE {state}]" if state else ""))
        if os.environ.get("PETS_TRACE"):
            traceback.print_exc()
    else:
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    return fn


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def make_engine(**kw):
    wanted = os.environ.get("SQLALCHEMY_DIALECT", "psycopg")
    for driver in ([wanted] if wanted == "psycopg2" else ["psycopg", "psycopg2"]):
        url = PLAIN_URL.replace("postgresql://", f"postgresql+{driver}://", 1)
        try:
            engine = create_engine(url, connect_args={"sslmode": "disable"},
                                   echo=bool(os.environ.get("SQLALCHEMY_ECHO")), **kw)
        except (sa_exc.NoSuchModuleError, ImportError) as exc:
            if not kw:
                print(f"note: SQLAlchemy {sqlalchemy.__version__}: postgresql+{driver}:// unavailable ({exc})")
            continue
        if not kw:
            print(f"note: SQLAlchemy {sqlalchemy.__version__}, dialect postgresql+{driver}")
        return engine, driver
    return None, None


ENGINE, DRIVER = make_engine()
PETS = [("jerry", "fish"), ("barbara", "cat"), ("alex", "puppy")]
PETS_SORTED = sorted(PETS)


@check
def engine_created():
    expect(ENGINE is not None, "no usable PostgreSQL dialect (need SQLAlchemy 2.x or psycopg2)")


if DRIVER != "psycopg" and importlib.util.find_spec("psycopg") is not None:
    @check
    def sa2_psycopg_first_connect():
        # What SQLAlchemy 2.x's postgresql+psycopg dialect runs on its first
        # connection (PGDialect.initialize, then PGDialect_psycopg.initialize
        # with use_native_hstore=True), replayed with psycopg 3 itself.
        import psycopg
        from psycopg.types import TypeInfo
        with psycopg.connect(PLAIN_URL, sslmode="disable") as conn:
            v = conn.execute("select pg_catalog.version()").fetchone()[0]
            expect(re.match(r"PostgreSQL \d+", v), f"version {v!r}")
            conn.execute("select current_schema()").fetchone()
            scs = conn.execute("show standard_conforming_strings").fetchone()[0]
            expect(scs == "on", f"standard_conforming_strings {scs!r}")
            conn.execute("show transaction isolation level").fetchone()
            conn.rollback()
            # psycopg's TypeInfo.fetch: "... FROM pg_type t WHERE t.oid = %(name)s::regtype";
            # it returns None on 42704 (undefined_object), and re-raises anything else.
            info = TypeInfo.fetch(conn, "hstore")
            expect(info is None, f"hstore type info {info!r}")


@check
def connect_and_initialize():
    # The first connect runs the dialect's on_connect hooks and initialize():
    # version, current schema, standard_conforming_strings, isolation level,
    # and (use_native_hstore=True, the default) an hstore lookup in pg_type.
    global ENGINE
    failure = None
    try:
        with ENGINE.connect() as conn:
            info = ENGINE.dialect.server_version_info
            expect(info and info[0] >= 15, f"server_version_info {info}")
            expect(ENGINE.dialect.default_schema_name == "public", f"schema {ENGINE.dialect.default_schema_name}")
            expect(conn.execute(text("SELECT 1")).scalar() == 1, "SELECT 1")
    except Exception as exc:  # noqa: BLE001
        state = sqlstate_of(exc)
        failure = str(exc).splitlines()[0] + (f" [SQLSTATE {state}]" if state else "")
    if failure:
        # Go on with use_native_hstore=False (no pg_type lookup) so that the
        # remaining checks still run. The failed connect leaves its DBAPI
        # connection open inside a transaction until it is garbage-collected
        # (xconnproxy then holds its write lock), so collect it first.
        ENGINE.dispose()
        gc.collect()
        ENGINE, _ = make_engine(use_native_hstore=False)
        print("note: the remaining checks use create_engine(..., use_native_hstore=False)")
        raise AssertionError(failure)


@check
def pets_transaction():
    with ENGINE.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS pet_owners"))
        conn.execute(text("CREATE TABLE pet_owners (person TEXT, pet TEXT)"))
    with ENGINE.begin() as conn:  # one transaction, committed at the end
        for person, pet in PETS:
            conn.execute(text("INSERT INTO pet_owners (person, pet) VALUES (:person, :pet)"),
                         {"person": person, "pet": pet})
    with ENGINE.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT person, pet FROM pet_owners ORDER BY person"))]
        expect(rows == PETS_SORTED, f"rows {rows}")


@check
def pets_executemany():
    with ENGINE.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS pet_owners_many"))
        conn.execute(text("CREATE TABLE pet_owners_many (person TEXT, pet TEXT)"))
        conn.execute(text("INSERT INTO pet_owners_many (person, pet) VALUES (:person, :pet)"),
                     [{"person": p, "pet": q} for p, q in PETS])
    with ENGINE.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text("SELECT person, pet FROM pet_owners_many ORDER BY person"))]
        expect(rows == PETS_SORTED, f"rows {rows}")


TRICKY = "O'Brien said \"hi\" \\ naïve café, 日本語, emoji 🐍 100%"
BLOB = b"\x00\x01\x02'\\\xfe\xff"


@check
def typed_roundtrip():
    rows_in = [
        {"id": 1, "big": 2**40 + 7, "r": 3.25, "t": TRICKY, "flag": True, "n": None},
        {"id": 2, "big": -5, "r": -0.1, "t": "", "flag": False, "n": None},
    ]
    with ENGINE.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS typed_rt"))
        conn.execute(text("CREATE TABLE typed_rt (id INTEGER, big BIGINT, r DOUBLE PRECISION,"
                          " t TEXT, b BYTEA, flag BOOLEAN, n TEXT)"))
        for row in rows_in:
            conn.execute(text("INSERT INTO typed_rt (id, big, r, t, flag, n)"
                              " VALUES (:id, :big, :r, :t, :flag, :n)"), row)
    with ENGINE.connect() as conn:
        got = [dict(r._mapping) for r in conn.execute(
            text("SELECT id, big, r, t, flag, n FROM typed_rt ORDER BY id"))]
        expect(got == rows_in, f"rows {got!r}")
        expect(type(got[0]["flag"]) is bool, f"flag type {type(got[0]['flag'])}")
        ids = conn.execute(text("SELECT id FROM typed_rt WHERE t = :t AND flag = :f"),
                           {"t": TRICKY, "f": True}).scalars().all()
        expect(ids == [1], f"WHERE t = :t AND flag = :f matched {ids}")


@check
def bytea_roundtrip():
    with ENGINE.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS blob_rt"))
        conn.execute(text("CREATE TABLE blob_rt (id INTEGER, b BYTEA)"))
        conn.execute(text("INSERT INTO blob_rt (id, b) VALUES (:id, :b)"), {"id": 1, "b": BLOB})
    with ENGINE.connect() as conn:
        got = conn.execute(text("SELECT b FROM blob_rt WHERE id = 1")).scalar()
        expect(bytes(got) == BLOB, f"b {got!r}")


@check
def date_timestamp_roundtrip():
    d = datetime.date(2024, 5, 1)
    ts = datetime.datetime(2024, 5, 1, 12, 30, 15, 123456)
    with ENGINE.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS dt_rt"))
        conn.execute(text("CREATE TABLE dt_rt (id INTEGER, d DATE, ts TIMESTAMP)"))
        conn.execute(text("INSERT INTO dt_rt (id, d, ts) VALUES (:id, :d, :ts)"), {"id": 1, "d": d, "ts": ts})
    with ENGINE.connect() as conn:
        got = tuple(conn.execute(text("SELECT d, ts FROM dt_rt WHERE id = 1")).one())
        expect(got == (d, ts), f"got {got!r}")


@check
def error_in_transaction_then_rollback():
    with ENGINE.connect() as conn:
        trans = conn.begin()
        conn.execute(text("INSERT INTO pet_owners (person, pet) VALUES (:p, :q)"), {"p": "zed", "q": "ghost"})
        try:
            conn.execute(text("SELECT * FROM no_such_table_xcp"))
            raise AssertionError("query on a missing table succeeded")
        except sa_exc.DBAPIError as exc:
            expect(sqlstate_of(exc) == "42P01", f"SQLSTATE {sqlstate_of(exc)}: {exc.orig}")
        try:
            conn.execute(text("SELECT 1"))
            raise AssertionError("statement in failed transaction succeeded")
        except sa_exc.DBAPIError as exc:
            expect(sqlstate_of(exc) == "25P02", f"SQLSTATE {sqlstate_of(exc)}: {exc.orig}")
        trans.rollback()
        n = conn.execute(text("SELECT count(*) FROM pet_owners WHERE person = :p"), {"p": "zed"}).scalar()
        expect(n == 0, f"rolled-back row visible ({n})")
        people = conn.execute(text("SELECT person FROM pet_owners ORDER BY person")).scalars().all()
        expect(people == [p for p, _ in PETS_SORTED], f"rows {people}")


@check
def concurrent_read_transactions():
    # Each pooled connection BEGINs (implicitly, DB-API style) before its
    # first SELECT; two concurrent readers must not block each other.
    with ENGINE.connect() as a, ENGINE.connect() as b:
        na = a.execute(text("SELECT count(*) FROM pet_owners")).scalar()
        nb = b.execute(text("SELECT count(*) FROM pet_owners")).scalar()  # a's transaction still open
        expect(na == nb == 3, f"counts {na} {nb}")


@check
def unique_violation():
    with ENGINE.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS uniq_xcp"))
        conn.execute(text("CREATE TABLE uniq_xcp (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO uniq_xcp (id, name) VALUES (:id, :name)"), {"id": 1, "name": "a"})
    try:
        with ENGINE.begin() as conn:
            conn.execute(text("INSERT INTO uniq_xcp (id, name) VALUES (:id, :name)"), {"id": 1, "name": "b"})
        raise AssertionError("duplicate key accepted")
    except sa_exc.IntegrityError as exc:
        expect(sqlstate_of(exc) == "23505", f"SQLSTATE {sqlstate_of(exc)}")
    with ENGINE.connect() as conn:
        expect(conn.execute(text("SELECT count(*) FROM uniq_xcp")).scalar() == 1, "count")


print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
sys.exit(1 if RESULTS["failed"] else 0)
