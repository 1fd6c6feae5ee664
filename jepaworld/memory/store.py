"""The memory file: a SQLite database of remembered states, named goals, entities and transitions.

    mem = MemoryStore.create("runs/demo/run/memory.sqlite", header)   # or MemoryStore.open(path)
    mem.add_states(rows); mem.add_transitions(rows)                    # inside mem.transaction()
    mem.embeddings()                                                   # (ids (N,), z (N, D) float32)

Tables (schema version ``SCHEMA_VERSION``):

- ``meta``: key/value header: format tag, schema version, env, resolution, embedding size,
  frameskip, the run and checkpoint step whose encoder made the embeddings;
- ``states``: one remembered frame: its embedding, where it came from (source file, episode,
  step), the env state (if the data has states), the entity states decoded from the embedding by
  a linear probe (if one was fitted), and a small PNG thumbnail;
- ``transitions``: state ``src`` was followed by state ``dst`` after the action block ``action``
  (frameskip raw actions);
- ``goals``: named goals added by users: PNG image, embedding, optional env state;
- ``entities``: the named things a state describes, per env (e.g. Push-T's block: x, y, angle),
  as columns of the env state;
- ``edges``: latent-proximity edges the world model was asked about (reachable within one plan
  horizon or not, and the plan's cost) so it is asked once;
- ``built``: the (source, episode) pairs already remembered, so an interrupted build resumes.

Every write is one transaction; the file runs in WAL mode, so readers (``memory query``, an
agent) see a consistent snapshot while a build writes. A file that is not a jepaworld memory, has
another schema version, or is damaged raises ``JepaworldError``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import overload

import numpy as np

from jepaworld.config import json_text
from jepaworld.errors import JepaworldError
from jepaworld.images import png_array, png_bytes

FORMAT = "jepaworld-memory"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE states (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    episode INTEGER NOT NULL,
    step INTEGER NOT NULL,
    z BLOB NOT NULL,
    state BLOB,
    decoded BLOB,
    thumb BLOB,
    UNIQUE (source, episode, step)
);
CREATE TABLE transitions (
    src INTEGER NOT NULL REFERENCES states(id),
    dst INTEGER NOT NULL REFERENCES states(id),
    action BLOB NOT NULL,
    PRIMARY KEY (src, dst)
);
CREATE TABLE goals (
    name TEXT PRIMARY KEY,
    image BLOB NOT NULL,
    z BLOB NOT NULL,
    state BLOB,
    source TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE entities (
    env TEXT NOT NULL,
    name TEXT NOT NULL,
    columns TEXT NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (env, name)
);
CREATE TABLE edges (
    src INTEGER NOT NULL REFERENCES states(id),
    dst INTEGER NOT NULL REFERENCES states(id),
    reachable INTEGER NOT NULL,
    cost REAL NOT NULL,
    PRIMARY KEY (src, dst)
);
CREATE TABLE built (source TEXT NOT NULL, episode INTEGER NOT NULL, PRIMARY KEY (source, episode));
"""


@dataclass(frozen=True)
class MemoryHeader:
    """What every embedding in a memory file is comparable with: the env, the frames and the encoder."""

    env: str
    resolution: int
    embed_dim: int
    frameskip: int
    run: str  # the run folder whose encoder made the embeddings
    step: int  # its checkpoint's training step


@dataclass(frozen=True)
class StateRow:
    """One remembered frame (``add_states``); z (D,) float32, state (S,) or None, thumb: PNG bytes."""

    source: str
    episode: int
    step: int
    z: np.ndarray
    state: np.ndarray | None
    thumb: bytes | None


@dataclass(frozen=True)
class Goal:
    name: str
    image: np.ndarray  # uint8 (H, W, 3)
    z: np.ndarray  # (D,)
    state: np.ndarray | None
    source: str


def _blob(a: np.ndarray | None) -> bytes | None:
    return None if a is None else np.ascontiguousarray(a, dtype=np.float32).tobytes()


@overload
def _array(b: bytes) -> np.ndarray: ...


@overload
def _array(b: None) -> None: ...


def _array(b: bytes | None) -> np.ndarray | None:
    return None if b is None else np.frombuffer(b, dtype=np.float32).copy()


class MemoryStore:
    """One memory file (see the module docstring). Use ``create`` / ``open``; close with ``close()``."""

    def __init__(self, path: Path, conn: sqlite3.Connection, header: MemoryHeader) -> None:
        self.path, self.conn, self.header = path, conn, header

    # ---------------------------------------------------------------------------- open / create
    @classmethod
    def create(cls, path: str | Path, header: MemoryHeader) -> MemoryStore:
        """A new, empty memory file at ``path`` (refused if something is there already)."""
        path = Path(path)
        if path.exists():
            raise JepaworldError(f"{path} exists; open it (memory build resumes) or choose another --out")
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(path)
        try:
            with conn:
                conn.executescript(_SCHEMA)
                meta = {"format": FORMAT, "schema_version": str(SCHEMA_VERSION)}
                meta.update({k: str(v) for k, v in asdict(header).items()})
                conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        except sqlite3.Error as e:
            conn.close()
            path.unlink(missing_ok=True)
            raise JepaworldError(f"cannot create the memory file {path}: {e}") from None
        return cls(path, conn, header)

    @classmethod
    def open(cls, path: str | Path, readonly: bool = False) -> MemoryStore:
        """An existing memory file; a missing, foreign, damaged or newer-schema file is refused."""
        path = Path(path)
        if not path.is_file():
            raise JepaworldError(f"no memory file at {path}; create one with `jepaworld memory build RUN --out {path}`")
        try:
            conn = _connect(path, readonly)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as e:
            raise JepaworldError(
                f"{path} is not a readable jepaworld memory file ({e}); build a new one with `jepaworld memory build`"
            ) from None
        if meta.get("format") != FORMAT:
            conn.close()
            raise JepaworldError(f"{path} is a SQLite file but not a jepaworld memory (no '{FORMAT}' header)")
        version = int(meta.get("schema_version", -1))
        if version != SCHEMA_VERSION:
            conn.close()
            raise JepaworldError(
                f"{path} has memory schema version {version}; this jepaworld reads version {SCHEMA_VERSION} "
                "(rebuild the memory with this version, or use the jepaworld that wrote it)"
            )
        header = MemoryHeader(env=meta["env"], resolution=int(meta["resolution"]), embed_dim=int(meta["embed_dim"]),
                              frameskip=int(meta["frameskip"]), run=meta["run"], step=int(meta["step"]))  # fmt: skip
        return cls(path, conn, header)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside lands together or not at all."""
        try:
            with self.conn:
                yield
        except sqlite3.Error as e:
            raise JepaworldError(f"writing to the memory file {self.path} failed, nothing was written: {e}") from None

    # -------------------------------------------------------------------------------- states
    def add_states(self, rows: Sequence[StateRow]) -> list[int]:
        """Insert remembered frames; returns their ids (call inside ``transaction()``)."""
        ids = []
        for r in rows:
            cur = self.conn.execute(
                "INSERT INTO states (source, episode, step, z, state, thumb) VALUES (?, ?, ?, ?, ?, ?)",
                (r.source, r.episode, r.step, _blob(r.z), _blob(r.state), r.thumb),
            )
            assert cur.lastrowid is not None  # set by every INSERT
            ids.append(int(cur.lastrowid))
        return ids

    def add_transitions(self, rows: Sequence[tuple[int, int, np.ndarray]]) -> None:
        """(src id, dst id, action block (fs, A)) triples (call inside ``transaction()``)."""
        self.conn.executemany("INSERT OR REPLACE INTO transitions VALUES (?, ?, ?)",
                              [(s, d, _blob(a)) for s, d, a in rows])  # fmt: skip

    def mark_built(self, source: str, episodes: Sequence[int]) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO built VALUES (?, ?)", [(source, int(e)) for e in episodes])

    def built_episodes(self, source: str) -> set[int]:
        return {int(e) for (e,) in self.conn.execute("SELECT episode FROM built WHERE source = ?", (source,))}

    def count(self, table: str) -> int:
        if table not in {"states", "transitions", "goals", "entities", "edges", "built"}:
            raise ValueError(table)
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """Every remembered state's id (N,) int64 and embedding (N, D) float32, in id order."""
        D = self.header.embed_dim
        rows = self.conn.execute("SELECT id, z FROM states ORDER BY id").fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        z = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), D)
        return ids, z.copy()

    def env_states(self, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids (N,), env states (N, S)) of the remembered states that have one (all, or those in ``ids``)."""
        rows = self.conn.execute("SELECT id, state FROM states WHERE state IS NOT NULL ORDER BY id").fetchall()
        if ids is not None:
            keep = {int(i) for i in ids}
            rows = [r for r in rows if r[0] in keep]
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        return np.array([r[0] for r in rows], np.int64), np.stack([_array(r[1]) for r in rows])

    def decoded_states(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids (N,), probe-decoded env states (N, S)) of the states a probe decoded."""
        rows = self.conn.execute("SELECT id, decoded FROM states WHERE decoded IS NOT NULL ORDER BY id").fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        return np.array([r[0] for r in rows], np.int64), np.stack([_array(r[1]) for r in rows])

    def set_decoded(self, ids: np.ndarray, decoded: np.ndarray) -> None:
        """Store probe-decoded env states (N, S) for ``ids`` (call inside ``transaction()``)."""
        self.conn.executemany("UPDATE states SET decoded = ? WHERE id = ?",
                              [(_blob(d), int(i)) for i, d in zip(ids, decoded, strict=True)])  # fmt: skip

    def state_info(self, state_id: int) -> dict:
        """One remembered state: where it came from, its env state, decoded state and thumbnail bytes."""
        row = self.conn.execute("SELECT source, episode, step, state, decoded, thumb FROM states WHERE id = ?",
                                (int(state_id),)).fetchone()  # fmt: skip
        if row is None:
            raise JepaworldError(f"no remembered state with id {state_id}")
        return {"id": int(state_id), "source": row[0], "episode": row[1], "step": row[2], "state": _array(row[3]),
                "decoded": _array(row[4]), "thumb": row[5]}  # fmt: skip

    def transitions(self) -> tuple[np.ndarray, np.ndarray]:
        """Observed transitions: src ids (E,) and dst ids (E,)."""
        rows = self.conn.execute("SELECT src, dst FROM transitions").fetchall()
        arr = np.array(rows, dtype=np.int64).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]

    def set_meta(self, key: str, value: str) -> None:
        """An extra header entry (e.g. the state decoder); call inside ``transaction()``."""
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    # ----------------------------------------------------------------------------- goals
    def add_goal(self, goal: Goal, replace: bool = False) -> None:
        """Store a named goal; an existing name is refused unless ``replace``."""
        if not goal.name or not goal.name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise JepaworldError(f"goal name {goal.name!r}: use letters, digits, '-', '_' or '.'")
        exists = self.conn.execute("SELECT 1 FROM goals WHERE name = ?", (goal.name,)).fetchone()
        if exists and not replace:
            raise JepaworldError(f"a goal named {goal.name!r} is already remembered; pass --replace to overwrite it")
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO goals (name, image, z, state, source) VALUES (?, ?, ?, ?, ?)",
                              (goal.name, png_bytes(goal.image), _blob(goal.z), _blob(goal.state),
                               goal.source))  # fmt: skip

    def goal(self, name: str) -> Goal:
        row = self.conn.execute("SELECT name, image, z, state, source FROM goals WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.goal_names()) or "none yet"
            raise JepaworldError(f"no goal named {name!r} in {self.path} (known: {known}); add it with "
                                 "`jepaworld memory add-goal`")  # fmt: skip
        return Goal(name=row[0], image=png_array(row[1]), z=_array(row[2]), state=_array(row[3]), source=row[4])

    def goal_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM goals ORDER BY name")]

    # -------------------------------------------------------------------------- entities
    def set_entities(self, env: str, entities: dict[str, tuple[list[int], list[str]]]) -> None:
        """name -> (env state columns, field names) for ``env`` (call inside ``transaction()``)."""
        self.conn.executemany("INSERT OR REPLACE INTO entities VALUES (?, ?, ?, ?)",
                              [(env, n, json_text(c), json_text(f)) for n, (c, f) in entities.items()])  # fmt: skip

    def entities(self) -> dict[str, tuple[list[int], list[str]]]:
        rows = self.conn.execute("SELECT name, columns, fields FROM entities WHERE env = ?", (self.header.env,))
        return {n: (json.loads(c), json.loads(f)) for n, c, f in rows}

    # ----------------------------------------------------------------------------- edges
    def edge_verdicts(self) -> dict[tuple[int, int], bool]:
        """The world model's past verdicts on proximity edges: (src, dst) -> reachable."""
        return {(int(s), int(d)): bool(r) for s, d, r in self.conn.execute("SELECT src, dst, reachable FROM edges")}

    def add_edge_verdicts(self, rows: Sequence[tuple[int, int, bool, float]]) -> None:
        with self.transaction():
            self.conn.executemany("INSERT OR REPLACE INTO edges VALUES (?, ?, ?, ?)",
                                  [(int(s), int(d), int(r), float(c)) for s, d, r, c in rows])  # fmt: skip

    def summary(self) -> dict:
        """Counts and header, for ``memory info``."""
        return {**asdict(self.header), "path": str(self.path), "schema_version": SCHEMA_VERSION,
                **{t: self.count(t) for t in ("states", "transitions", "goals", "edges")},
                "episodes": self.count("built"), "goal_names": self.goal_names(),
                "entities": {n: f for n, (_, f) in self.entities().items()}}  # fmt: skip


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    conn = sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False)
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn
