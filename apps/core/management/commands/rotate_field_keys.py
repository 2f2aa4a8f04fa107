from django.core.management.base import BaseCommand
from django.db import transaction

from apps.core.crypto import encrypted_fields


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column under the newest key in FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size: int, **options) -> None:  # noqa: ANN002, ANN003
        from apps.audit.services import emit

        counts: dict[str, int] = {}
        for model, field in encrypted_fields():
            label = f"{model._meta.label}.{field}"
            counts[label] = 0
            pks = list(model._default_manager.exclude(**{f"{field}__isnull": True}).values_list("pk", flat=True))
            for start in range(0, len(pks), batch_size):
                with transaction.atomic():
                    # Reading decrypts with any configured key; writing encrypts with the newest.
                    rows = model._default_manager.select_for_update().filter(pk__in=pks[start:start + batch_size])
                    for pk, value in rows.values_list("pk", field):
                        model._default_manager.filter(pk=pk).update(**{field: value})
                        counts[label] += 1
            self.stdout.write(f"{label}: {counts[label]} re-encrypted")
        with transaction.atomic():
            emit(action="security.field_keys_rotated", metadata={"columns": counts})
        self.stdout.write(self.style.SUCCESS(f"Done: {sum(counts.values())} values under the newest key."))
