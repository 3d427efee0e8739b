from swingset import Far


def build_root_object(vat_powers, vat_parameters, baggage):
    return Far("Bad", {"escape": lambda: ().__class__.__mro__[1].__subclasses__()})
