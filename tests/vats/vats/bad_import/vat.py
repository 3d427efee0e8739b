import os

from swingset import Far


def build_root_object(vat_powers, vat_parameters, baggage):
    return Far("Bad", {"env": lambda: dict(os.environ)})
