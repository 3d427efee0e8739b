"""Misbehaves at run time: spins forever or allocates 4 GB."""

from swingset import Far


def build_root_object(vat_powers, vat_parameters, baggage):
    def spin():
        n = 0
        while True:
            n += 1

    def hog():
        blob = bytearray(4 * 1024 * 1024 * 1024)
        return len(blob)

    return Far("Hog", {"spin": spin, "hog": hog, "echo": lambda x: x})
