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
            name='MlModel',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('strategy_id', fields.IntField(db_index=True)),
                ('symbol', fields.CharField(max_length=32)),
                ('timeframe', fields.CharField(max_length=8)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('features', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('blob', fields.BinaryField()),
                ('samples', fields.IntField()),
                ('train_accuracy', fields.FloatField(null=True)),
                ('trained_from', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('trained_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('job_id', fields.CharField(null=True, max_length=100)),
                ('trained_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'strategies_ml_model', 'app': 'strategies', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Signal',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('strategy_id', fields.IntField(db_index=True)),
                ('strategy_name', fields.CharField(max_length=100)),
                ('symbol', fields.CharField(max_length=32)),
                ('side', fields.CharField(max_length=4)),
                ('confidence', fields.FloatField()),
                ('reasoning', fields.TextField(default='', unique=False)),
                ('ts', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('price', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('client_order_id', fields.CharField(null=True, max_length=64)),
                ('order_id', fields.IntField(null=True)),
                ('order_status', fields.CharField(null=True, max_length=32)),
                ('order_error', fields.TextField(null=True, unique=False)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'strategies_signal', 'app': 'strategies', 'unique_together': (('strategy_id', 'symbol', 'ts', 'side'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StrategyInstance',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('owner', fields.CharField(db_index=True, max_length=100)),
                ('name', fields.CharField(max_length=100)),
                ('type', fields.CharField(max_length=64)),
                ('description', fields.TextField(default='', unique=False)),
                ('parameters', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('symbols', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('timeframe', fields.CharField(max_length=8)),
                ('is_active', fields.BooleanField(default=True, db_index=True)),
                ('auto_trade', fields.BooleanField(default=False)),
                ('trade_quantity', fields.DecimalField(default=Decimal('1'), max_digits=30, decimal_places=12)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'strategies_instance', 'app': 'strategies', 'unique_together': (('owner', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
