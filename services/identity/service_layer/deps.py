"""What identity's use cases need, wired once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from identity.adapters.crypto import PiiVault
from identity.domain.limits import LimitPolicy
from identity.domain.verification import CardVerifier
from identity.service_layer.unit_of_work import (
    LimitSessionFactory,
    LimitUnitFactory,
    UnitOfWorkFactory,
)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class VerificationPolicy:
    """Attempts allowed per rolling day, and whether a person may real-name one user only."""

    attempts_per_user_per_day: int = 10
    attempts_per_person_per_day: int = 10
    one_user_per_person: bool = True


@dataclass(frozen=True)
class IdentityDeps:
    uow: UnitOfWorkFactory
    # On the payment path's own pool: units for reservations and the limits read; sessions,
    # outside a transaction, for settlements (one statement each).
    limit_units: LimitUnitFactory
    limit_sessions: LimitSessionFactory
    vault: PiiVault
    verifier: CardVerifier
    clock: Clock
    bins: Callable[[str], tuple[str, str]] = lambda _: ("", "")  # card -> (bank name, type)
    limits: LimitPolicy = field(default_factory=LimitPolicy)
    verification: VerificationPolicy = field(default_factory=VerificationPolicy)
