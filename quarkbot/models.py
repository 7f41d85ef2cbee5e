"""The host's own tables (app label ``quarkbot``): users, API keys, revoked tokens, audit log."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

ROLES = ("viewer", "trader", "admin")


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharField(max_length=16, default="viewer")
    is_active = fields.BooleanField(default=True)
    # Bumped to revoke every token issued before (password change, deactivation, role change).
    token_version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "quarkbot_user"


class ApiKey(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    # Public part of the key, used to find the row; the secret part is only stored hashed.
    prefix = fields.CharField(max_length=16, unique=True)
    key_hash = fields.CharField(max_length=64)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "quarkbot.User", related_name="api_keys", on_delete=fields.CASCADE
    )
    role = fields.CharField(max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "quarkbot_api_key"


class RevokedToken(Model):
    jti = fields.CharField(max_length=64, primary_key=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "quarkbot_revoked_token"


class AuditLog(Model):
    # One row per mutating request; each hash chains the row to the row before it.
    # (No docstrings on models: tortoise copies them into SQL comments unescaped.)

    id = fields.BigIntField(primary_key=True)
    seq = fields.BigIntField(unique=True)
    ts = fields.DatetimeField(db_index=True)
    actor = fields.CharField(max_length=100, db_index=True)
    actor_type = fields.CharField(max_length=16)
    method = fields.CharField(max_length=10)
    path = fields.CharField(max_length=500)
    status = fields.IntField()
    request_id = fields.CharField(max_length=64)
    client_ip = fields.CharField(max_length=64, null=True)
    action = fields.CharField(max_length=100, null=True)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "quarkbot_audit_log"


class JobRun(Model):
    # One row per job run, written by the host around every arq job.
    job_id = fields.CharField(max_length=100, primary_key=True)
    name = fields.CharField(max_length=200, db_index=True)
    status = fields.CharField(max_length=16, db_index=True)
    tries = fields.IntField(default=0)
    enqueued_at = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    result: Any = fields.JSONField(null=True)
    error = fields.TextField(null=True)
    enqueued_by = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "quarkbot_job_run"


class JobEffect(Model):
    # Keys of effects that jobs applied exactly once (see quarkbot.jobs.once).
    key = fields.CharField(max_length=255, primary_key=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "quarkbot_job_effect"


class OutboxEvent(Model):
    # An event written in the transaction of the change it describes (quarkbot.outbox); deleted
    # once published. ``body`` is the envelope without its ``seq`` (Redis assigns that once).
    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=200)
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "quarkbot_outbox"
