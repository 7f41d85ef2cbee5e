from tortoise import migrations
from tortoise.migrations import operations as ops
from decimal import Decimal
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='BudgetFill',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('fill_id', fields.CharField(unique=True, max_length=100)),
                ('order_id', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'budget_fill', 'app': 'budget', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BudgetLedger',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('strategy_id', fields.CharField(db_index=True, max_length=64)),
                ('currency', fields.CharField(max_length=16)),
                ('allocated', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('reserved', fields.DecimalField(default=Decimal('0'), max_digits=30, decimal_places=12)),
                ('committed', fields.DecimalField(default=Decimal('0'), max_digits=30, decimal_places=12)),
                ('available', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('realized_pnl', fields.DecimalField(default=Decimal('0'), max_digits=30, decimal_places=12)),
                ('total_fees', fields.DecimalField(default=Decimal('0'), max_digits=30, decimal_places=12)),
                ('owner', fields.CharField(max_length=100)),
                ('created_by', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'budget_ledger', 'app': 'budget', 'unique_together': (('strategy_id', 'currency'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BudgetPosition',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('strategy_id', fields.CharField(max_length=64)),
                ('symbol', fields.CharField(max_length=32)),
                ('currency', fields.CharField(max_length=16)),
                ('quantity', fields.DecimalField(default=Decimal('0'), max_digits=30, decimal_places=12)),
                ('avg_price', fields.DecimalField(default=Decimal('0'), max_digits=30, decimal_places=12)),
                ('committed', fields.DecimalField(default=Decimal('0'), max_digits=30, decimal_places=12)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'budget_position', 'app': 'budget', 'unique_together': (('strategy_id', 'symbol'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BudgetReservation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order_id', fields.IntField(unique=True)),
                ('strategy_id', fields.CharField(max_length=64)),
                ('currency', fields.CharField(max_length=16)),
                ('amount', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('remaining', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('status', fields.CharField(default='open', db_index=True, max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'budget_reservation', 'app': 'budget', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
