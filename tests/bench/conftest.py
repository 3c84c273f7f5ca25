# The end-to-end test of the bench starts servers on a fresh database, as tests/e2e does.
from tests.e2e.conftest import e2e_database_url  # noqa: F401
