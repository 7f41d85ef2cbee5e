from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='CircuitBreaker',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=32)),
                ('enabled', fields.BooleanField(default=False)),
                ('threshold', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('window_seconds', fields.IntField(default=3600)),
                ('min_samples', fields.IntField(default=10)),
                ('cooldown_seconds', fields.IntField(default=900)),
                ('half_open', fields.BooleanField(default=False)),
                ('state', fields.CharField(default='closed', max_length=10)),
                ('reason', fields.CharField(null=True, max_length=500)),
                ('value', fields.DecimalField(null=True, max_digits=30, decimal_places=12)),
                ('tripped_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('retry_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('trips', fields.IntField(default=0)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'risk_circuit_breaker', 'app': 'risk', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EquitySample',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.CharField(max_length=64)),
                ('bucket', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('equity', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('ts', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'risk_equity_sample', 'app': 'risk', 'unique_together': (('account', 'bucket'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TradingState',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('state', fields.CharField(default='ACTIVE', max_length=16)),
                ('reason', fields.CharField(null=True, max_length=500)),
                ('activated_by', fields.CharField(null=True, max_length=100)),
                ('activated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cooldown_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('version', fields.IntField(default=0)),
                ('limits', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('limits_updated_by', fields.CharField(null=True, max_length=100)),
                ('limits_updated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('peak_equity', fields.DecimalField(null=True, max_digits=30, decimal_places=12)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'risk_trading_state', 'app': 'risk', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
