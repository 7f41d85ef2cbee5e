"""The audit log: one row per mutating request, each hash-chained to the row before it.

Editing or deleting any row breaks the chain, which ``quarkbot audit verify`` detects.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from tortoise import connections
from tortoise.exceptions import IntegrityError

from quarkbot.models import AuditLog

GENESIS = "0" * 64
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: One lock per event loop: an asyncio.Lock must not be shared between loops (tests, CLI runs).
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _locks.get(loop)
    if lock is None:
        lock = _locks[loop] = asyncio.Lock()
    return lock


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    actor_type: str
    method: str
    path: str
    status: int
    request_id: str
    client_ip: str | None = None
    action: str | None = None


def _timestamp(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def chain_hash(prev_hash: str, seq: int, ts: datetime, entry: AuditEntry) -> str:
    payload = {
        "seq": seq,
        "ts": _timestamp(ts),
        "actor": entry.actor,
        "actor_type": entry.actor_type,
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "request_id": entry.request_id,
        "client_ip": entry.client_ip,
        "action": entry.action,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _clean(value: str | None, limit: int) -> str | None:
    """Fit one value to its column: no NUL characters (PostgreSQL rejects them), cut to size."""
    if value is None:
        return None
    return value.replace("\x00", "\ufffd")[:limit]


def normalize(entry: AuditEntry) -> AuditEntry:
    """The entry exactly as it is stored, so that its hash matches the row."""
    return replace(
        entry,
        actor=_clean(entry.actor, 100) or "",
        actor_type=_clean(entry.actor_type, 16) or "",
        method=_clean(entry.method, 10) or "",
        path=_clean(entry.path, 500) or "",
        request_id=_clean(entry.request_id, 64) or "",
        client_ip=_clean(entry.client_ip, 64),
        action=_clean(entry.action, 100),
    )


#: The last row this process appended, per database client: the next append links to it with
#: no read first. Another process's append in between makes the insert fail on the unique
#: ``seq`` (never a fork), and the tail is read again.
_tails: weakref.WeakKeyDictionary[object, tuple[int, str]] = weakref.WeakKeyDictionary()


async def append(entry: AuditEntry) -> AuditLog:
    """Append one row. ``seq`` is unique, so concurrent writers in other processes retry."""
    entry = normalize(entry)
    client = connections.get("default")
    async with _lock():
        for _attempt in range(50):
            tail = _tails.pop(client, None)
            if tail is None:
                last = await AuditLog.all().order_by("-seq").first()
                tail = (last.seq, last.hash) if last else (0, GENESIS)
            seq, prev = tail[0] + 1, tail[1]
            ts = datetime.now(UTC)
            try:
                row = await AuditLog.create(
                    seq=seq,
                    ts=ts,
                    prev_hash=prev,
                    hash=chain_hash(prev, seq, ts, entry),
                    actor=entry.actor,
                    actor_type=entry.actor_type,
                    method=entry.method,
                    path=entry.path,
                    status=entry.status,
                    request_id=entry.request_id,
                    client_ip=entry.client_ip,
                    action=entry.action,
                )
            except IntegrityError:
                await asyncio.sleep(random.uniform(0.001, 0.02))
            else:
                _tails[client] = (row.seq, row.hash)
                return row
    raise RuntimeError("could not append to the audit log after 50 attempts")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    problem: str | None = None


async def _rows(batch: int = 1000) -> AsyncIterator[AuditLog]:
    after = 0
    while True:
        chunk = await AuditLog.filter(seq__gt=after).order_by("seq").limit(batch)
        if not chunk:
            return
        for row in chunk:
            yield row
        after = chunk[-1].seq


async def verify() -> VerifyResult:
    """Recompute the chain from the first row; report the first row that does not fit."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    async for row in _rows():
        if row.seq != expected_seq:
            return VerifyResult(False, count, f"row seq {expected_seq} is missing")
        if row.prev_hash != prev:
            return VerifyResult(False, count, f"row seq {row.seq} does not link to its predecessor")
        entry = AuditEntry(
            actor=row.actor,
            actor_type=row.actor_type,
            method=row.method,
            path=row.path,
            status=row.status,
            request_id=row.request_id,
            client_ip=row.client_ip,
            action=row.action,
        )
        if chain_hash(prev, row.seq, row.ts, entry) != row.hash:
            return VerifyResult(False, count, f"row seq {row.seq} was modified")
        prev = row.hash
        expected_seq += 1
        count += 1
    return VerifyResult(True, count)
