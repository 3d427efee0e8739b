"""Host-side control of the kernel: genesis, loading the kernel from its stored
bundle, the controller API and run policies. Outside the kernel bundle."""

from .config import DEFAULT_GENESIS, load_config
from .controller import (
    SUPPORTED_KERNEL_API_VERSIONS,
    Controller,
    KernelPanic,
    KernelRef,
    KernelStartError,
    initialize_swingset,
    make_controller,
)
from .kernel_loader import KernelBundleError
from .policies import ComputronBudget, CrankLimit, RunPolicy, computron_budget, crank_limit, until_empty

__all__ = [
    "DEFAULT_GENESIS",
    "SUPPORTED_KERNEL_API_VERSIONS",
    "ComputronBudget",
    "Controller",
    "CrankLimit",
    "KernelBundleError",
    "KernelPanic",
    "KernelRef",
    "KernelStartError",
    "RunPolicy",
    "computron_budget",
    "crank_limit",
    "initialize_swingset",
    "load_config",
    "make_controller",
    "until_empty",
]
