from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='HedgeExecution',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('uid', fields.CharField(unique=True, max_length=32)),
                ('kind', fields.CharField(max_length=8)),
                ('idempotency_key', fields.CharField(null=True, unique=True, max_length=100)),
                ('request_hash', fields.CharField(max_length=64)),
                ('actor', fields.CharField(max_length=100)),
                ('status', fields.CharField(db_index=True, max_length=16)),
                ('message', fields.CharField(default='', max_length=500)),
                ('plan', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'hedging_execution', 'app': 'hedging', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HedgeLeg',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('execution', fields.ForeignKeyField('hedging.HedgeExecution', source_field='execution_id', db_constraint=True, to_field='id', related_name='legs', on_delete=OnDelete.CASCADE)),
                ('seq', fields.IntField()),
                ('asset', fields.CharField(max_length=16)),
                ('symbol', fields.CharField(db_index=True, max_length=32)),
                ('side', fields.CharField(max_length=4)),
                ('quantity', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('reduce_only', fields.BooleanField(default=False)),
                ('client_order_id', fields.CharField(unique=True, max_length=64)),
                ('order_id', fields.IntField(null=True)),
                ('status', fields.CharField(db_index=True, max_length=20)),
                ('error_code', fields.CharField(null=True, max_length=64)),
                ('error', fields.CharField(null=True, max_length=500)),
                ('placed_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'hedging_leg', 'app': 'hedging', 'unique_together': (('execution', 'seq'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
