from tortoise import fields
from tortoise.models import Model


class Note(Model):
    id = fields.IntField(primary_key=True)
    text = fields.CharField(max_length=500)
    author = fields.CharField(max_length=64)
    stamps = fields.IntField(default=0)

    class Meta:
        table = "example_note"
