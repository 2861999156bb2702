from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand

from connectors.sync.configure import reencrypt_connector_secrets


class Command(BaseCommand):
    help = (
        "Re-encrypt every connector secret with the first key of HUB_SECRET_KEYS. Rotation: "
        "put a new key first (keep the old ones after it), restart, run this, then drop the "
        "old keys. --new-key prints a fresh key and changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--new-key", action="store_true", help="Print a new Fernet key and exit."
        )

    def handle(self, *args, new_key: bool = False, **options) -> None:
        if new_key:
            self.stdout.write(Fernet.generate_key().decode())
            return
        count = reencrypt_connector_secrets()
        self.stdout.write(
            f"Re-encrypted the secrets of {count} connector(s) with the first key of "
            "HUB_SECRET_KEYS; older keys can now be removed."
        )
