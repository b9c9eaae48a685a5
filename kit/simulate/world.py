"""The simulated world's state beyond moto's backends: the trail, the failing instances, fleet counters.

moto keeps its backends per process; this state lives beside them, per process too, created on first use.
Every SimulatedAccount in a process serves the same world (as every moto server in a process does).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kit.simulate.trail import Trail

DEFAULT_ACCOUNT = "123456789012"
OTHER_ACCOUNT = "444455556666"
MANAGEMENT_ACCOUNT = "111122223333"   # the Organizations management account (SCPs do not apply to it)


@dataclass
class World:
    """Process-wide simulated state that moto does not hold."""

    trail: Trail = field(default_factory=Trail)
    failures: dict[tuple[str, str, str], Any] = field(default_factory=dict)   # (acct, region, instance) -> Launch
    ordinals: dict[str, int] = field(default_factory=dict)
    prepared: set[tuple[str, str]] = field(default_factory=set)             # (acct, region) with base resources
    organization: dict[str, str] = field(default_factory=dict)             # root_id, ou_id, management, org_id
    org_trail: Any = None                                                  # kit.simulate.trail.DigestChain
    noise_principals: dict[str, Any] = field(default_factory=dict)        # account -> the read-only viewer
    activities: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)  # Auto Scaling
    base_images: dict[tuple[str, str], str] = field(default_factory=dict)  # (acct, region) -> base AMI id
    applied_changes: set[tuple[str, str, str]] = field(default_factory=set)  # (scenario, acct, region)
    kms_unrecorded: set[tuple[str, str]] = field(default_factory=set)     # (acct, region) whose trail leaves KMS out
    fleets: dict[tuple[str, str, str], list[tuple[str, Any]]] = field(default_factory=dict)  # fleet -> (instance, at)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def next_ordinal(self, name: str) -> int:
        """1 for the first seeding of `name` in this process, 2 for the next, ..."""
        with self.lock:
            self.ordinals[name] = self.ordinals.get(name, 0) + 1
            return self.ordinals[name]


_world: World | None = None
_world_lock = threading.Lock()


def world() -> World:
    """The process's simulated world (created on first use)."""
    global _world
    with _world_lock:
        if _world is None:
            _world = World()
        return _world


def partner_account(account_id: str) -> str:
    """The 'other' account of a scenario: 444455556666, or 123456789012 when seeding into 444455556666."""
    return DEFAULT_ACCOUNT if account_id == OTHER_ACCOUNT else OTHER_ACCOUNT
