from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='RegimeFit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('symbol', fields.CharField(max_length=32)),
                ('timeframe', fields.CharField(max_length=8)),
                ('model', fields.CharField(max_length=32)),
                ('version', fields.IntField()),
                ('k_regimes', fields.IntField()),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('labels', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('data_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('fitted_through', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('n_obs', fields.IntField()),
                ('loglike', fields.FloatField(null=True)),
                ('converged', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'regime_fit', 'app': 'regime', 'unique_together': (('symbol', 'timeframe', 'model', 'fitted_through'), ('symbol', 'timeframe', 'version')), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RegimeParameter',
            fields=[
                ('regime', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=16)),
                ('volatility_threshold', fields.FloatField()),
                ('leverage_multiplier', fields.FloatField()),
                ('position_limit', fields.FloatField()),
                ('updated_by', fields.CharField(default='', max_length=100)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'regime_parameter', 'app': 'regime', 'pk_attr': 'regime'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RegimeReading',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('symbol', fields.CharField(max_length=32)),
                ('timeframe', fields.CharField(max_length=8)),
                ('ts', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('regime', fields.CharField(max_length=16)),
                ('confidence', fields.FloatField()),
                ('probabilities', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('features', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('model', fields.CharField(max_length=32)),
                ('model_version', fields.CharField(max_length=64)),
                ('fitted_through', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'regime_reading', 'app': 'regime', 'unique_together': (('symbol', 'timeframe', 'ts'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RegimeTransition',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('symbol', fields.CharField(max_length=32)),
                ('timeframe', fields.CharField(max_length=8)),
                ('ts', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('from_regime', fields.CharField(null=True, max_length=16)),
                ('to_regime', fields.CharField(max_length=16)),
                ('confidence', fields.FloatField()),
                ('model_version', fields.CharField(max_length=64)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'regime_transition', 'app': 'regime', 'unique_together': (('symbol', 'timeframe', 'ts'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StrategyRegimes',
            fields=[
                ('strategy_id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('allowed_regimes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_by', fields.CharField(default='', max_length=100)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'regime_strategy', 'app': 'regime', 'pk_attr': 'strategy_id'},
            bases=['Model'],
        ),
    ]
