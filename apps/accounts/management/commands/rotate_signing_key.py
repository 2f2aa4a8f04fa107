from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.services.tokens import signing_key_rotate
from apps.audit.services import emit


class Command(BaseCommand):
    help = ("Add a new access-token signing key and sign with it from now on. Older keys stay in the JWKS "
            "until the last token they signed has expired.")

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        with transaction.atomic():
            key = signing_key_rotate()
            emit(action="security.signing_key_rotated", metadata={"kid": key.kid})
        self.stdout.write(self.style.SUCCESS(f"Now signing with {key.algorithm} key {key.kid}."))
