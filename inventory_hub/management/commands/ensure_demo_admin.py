from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from inventory_hub.settings.env import env_str

USERNAME = "admin"
DEFAULT_PASSWORD = "admin"


class Command(BaseCommand):
    help = (
        "Make sure the local demo superuser 'admin' exists (password from DEMO_ADMIN_PASSWORD, "
        "default 'admin'). Sets the password only when it creates the user."
    )

    def handle(self, *args, **options) -> None:
        password = env_str("DEMO_ADMIN_PASSWORD", DEFAULT_PASSWORD)
        is_production = (settings.SETTINGS_MODULE or "").endswith(".production")
        if is_production and password == DEFAULT_PASSWORD:
            raise CommandError(
                "Refusing the default demo password under production settings; set "
                "DEMO_ADMIN_PASSWORD, or create real users with `manage.py createsuperuser`."
            )
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: USERNAME}).first()
        if user is None:
            user_model.objects.create_superuser(
                **{user_model.USERNAME_FIELD: USERNAME},
                email="admin@localhost",
                password=password,
            )
            credentials = f"as {USERNAME!r} with password {password!r}"
        elif user.check_password(password):
            credentials = f"as {USERNAME!r} with password {password!r}"
        else:
            # Someone changed it: theirs stands, and it is not ours to print.
            credentials = f"as {USERNAME!r} with the password you set"
        if user is not None and not (user.is_superuser and user.is_staff and user.is_active):
            self.stderr.write(
                f"Note: user {USERNAME!r} exists but is not an active superuser; left as it is."
            )
        url = f"http://127.0.0.1:{settings.PORT}/admin/"
        banner = "=" * 78
        self.stdout.write(
            self.style.WARNING(
                f"{banner}\n"
                f"  LOCAL DEMO ONLY: log in at {url} {credentials}.\n"
                "  Anyone who can reach this port can do the same. Set DEMO_ADMIN_PASSWORD\n"
                "  before the first start, or change the password in the admin.\n"
                f"{banner}"
            )
        )
