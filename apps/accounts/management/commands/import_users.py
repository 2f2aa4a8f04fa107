from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.importers import (
    ImportFileError,
    ImportFormat,
    RowStatus,
    result_line,
    results_summary,
    rows_parse,
    users_import,
)


class Command(BaseCommand):
    help = ("Import users from an Auth0, Clerk or CSV export, keeping their password hashes (they become "
            "Argon2id at each user's next sign-in). Prints one line per row and a summary; exits non-zero if "
            "any row failed. Re-running the same file skips the e-mails that already exist.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path, help="The export file (UTF-8).")
        parser.add_argument("--format", required=True, choices=ImportFormat.values,
                            help="auth0: JSON array or JSON lines; clerk: the dashboard's CSV export; "
                                 "csv: email,first_name,last_name,email_verified,password_hash,password_hasher.")
        parser.add_argument("--dry-run", action="store_true", help="Check every row; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        fmt: str = options["format"]
        dry_run: bool = options["dry_run"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        try:
            rows = rows_parse(data=data, fmt=fmt)
        except ImportFileError as exc:
            raise CommandError(f"{path}: {exc}") from None

        results = users_import(rows=rows, dry_run=dry_run, actor=None, source=fmt)
        styles = {RowStatus.OK: self.style.SUCCESS, RowStatus.SKIPPED: self.style.WARNING,
                  RowStatus.ERROR: self.style.ERROR}
        for result in results:
            self.stdout.write(result_line(result), styles[result.status])
        self.stdout.write(results_summary(results, dry_run=dry_run))
        failed = sum(1 for result in results if result.status == RowStatus.ERROR)
        if failed:
            raise CommandError(f"{failed} row(s) failed; fix them and run the same file again "
                               "(rows already imported are skipped).")
