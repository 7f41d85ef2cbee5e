from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='MetricPoint',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('metric', fields.CharField(max_length=64)),
                ('labels', fields.CharField(default='{}', max_length=512)),
                ('resolution', fields.CharField(max_length=4)),
                ('ts', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('count', fields.FloatField()),
                ('sum', fields.FloatField()),
                ('min', fields.FloatField()),
                ('max', fields.FloatField()),
            ],
            options={'table': 'metrics_point', 'app': 'metrics', 'unique_together': (('metric', 'resolution', 'labels', 'ts'),), 'indexes': [Index(fields=['metric', 'resolution', 'ts'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
