from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='BarRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('symbol', fields.CharField(max_length=32)),
                ('timeframe', fields.CharField(max_length=4)),
                ('ts', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('open', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('high', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('low', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('close', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('volume', fields.DecimalField(max_digits=30, decimal_places=12)),
            ],
            options={'table': 'market_data_bar', 'app': 'market_data', 'unique_together': (('symbol', 'timeframe', 'ts'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InstrumentRecord',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('symbol', fields.CharField(unique=True, max_length=32)),
                ('kind', fields.CharField(max_length=16)),
                ('base_currency', fields.CharField(max_length=16)),
                ('quote_currency', fields.CharField(max_length=16)),
                ('name', fields.CharField(default='', max_length=200)),
                ('sector', fields.CharField(null=True, max_length=64)),
                ('tick_size', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('lot_size', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('min_notional', fields.DecimalField(max_digits=30, decimal_places=12)),
                ('max_leverage', fields.IntField(default=1)),
                ('is_active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'market_data_instrument', 'app': 'market_data', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
