"""Version constants of this kernel bundle.

The controller reads these with `ast.literal_eval` from the source tree when it
*bundles* the kernel (to write the manifest), and from the loaded bundle when it
*runs* it; keep them plain literals.

- KERNEL_API_VERSION: the shape of the entry points the controller calls
  (`initialize_kernel`, `make_kernel` and the Kernel methods). A controller
  refuses a kernel bundle whose manifest declares an API it does not speak.
- STATE_SCHEMA_VERSION: the layout of kernel state in the kvStore (key `version`).
  A kernel refuses to start on a schema it cannot handle; a newer kernel may
  carry migration steps from older schemas (see schema.py).
- KERNEL_VERSION: a human-readable release string shown in the console.
"""

KERNEL_API_VERSION = 1
STATE_SCHEMA_VERSION = 1
KERNEL_VERSION = "kernel-console-0.1.0"
