"""The proxy tests start real servers as the end-to-end tests do."""

from tests.e2e.conftest import module_database_url

__all__ = ["module_database_url"]
