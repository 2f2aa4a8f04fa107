from django.core.management.base import BaseCommand, CommandError

from apps.audit.models import PLATFORM_CHAIN
from apps.audit.selectors import chain_key_list, chain_verify


class Command(BaseCommand):
    help = "Recompute audit hash chains and name the first broken row. Exits non-zero if one is broken."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--org", help="Organization id whose chain to verify (default: the platform chain).")
        which.add_argument("--all", action="store_true", help="Verify every chain.")

    def handle(self, *args, org: str | None, all: bool, **options) -> None:  # noqa: A002, ANN002, ANN003
        keys = chain_key_list() if all else [org or PLATFORM_CHAIN]
        broken = []
        for key in keys:
            result = chain_verify(chain_key=key)
            if result.ok:
                pruned = f" (after {result.events_pruned} pruned by retention)" if result.events_pruned else ""
                self.stdout.write(f"{key}: ok, {result.events_checked} events{pruned}")
            else:
                broken.append(key)
                self.stdout.write(f"{key}: BROKEN at event {result.first_broken_id or '(tail)'}: "
                                  f"{result.reason} ({result.events_checked} events checked)")
        if broken:
            raise CommandError(f"{len(broken)} chain(s) broken: {', '.join(broken)}")
