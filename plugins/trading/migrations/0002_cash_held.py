from tortoise import migrations
from tortoise.migrations import operations as ops
from decimal import Decimal
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('trading', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='CashBalance',
            name='held',
            field=fields.DecimalField(default=Decimal('0'), db_default=Decimal('0'), max_digits=30, decimal_places=12),
        ),
        ops.AddField(
            model_name='Order',
            name='hold_currency',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Order',
            name='hold_rate',
            field=fields.DecimalField(null=True, max_digits=30, decimal_places=12),
        ),
    ]
