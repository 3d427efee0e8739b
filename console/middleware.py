from django.conf import settings
from django.contrib.auth.views import redirect_to_login

# Paths that answer without a session: the login page itself, machine endpoints with their
# own auth (healthz is public by design: load balancers probe it; metrics has a token).
PUBLIC_PREFIXES = ("/accounts/login/", "/healthz", "/metrics", "/static/")


class LoginRequiredMiddleware:
    """Every page requires login unless listed above: safer than remembering a decorator."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(PUBLIC_PREFIXES):
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)
