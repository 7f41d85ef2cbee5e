from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from decimal import Decimal
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AgentDecision',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('uid', fields.CharField(unique=True, max_length=64)),
                ('instance_id', fields.IntField(null=True, db_index=True)),
                ('agent_type', fields.CharField(db_index=True, max_length=64)),
                ('symbol', fields.CharField(db_index=True, max_length=32)),
                ('timeframe', fields.CharField(max_length=4)),
                ('as_of', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('action', fields.CharField(db_index=True, max_length=4)),
                ('confidence', fields.IntField()),
                ('reasoning', fields.TextField(unique=False)),
                ('proposal', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('backend', fields.CharField(default='offline', max_length=16)),
                ('model', fields.CharField(null=True, max_length=100)),
                ('prompt_tokens', fields.IntField(default=0)),
                ('completion_tokens', fields.IntField(default=0)),
                ('llm_calls', fields.IntField(default=0)),
                ('cached', fields.BooleanField(default=False)),
                ('cost', fields.DecimalField(default=Decimal('0'), max_digits=30, decimal_places=12)),
                ('latency_ms', fields.FloatField(default=0.0)),
                ('input_hash', fields.CharField(max_length=64)),
                ('error', fields.TextField(null=True, unique=False)),
                ('client_order_id', fields.CharField(null=True, max_length=64)),
                ('order_id', fields.IntField(null=True)),
                ('order_status', fields.CharField(null=True, max_length=20)),
                ('deny_code', fields.CharField(null=True, max_length=64)),
                ('created_by', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'agents_decision', 'app': 'agents', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AgentInstance',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('owner', fields.CharField(db_index=True, max_length=100)),
                ('name', fields.CharField(max_length=200)),
                ('agent_type', fields.CharField(max_length=64)),
                ('parameters', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('symbols', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('timeframe', fields.CharField(max_length=4)),
                ('auto_trade', fields.BooleanField(default=False)),
                ('trade_quantity', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('schedule', fields.CharField(default='on_bar', max_length=16)),
                ('active', fields.BooleanField(default=True, db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'agents_instance', 'app': 'agents', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AgentProvider',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('base_url', fields.CharField(max_length=500)),
                ('api_key', fields.CharField(default='', max_length=500)),
                ('models', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_by', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'agents_provider', 'app': 'agents', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LlmRecord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=64)),
                ('model', fields.CharField(max_length=100)),
                ('prompt_hash', fields.CharField(max_length=64)),
                ('input_hash', fields.CharField(max_length=64)),
                ('content', fields.TextField(unique=False)),
                ('error', fields.TextField(null=True, unique=False)),
                ('calls', fields.IntField(default=1)),
                ('prompt_tokens', fields.IntField(default=0)),
                ('completion_tokens', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'agents_llm_record', 'app': 'agents', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
