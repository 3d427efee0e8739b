from console.roles import ADMINS, OPERATORS, VOTERS, user_roles

# (label, url name, roles that see it); every role may watch the node.
NAVIGATION = (
    ("Dashboard", "dashboard", (OPERATORS, VOTERS, ADMINS)),
    ("Run-queue", "runqueue", (OPERATORS, VOTERS, ADMINS)),
    ("Vats", "vats", (OPERATORS, VOTERS, ADMINS)),
    ("Chain-sends", "chainsends", (OPERATORS, VOTERS, ADMINS)),
    ("Governance", "governance", (OPERATORS, VOTERS, ADMINS)),
    ("Bundles", "bundles", (ADMINS,)),
    ("Blocks", "blocks", (OPERATORS, VOTERS, ADMINS)),
    ("Audit log", "audit-log", (ADMINS,)),
)


def navigation(request):
    roles = user_roles(request.user)
    items = [
        {"label": label, "url_name": url_name}
        for label, url_name, allowed in NAVIGATION
        if roles & set(allowed)
    ]
    return {"nav_items": items, "user_roles": sorted(roles)}
