"""kit.simulate: the simulated AWS account (moto plus what moto lacks) and the scenario catalogue.

Names are imported lazily so that `import kit.simulate` starts nothing and imports no moto.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SimulatedAccount", "SeededScenario", "load_catalogue"]


def __getattr__(name: str) -> Any:
    if name == "SimulatedAccount":
        from kit.simulate.account import SimulatedAccount
        return SimulatedAccount
    if name == "SeededScenario":
        from kit.simulate.seeder import SeededScenario
        return SeededScenario
    if name == "load_catalogue":
        from kit.simulate.catalogue import load_catalogue
        return load_catalogue
    raise AttributeError(name)
