"""Full-text search of messages: a stored tsvector of each body in English and
French (stemmed) and in a simple, accent-free form, with a GIN index.

The accent-free form uses ``chat_unaccent``, a plain SQL function of this
migration (the ``unaccent`` extension would need a superuser to install)."""

from django.db import migrations

# Latin letters with diacritics, and what they become.
ACCENTED = "àáâãäåāăąçćčďđèéêëēĕėęěìíîïĩīĭįıñńňòóôõöøōŏőùúûüũūŭůűųýÿźżžśšşţťŕřľĺłğ"
PLAIN = "aaaaaaaaacccddeeeeeeeeeiiiiiiiiinnnooooooooouuuuuuuuuuyyzzzsssttrrlllg"

FORWARD = f"""
CREATE FUNCTION chat_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate(lower($1), '{ACCENTED}', '{PLAIN}') $$;
ALTER TABLE chat_message ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('english', body) || to_tsvector('french', body)
    || to_tsvector('simple', chat_unaccent(body))
) STORED;
CREATE INDEX chat_message_search ON chat_message USING gin (search);
"""

BACKWARD = """
DROP INDEX chat_message_search;
ALTER TABLE chat_message DROP COLUMN search;
DROP FUNCTION chat_unaccent(text);
"""


class Migration(migrations.Migration):
    dependencies = [("chat", "0004_revisions")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
