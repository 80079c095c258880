"""Logical dump → restore round trips on varied schemas, compared by canonical dumps."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

SCHEMAS = {
    "rowid_values": """
        CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT, c BLOB, d REAL, e, f NUMERIC);
        INSERT INTO t VALUES (1, 'plain', x'00ff10', 1.5, NULL, '12');
        INSERT INTO t VALUES (2, NULL, NULL, NULL, -0.0, ' 12');
        INSERT INTO t VALUES (3, 'ünïcødé 🎉 中文 עברית', x'', 1e308 * 10, -1e308 * 10, 3.0);
        INSERT INTO t VALUES (9223372036854775807, '', zeroblob(70000), -0.0, 5e-324, 'x');
        INSERT INTO t VALUES (-9223372036854775808, 'nul' || char(0) || 'in text', 1, 2, 3, 4);
        CREATE TABLE no_ipk (x, y);  -- implicit rowid with gaps
        INSERT INTO no_ipk(rowid, x, y) VALUES (5, 1, 2), (100, 'a', x'01'), (7, NULL, 2.25);
    """,
    "without_rowid_composite": """
        CREATE TABLE w (k BLOB, j INT, name TEXT COLLATE NOCASE, v,
                        PRIMARY KEY (name DESC, j, k)) WITHOUT ROWID;
        INSERT INTO w VALUES (x'01', 1, 'b', 'x'), (x'02', 1, 'A', NULL), (x'00', 2, 'a', 1.0);
        CREATE TABLE pairs (a, b, c UNIQUE, PRIMARY KEY (a, b));
        INSERT INTO pairs VALUES (1, 2, 3), ('1', 2, 4), (1.5, NULL, 5);
    """,
    "autoincrement_and_generated": """
        CREATE TABLE s (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT,
                        g TEXT GENERATED ALWAYS AS (upper(v)) VIRTUAL,
                        h INT GENERATED ALWAYS AS (length(v)) STORED);
        INSERT INTO s (v) VALUES ('a'), ('b'), ('c');
        DELETE FROM s WHERE id = 3;  -- sqlite_sequence stays at 3
        CREATE TABLE s2 (id INTEGER PRIMARY KEY AUTOINCREMENT, v);
        INSERT INTO s2 (id, v) VALUES (40, 'x');
        CREATE TABLE st (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT;
        INSERT INTO st VALUES (1, 'strict');
    """,
    "triggers_views_indexes": """
        CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INT);
        CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT);
        CREATE INDEX t_v ON t (v COLLATE NOCASE DESC);
        CREATE UNIQUE INDEX t_n ON t (n) WHERE n IS NOT NULL;
        CREATE INDEX t_expr ON t (lower(v), n + 1);
        CREATE VIEW big AS SELECT id, v FROM t WHERE n > 1;
        CREATE VIEW bigger AS SELECT * FROM big WHERE id > 1;
        CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN INSERT INTO log (what) VALUES (new.v); END;
        CREATE TRIGGER big_ins INSTEAD OF INSERT ON big
            BEGIN INSERT INTO t (v, n) VALUES (new.v, (SELECT max(n) + 1 FROM t)); END;
        INSERT INTO t (v, n) VALUES ('one', 1), ('two', 2), ('three', NULL);
        INSERT INTO big (v) VALUES ('via view');
    """,
    "fts5_all_content_modes": """
        CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, title TEXT);
        INSERT INTO docs VALUES (1, 'the quick brown fox', 'fox'), (2, 'lazy dogs sleep', 'dog'),
                                (7, 'ünicode wörds here', 'uni');
        CREATE VIRTUAL TABLE own USING fts5 (body, tag UNINDEXED);
        INSERT INTO own (rowid, body, tag) VALUES (3, 'hello world', 'a'),
                                                  (10, 'world peace', NULL);
        CREATE VIRTUAL TABLE ext USING fts5 (body, title, content='docs', content_rowid='id');
        INSERT INTO ext (ext) VALUES ('rebuild');
        CREATE VIRTUAL TABLE bare USING fts5 (body, content='');
        INSERT INTO bare (rowid, body) VALUES (1, 'contentless index only'), (2, 'more words');
        CREATE VIRTUAL TABLE tri USING fts5 (body, tokenize = 'trigram');
        INSERT INTO tri VALUES ('trigram tokenizer');
    """,
    "fts5_content_from_a_view": """
        CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, hidden INT);
        INSERT INTO notes VALUES (1, 'visible words', 0), (2, 'secret words', 1);
        CREATE VIEW shown AS SELECT id, body FROM notes WHERE hidden = 0;
        CREATE VIRTUAL TABLE search USING fts5 (body, content='shown', content_rowid='id');
        INSERT INTO search (search) VALUES ('rebuild');
    """,
    "rtree_raw_shadow": """
        CREATE VIRTUAL TABLE boxes USING rtree (id, x0, x1, y0, y1);
        INSERT INTO boxes VALUES (1, 0, 1, 0, 1), (2, 5, 6, 5, 6), (3, -1, 0.5, 2, 3);
    """,
    "pragmas_and_stats": """
        PRAGMA user_version = 42;
        PRAGMA application_id = -559038737;
        CREATE TABLE t (id INTEGER PRIMARY KEY, v);
        CREATE INDEX t_v ON t (v);
        INSERT INTO t (v) VALUES (1), (2), (2), (3);
        ANALYZE;
    """,
    "shadowed_rowid_names": """
        CREATE TABLE r1 (rowid TEXT, v);
        INSERT INTO r1 VALUES ('a', 1), ('b', 2);
        CREATE TABLE r3 (rowid, _rowid_, oid);
        INSERT INTO r3 VALUES (1, 2, 3), (1, 2, 3);
        CREATE TABLE [weird "name"] ("col with space" INT, "ü" TEXT);
        INSERT INTO [weird "name"] VALUES (1, 'x');
    """,
    "empty": "",
}

PRE = {
    "pragmas_and_stats": "PRAGMA page_size = 8192; PRAGMA auto_vacuum = INCREMENTAL;",
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_trip(tmp_path: Path, name: str, make, trip) -> None:
    db = make(tmp_path / "src.db", SCHEMAS[name], pre=PRE.get(name, ""))
    trip(db, tmp_path / "restored.db")


def test_rowids_pragmas_and_fts_queries_survive(tmp_path: Path, make, trip) -> None:
    script = SCHEMAS["fts5_all_content_modes"] + SCHEMAS["pragmas_and_stats"]
    db = make(tmp_path / "src.db", script, pre=PRE["pragmas_and_stats"])
    target = tmp_path / "restored.db"
    trip(db, target)
    with closing(sqlite3.connect(target)) as conn:
        q = conn.execute
        assert q("PRAGMA page_size").fetchone() == (8192,)
        assert q("PRAGMA auto_vacuum").fetchone() == (2,)
        assert q("PRAGMA user_version").fetchone() == (42,)
        assert q("PRAGMA application_id").fetchone() == (-559038737,)
        assert q("SELECT rowid FROM own WHERE own MATCH 'world' ORDER BY rowid").fetchall() == [
            (3,),
            (10,),
        ]
        assert q("SELECT rowid FROM ext WHERE ext MATCH 'wörds'").fetchall() == [(7,)]
        assert q("SELECT rowid FROM bare WHERE bare MATCH 'contentless'").fetchall() == [(1,)]
        assert q("SELECT body FROM tri WHERE tri MATCH 'okeni'").fetchall() == [
            ("trigram tokenizer",)
        ]
        # the external-content index was rebuilt and tracks new rows through its table
        q("INSERT INTO docs VALUES (8, 'brand new fox', 't')")
        q("INSERT INTO ext (rowid, body, title) VALUES (8, 'brand new fox', 't')")
        assert q("SELECT rowid FROM ext WHERE ext MATCH 'fox' ORDER BY rowid").fetchall() == [
            (1,),
            (8,),
        ]


def test_triggers_and_views_work_after_restore(tmp_path: Path, make, trip) -> None:
    db = make(tmp_path / "src.db", SCHEMAS["triggers_views_indexes"])
    target = tmp_path / "restored.db"
    trip(db, target)
    with closing(sqlite3.connect(target)) as conn:
        before = conn.execute("SELECT count(*) FROM log").fetchone()[0]
        conn.execute("INSERT INTO big (v) VALUES ('again')")  # INSTEAD OF → t → AFTER INSERT
        assert conn.execute("SELECT count(*) FROM log").fetchone()[0] == before + 1
        assert conn.execute("SELECT v FROM bigger ORDER BY id DESC LIMIT 1").fetchone() == (
            "again",
        )
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='index'")}
        assert {"t_v", "t_n", "t_expr"} <= names


def test_autoincrement_continues_from_the_saved_sequence(tmp_path: Path, make, trip) -> None:
    db = make(tmp_path / "src.db", SCHEMAS["autoincrement_and_generated"])
    target = tmp_path / "restored.db"
    trip(db, target)
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 's'").fetchone() == (3,)
        conn.execute("INSERT INTO s (v) VALUES ('d')")
        assert conn.execute("SELECT max(id), g, h FROM s").fetchone() == (4, "D", 1)


@pytest.mark.parametrize(
    "pre",
    ["PRAGMA encoding = 'UTF-16le';", "PRAGMA encoding = 'UTF-16be';", "PRAGMA page_size = 1024;"],
)
def test_encodings_and_page_sizes(tmp_path: Path, pre: str, make, trip) -> None:
    db = make(tmp_path / "src.db", SCHEMAS["rowid_values"], pre=pre)
    target = tmp_path / "restored.db"
    trip(db, target)
    with closing(sqlite3.connect(db)) as a, closing(sqlite3.connect(target)) as b:
        for pragma in ("encoding", "page_size"):
            assert (
                a.execute(f"PRAGMA {pragma}").fetchone() == b.execute(f"PRAGMA {pragma}").fetchone()
            )


def test_wal_mode_survives(tmp_path: Path, make, trip) -> None:
    db = make(tmp_path / "src.db", SCHEMAS["rowid_values"], pre="PRAGMA journal_mode = WAL;")
    target = tmp_path / "restored.db"
    trip(db, target)
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_invalid_utf8_text_is_kept_byte_exact(tmp_path: Path, make, trip) -> None:
    db = make(
        tmp_path / "src.db",
        "CREATE TABLE t (v TEXT, w); INSERT INTO t VALUES (CAST(x'ff fe 41' AS TEXT), 'ok'),"
        " (CAST(x'c3' AS TEXT), CAST(x'80' AS TEXT));".replace("ff fe 41", "fffe41"),
    )
    target = tmp_path / "restored.db"
    trip(db, target)
    with closing(sqlite3.connect(target)) as conn:
        rows = conn.execute("SELECT typeof(v), hex(v), hex(w) FROM t ORDER BY rowid").fetchall()
    assert rows == [("text", "FFFE41", "6F6B"), ("text", "C3", "80")]


def test_integer_primary_key_desc_is_not_taken_for_the_rowid(tmp_path: Path, make, trip) -> None:
    # "INTEGER PRIMARY KEY DESC" does not alias the rowid: rowids must be carried separately
    db = make(
        tmp_path / "src.db",
        "CREATE TABLE d (x INTEGER PRIMARY KEY DESC, y);"
        "INSERT INTO d (rowid, x, y) VALUES (10, 1, 'a'), (20, 2, 'b');"
        "CREATE TABLE a (x INTEGER PRIMARY KEY, y); INSERT INTO a VALUES (7, 'seven');",
    )
    target = tmp_path / "restored.db"
    stream = trip(db, target)
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT rowid, x FROM d ORDER BY rowid").fetchall() == [
            (10, 1),
            (20, 2),
        ]
        assert conn.execute("SELECT rowid, x FROM a").fetchall() == [(7, 7)]
    assert b"\x05plain\x0a\x01a" in stream  # the alias table's rows carry no separate rowid
