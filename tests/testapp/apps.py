from django.apps import AppConfig


class TestAppConfig(AppConfig):
    """Models that exist only in the test suite (installed by plinto.settings.test)."""

    name = "tests.testapp"
    label = "testapp"
