"""Errors that stop the node. They are sticky: once the host is decohered every later
directive raises again, so nothing can commit on top of an inconsistent state."""


class HostError(RuntimeError):
    pass


class DecoheredError(HostError):
    """The chain and the swing-store disagree about where they are (height gap, a second
    BEGIN_BLOCK for a new height, a directive for the wrong height). Needs an operator."""


class ReplayMismatchError(DecoheredError):
    """Re-applying a recorded chain-send gave a different result than the first time."""
