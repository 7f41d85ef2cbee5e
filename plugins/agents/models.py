# Tables of the agents plugin (app label "agents"). No docstrings on models: tortoise copies
# them into SQL comments unescaped.
from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.models import Model


class AgentProvider(Model):
    # an OpenAI-compatible chat-completions server configured by an admin; the key is never
    # returned by the API
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    base_url = fields.CharField(max_length=500)
    api_key = fields.CharField(max_length=500, default="")
    models: list[str] = fields.JSONField(default=list)
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "agents_provider"


class AgentInstance(Model):
    # an agent run by the cron on new bars of its symbols; with auto_trade its BUY and SELL
    # become orders through trading's pipeline
    id = fields.IntField(primary_key=True)
    owner = fields.CharField(max_length=100, db_index=True)
    name = fields.CharField(max_length=200)
    agent_type = fields.CharField(max_length=64)
    parameters: dict[str, Any] = fields.JSONField(default=dict)
    symbols: list[str] = fields.JSONField(default=list)
    timeframe = fields.CharField(max_length=4)
    auto_trade = fields.BooleanField(default=False)
    trade_quantity: Decimal = fields.DecimalField(max_digits=30, decimal_places=12)
    # on_bar: every new closed bar; manual: only through analyze
    schedule = fields.CharField(max_length=16, default="on_bar")
    active = fields.BooleanField(default=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "agents_instance"


class AgentDecision(Model):
    # one proposal, how it came about, and the order it became (or why none)
    id = fields.IntField(primary_key=True)
    uid = fields.CharField(max_length=64, unique=True)
    instance_id = fields.IntField(null=True, db_index=True)
    agent_type = fields.CharField(max_length=64, db_index=True)
    symbol = fields.CharField(max_length=32, db_index=True)
    timeframe = fields.CharField(max_length=4)
    as_of = fields.DatetimeField(db_index=True)
    action = fields.CharField(max_length=4, db_index=True)
    confidence = fields.IntField()
    reasoning = fields.TextField()
    proposal: dict[str, Any] = fields.JSONField(default=dict)
    params: dict[str, Any] = fields.JSONField(default=dict)
    backend = fields.CharField(max_length=16, default="offline")
    model = fields.CharField(max_length=100, null=True)
    prompt_tokens = fields.IntField(default=0)
    completion_tokens = fields.IntField(default=0)
    llm_calls = fields.IntField(default=0)
    cached = fields.BooleanField(default=False)
    cost: Decimal = fields.DecimalField(max_digits=30, decimal_places=12, default=Decimal(0))
    latency_ms = fields.FloatField(default=0.0)
    input_hash = fields.CharField(max_length=64)
    error = fields.TextField(null=True)
    client_order_id = fields.CharField(max_length=64, null=True)
    order_id = fields.IntField(null=True)
    order_status = fields.CharField(max_length=20, null=True)
    deny_code = fields.CharField(max_length=64, null=True)
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "agents_decision"


class LlmRecord(Model):
    # record/replay: the completion an LLM gave for (model, prompt hash, input hash)
    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=64, unique=True)
    model = fields.CharField(max_length=100)
    prompt_hash = fields.CharField(max_length=64)
    input_hash = fields.CharField(max_length=64)
    # the final answer's text ("" when none came), and why it was not usable (null when it was)
    content = fields.TextField()
    error = fields.TextField(null=True)
    calls = fields.IntField(default=1)
    prompt_tokens = fields.IntField(default=0)
    completion_tokens = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "agents_llm_record"
