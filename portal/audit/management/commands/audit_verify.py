from django.core.management.base import BaseCommand, CommandError

from portal.audit.selectors import verify


class Command(BaseCommand):
    help = (
        "Verify every seal of the audit log's chain, streaming from the first entry; name the "
        "key ids seen; exit 1 naming the first bad entry."
    )

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000, help="Entries per fetch.")

    def handle(self, *args, **options):
        result = verify(chunk_size=options["chunk_size"])
        key_ids = ", ".join(result.key_ids) or "none"
        if not result.ok:
            raise CommandError(
                f"Audit chain broken at entry #{result.first_bad_seq}: {result.reason} "
                f"({result.entries} entries verified before it, key ids: {key_ids})."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Audit chain intact: {result.entries} entries, key ids: {key_ids}.")
        )
