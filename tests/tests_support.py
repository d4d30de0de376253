"""Re-export test helpers under one importable name (tests are not a package)."""

from fault_proxy import FAULTS, FaultProxy

__all__ = ["FAULTS", "FaultProxy"]
