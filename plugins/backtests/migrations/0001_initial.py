from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Backtest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_by', fields.CharField(db_index=True, max_length=100)),
                ('strategy_type', fields.CharField(max_length=64)),
                ('strategy_id', fields.IntField(null=True, db_index=True)),
                ('strategy_name', fields.CharField(null=True, max_length=200)),
                ('symbols', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('timeframe', fields.CharField(max_length=4)),
                ('start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('end', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('initial_capital', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('fees', fields.FloatField(default=0.0)),
                ('slippage', fields.FloatField(default=0.0)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('param_grid', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('rank_by', fields.CharField(default='sharpe_ratio', max_length=32)),
                ('combinations', fields.IntField(default=1)),
                ('chunk_size', fields.IntField(default=2000)),
                ('chunks', fields.IntField(default=1)),
                ('chunks_done', fields.IntField(default=0)),
                ('status', fields.CharField(default='queued', db_index=True, max_length=16)),
                ('error', fields.TextField(null=True, unique=False)),
                ('metrics', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('best_params', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('best_index', fields.IntField(null=True)),
                ('equity', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('trades', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('final_value', fields.DecimalField(null=True, max_digits=30, decimal_places=12)),
                ('total_return_pct', fields.FloatField(null=True)),
                ('total_trades', fields.IntField(null=True)),
                ('job_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'backtests_backtest', 'app': 'backtests', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BacktestChunk',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('backtest', fields.ForeignKeyField('backtests.Backtest', source_field='backtest_id', db_constraint=True, to_field='id', related_name='chunk_records', on_delete=OnDelete.CASCADE)),
                ('index', fields.IntField()),
                ('job_id', fields.CharField(null=True, max_length=64)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('worker', fields.CharField(null=True, max_length=200)),
                ('rows', fields.IntField(default=0)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'backtests_chunk', 'app': 'backtests', 'unique_together': (('backtest', 'index'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BacktestRow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('backtest', fields.ForeignKeyField('backtests.Backtest', source_field='backtest_id', db_constraint=True, to_field='id', related_name='rows', on_delete=OnDelete.CASCADE)),
                ('combination', fields.IntField()),
                ('symbol', fields.CharField(max_length=32)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('total_return_pct', fields.FloatField(null=True)),
                ('cagr', fields.FloatField(null=True)),
                ('sharpe_ratio', fields.FloatField(null=True)),
                ('sortino_ratio', fields.FloatField(null=True)),
                ('calmar_ratio', fields.FloatField(null=True)),
                ('max_drawdown_pct', fields.FloatField(null=True)),
                ('win_rate', fields.FloatField(null=True)),
                ('profit_factor', fields.FloatField(null=True)),
                ('exposure_pct', fields.FloatField(null=True)),
                ('alpha_pct', fields.FloatField(null=True)),
                ('final_value', fields.FloatField(null=True)),
                ('total_trades', fields.IntField(default=0)),
            ],
            options={'table': 'backtests_row', 'app': 'backtests', 'unique_together': (('backtest', 'combination', 'symbol'),), 'indexes': [Index(fields=['backtest_id', 'sharpe_ratio']), Index(fields=['backtest_id', 'total_return_pct'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
