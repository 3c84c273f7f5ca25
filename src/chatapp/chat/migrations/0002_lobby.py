from django.db import migrations


def create_lobby(apps, schema_editor):
    Room = apps.get_model("chat", "Room")
    if not Room.objects.filter(kind="public", title="Lobby").exists():
        Room.objects.create(kind="public", title="Lobby")


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial")]

    operations = [migrations.RunPython(create_lobby, migrations.RunPython.noop)]
