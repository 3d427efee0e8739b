"""Exception types of the swing-store.

They live in their own module so that `bundleformat` (usable without opening a
store) and the store modules share one hierarchy: callers may catch
`SwingStoreError` for anything the store rejects.
"""


class SwingStoreError(Exception):
    """Any misuse or failure reported by the swing-store."""


class BundleError(SwingStoreError, ValueError):
    """A bundle failed validation (bad zip, bad manifest, unsafe member, limits)."""


class SwingStoreImportError(SwingStoreError):
    """State-sync import rejected its input; no store was created."""
