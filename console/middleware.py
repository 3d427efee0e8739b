from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse

# Paths that answer without a session: the login page itself, machine endpoints with their
# own auth (healthz is public by design: load balancers probe it; metrics has a token), and
# the OpenAPI document, public on purpose: it describes the API and holds no data.
PUBLIC_PREFIXES = ("/accounts/login/", "/healthz", "/metrics", "/static/", "/api/openapi.yaml")

# The JSON API (console/openapi.yaml): a client gets 401/403 JSON there, not a login page.
API_PREFIX = "/api/"


def _api_error(message: str, status: int) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    if status == 401:
        # RFC 9110 requires a challenge with a 401; the credential is the session cookie.
        response["WWW-Authenticate"] = 'Session realm="kernel-console"'
    return response


class LoginRequiredMiddleware:
    """Every page requires login unless listed above: safer than remembering a decorator.
    HTML pages redirect an anonymous request to the login page; /api/ paths answer 401 JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(PUBLIC_PREFIXES):
            if request.path.startswith(API_PREFIX):
                return _api_error("authentication required", 401)
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)

    def process_exception(self, request, exception):
        """A role check refusing an /api/ request (console.roles.role_required) answers 403
        JSON; pages keep Django's 403 page."""
        if isinstance(exception, PermissionDenied) and request.path.startswith(API_PREFIX):
            return _api_error(str(exception) or "permission denied", 403)
        return None
