"""Tiers: recomputed from a person's verifications, lowered by decision, frozen; all audited."""

from __future__ import annotations

from dataclasses import dataclass

from identity.domain.model import PersonRuleRefused, Tier, User, UserState
from identity.domain.tiers import TierEvidence, rank, tier_for
from identity.service_layer.deps import IdentityDeps
from identity.service_layer.errors import NotADowngrade, UserNotFound
from identity.service_layer.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class TierView:
    tier: Tier
    external_verifications: int
    face_to_face: bool
    downgraded: bool


async def evidence_for(work: UnitOfWork, user: User, id_number_bidx: str) -> TierEvidence:
    assert user.customer_id is not None
    others = [u for u in await work.repo.users_of(user.customer_id) if u.user_id != user.user_id]
    return TierEvidence(
        providers=await work.repo.matched_providers(id_number_bidx),
        face_to_face=await work.repo.face_to_face(user.customer_id),
        class_iii_elsewhere=any(u.tier is Tier.CLASS_III for u in others),
        cap=user.tier_cap,
    )


async def retier(deps: IdentityDeps, work: UnitOfWork, user: User, id_number_bidx: str) -> Tier:
    """Sets the tier the evidence earns; a concurrent Class III elsewhere leaves this at II."""
    tier = tier_for(await evidence_for(work, user, id_number_bidx))
    if tier is user.tier:
        return tier
    try:
        await work.repo.update_user_per_person(user.user_id, tier=tier.value)
    except PersonRuleRefused:
        # The database's one-Class-III-per-person index: someone else got there first.
        tier = Tier.CLASS_II
        await work.repo.update_user(user.user_id, tier=tier.value)
    await work.repo.add_event(
        user.user_id, "tier_changed", f"{user.tier.value}->{tier.value}", deps.clock()
    )
    return tier


async def get_tier(deps: IdentityDeps, user_id: str) -> TierView:
    async with deps.uow() as work:
        user = await work.repo.get_user(user_id)
        if user is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        if user.customer_id is None:
            return TierView(user.tier, 0, False, user.tier_cap is not None)
        person = await work.repo.customer(user.customer_id)
        assert person is not None
        providers = await work.repo.matched_providers(person.id_number_bidx)
        face = await work.repo.face_to_face(user.customer_id)
    return TierView(user.tier, len(providers), face, user.tier_cap is not None)


async def downgrade(deps: IdentityDeps, user_id: str, tier: Tier, reason: str) -> User:
    async with deps.uow() as work:
        user = await work.repo.get_user(user_id, lock=True)
        if user is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        if rank(tier) >= rank(user.tier):
            raise NotADowngrade(
                "the new tier must be lower than the current one",
                metadata={"tier": user.tier.value},
            )
        await work.repo.update_user(user_id, tier=tier.value, tier_cap=tier.value)
        await work.repo.add_event(
            user_id, "tier_downgraded", f"{user.tier.value}->{tier.value}: {reason}", deps.clock()
        )
        updated = await work.repo.get_user(user_id)
        await work.commit()
    assert updated is not None
    return updated


async def freeze(deps: IdentityDeps, user_id: str, frozen: bool, reason: str) -> User:
    async with deps.uow() as work:
        user = await work.repo.get_user(user_id, lock=True)
        if user is None:
            raise UserNotFound("user not found", metadata={"user_id": user_id})
        state = UserState.FROZEN if frozen else UserState.ACTIVE
        if user.state is not UserState.CLOSED and user.state is not state:
            await work.repo.update_user(user_id, state=state.value)
            await work.repo.add_event(
                user_id, "frozen" if frozen else "unfrozen", reason, deps.clock()
            )
        updated = await work.repo.get_user(user_id)
        await work.commit()
    assert updated is not None
    return updated
