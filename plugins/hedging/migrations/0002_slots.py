from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('hedging', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='HedgeSlot',
            fields=[
                ('symbol', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('version', fields.IntField(default=0)),
            ],
            options={'table': 'hedging_slot', 'app': 'hedging', 'pk_attr': 'symbol'},
            bases=['Model'],
        ),
    ]
