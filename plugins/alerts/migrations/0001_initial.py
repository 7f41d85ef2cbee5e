from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Alert',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('fingerprint', fields.CharField(db_index=True, max_length=200)),
                ('open_key', fields.CharField(null=True, unique=True, max_length=200)),
                ('source', fields.CharField(db_index=True, max_length=64)),
                ('rule_id', fields.IntField(null=True, db_index=True)),
                ('severity', fields.CharField(db_index=True, max_length=8)),
                ('status', fields.CharField(db_index=True, max_length=12)),
                ('message', fields.CharField(max_length=1000)),
                ('labels', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('value', fields.FloatField(null=True)),
                ('risk', fields.BooleanField(default=False)),
                ('occurrences', fields.IntField(default=1)),
                ('started_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('acknowledged_by', fields.CharField(null=True, max_length=100)),
                ('acknowledged_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_by', fields.CharField(null=True, max_length=100)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'alerts_alert', 'app': 'alerts', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AlertRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('metric', fields.CharField(db_index=True, max_length=64)),
                ('labels', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('condition', fields.CharField(max_length=16)),
                ('threshold', fields.FloatField(default=0.0)),
                ('window_seconds', fields.IntField(default=0)),
                ('for_seconds', fields.IntField(default=0)),
                ('cooldown_seconds', fields.IntField(default=300)),
                ('severity', fields.CharField(default='warning', max_length=8)),
                ('risk', fields.BooleanField(default=False)),
                ('description', fields.CharField(default='', max_length=500)),
                ('enabled', fields.BooleanField(default=True)),
                ('created_by', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'alerts_rule', 'app': 'alerts', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AlertSeries',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('fingerprint', fields.CharField(unique=True, max_length=200)),
                ('pending_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('clear_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'alerts_series', 'app': 'alerts', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Delivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(unique=True, max_length=200)),
                ('target_id', fields.IntField(db_index=True)),
                ('alert_id', fields.IntField(db_index=True)),
                ('event', fields.CharField(max_length=16)),
                ('status', fields.CharField(default='pending', max_length=12)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=500)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'alerts_delivery', 'app': 'alerts', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotifierTarget',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('notifier', fields.CharField(max_length=32)),
                ('config', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('min_severity', fields.CharField(default='info', max_length=8)),
                ('enabled', fields.BooleanField(default=True)),
                ('created_by', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'alerts_notifier_target', 'app': 'alerts', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
