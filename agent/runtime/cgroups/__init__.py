"""cgroups: one manager (manager.py), two drivers chosen by detection.

``v1/`` and ``v2/`` hold one module per controller; ``base.py`` the types
they share (``Limits``, ``CgroupStats``, the ``Driver`` interface).
"""

from agent.runtime.cgroups.base import CgroupStats, Driver, Limits
from agent.runtime.cgroups.manager import CgroupManager, detect

__all__ = ["CgroupManager", "CgroupStats", "Driver", "Limits", "detect"]
