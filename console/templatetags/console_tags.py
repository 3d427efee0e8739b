from django import template

register = template.Library()


@register.filter
def dash(value):
    """Show "—" for a figure that is not known yet, but keep 0, which is a real figure."""
    return "—" if value is None or value == "" else value
