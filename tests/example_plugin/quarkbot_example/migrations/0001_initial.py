from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Note',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('text', fields.CharField(max_length=500)),
                ('author', fields.CharField(max_length=64)),
                ('stamps', fields.IntField(default=0)),
            ],
            options={'table': 'example_note', 'app': 'example', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
