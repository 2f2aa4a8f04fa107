import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.accounts.models import User
from apps.accounts.services import user_create

DEMO_EMAIL = "admin@plinto.localhost"


class Command(BaseCommand):
    help = "Create the demo operator for the embedded default (`make run`) and print its credentials once."

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        if not settings.DEBUG:
            raise CommandError("ensure_demo_admin is for local development only (DJANGO_DEBUG is off).")
        if User.objects.filter(email__iexact=DEMO_EMAIL).exists():
            self.stdout.write(f"Demo admin: {DEMO_EMAIL} (password printed when it was created; "
                              "reset it with `manage.py changepassword " + DEMO_EMAIL + "`).")
            return
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user_create(email=DEMO_EMAIL, password=password, is_staff=True, is_superuser=True,
                        first_name="Demo", last_name="Admin", source="cli")
        self.stdout.write(self.style.SUCCESS(f"Demo admin created: {DEMO_EMAIL} / {password}  (sign in at /admin/)"))
