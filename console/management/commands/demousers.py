from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from console.services.users import demo_users_ensure


class Command(BaseCommand):
    help = "Create one demo login per role (operators, voters, admins) and print them."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo users are only created with DEBUG on")
        self.stdout.write("Demo logins (http://127.0.0.1:8000/):")
        for username, password, roles in demo_users_ensure():
            self.stdout.write(f"  {username:<9} / {password:<20} role: {', '.join(roles)}")
