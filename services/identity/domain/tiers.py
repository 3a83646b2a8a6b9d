"""PBoC payment-account tiers (2015 No. 43, Art. 11): which tier a person's evidence earns."""

from __future__ import annotations

from dataclasses import dataclass

from identity.domain.model import Tier

_ORDER = [Tier.NONE, Tier.CLASS_I, Tier.CLASS_II, Tier.CLASS_III]


def rank(tier: Tier) -> int:
    return _ORDER.index(tier)


@dataclass(frozen=True, slots=True)
class TierEvidence:
    """What the person has shown: distinct external providers, face to face, and constraints."""

    providers: frozenset[str]
    face_to_face: bool = False
    class_iii_elsewhere: bool = False
    cap: Tier | None = None


def tier_for(evidence: TierEvidence) -> Tier:
    """Class III: face to face or five providers; II: three; I: one; capped by decisions.

    A person holds one Class III account only: with one elsewhere, this one stops at II.
    """
    count = len(evidence.providers)
    if evidence.face_to_face or count >= 5:
        tier = Tier.CLASS_III
    elif count >= 3:
        tier = Tier.CLASS_II
    elif count >= 1:
        tier = Tier.CLASS_I
    else:
        tier = Tier.NONE
    if tier is Tier.CLASS_III and evidence.class_iii_elsewhere:
        tier = Tier.CLASS_II
    if evidence.cap is not None and rank(tier) > rank(evidence.cap):
        tier = evidence.cap
    return tier
