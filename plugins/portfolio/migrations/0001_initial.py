from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='PortfolioSnapshot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ts', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('account', fields.CharField(max_length=64)),
                ('total_equity', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('cash', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('positions_value', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('unrealized_pnl', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('realized_pnl', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('peak_equity', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('max_drawdown_pct', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('reason', fields.CharField(max_length=8)),
            ],
            options={'table': 'portfolio_snapshot', 'app': 'portfolio', 'indexes': [Index(fields=['account', 'ts'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
