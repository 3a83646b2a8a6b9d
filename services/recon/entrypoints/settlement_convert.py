"""SettlementService messages to domain values and back; request validation lives here."""

from __future__ import annotations

import re
from datetime import date

from paysuite.errors import Violations
from paysuite.money import CurrencyError, Money, check_currency
from paysuite.recon.v1 import settlement_service_pb2 as pb
from paysuite.runtime.enums import value_of
from paysuite.runtime.paging import Page, PageSize
from paysuite.runtime.protoconv import check_id, date_to_proto, money_to_proto, timestamp
from recon.domain.settlement import (
    BatchState,
    ChannelTotals,
    LineState,
    PayoutState,
    SettlementBatch,
    SettlementLine,
    SettlementPayout,
    SettlementSettings,
)
from recon.service_layer.settlement_views import BatchView

BATCHES_PAGE = PageSize(default=50, maximum=500)
PAYOUTS_PAGE = PageSize(default=50, maximum=500)
PAYOUT_STATES = {s: value_of(pb.SettlementPayout.State, s.name) for s in PayoutState}
LINE_STATES = {s: value_of(pb.SettlementLine.State, s.name) for s in LineState}
BATCH_STATES = {s: value_of(pb.SettlementBatch.State, s.name) for s in BatchState}
SETTINGS_FIELDS = (
    "currency_code",
    "cycle_days",
    "advance",
    "minimum_payout",
    "reserve_basis_points",
    "reserve_days",
    "account_no",
    "account_name",
)
_ACCOUNT_NO = re.compile(r"^[0-9]{6,32}$")
MAX_CYCLE_DAYS = 30
MAX_RESERVE_DAYS = 365
MAX_ACCOUNT_NAME = 64


def _money(currency: str, minor_units: int) -> Money:
    return Money(currency, minor_units)


def settings_to_proto(settings: SettlementSettings) -> pb.SettlementSettings:
    return pb.SettlementSettings(
        merchant_id=settings.merchant_id,
        currency_code=settings.currency,
        cycle_days=settings.cycle_days,
        advance=settings.advance,
        minimum_payout=money_to_proto(_money(settings.currency, settings.minimum_payout)),
        reserve_basis_points=settings.reserve_bps,
        reserve_days=settings.reserve_days,
        account_no=settings.masked_account,
        account_name=settings.account_name,
        update_time=timestamp(settings.updated_at),
    )


def _settings_paths(
    request: pb.UpdateSettlementSettingsRequest, violations: Violations
) -> list[str]:
    if not request.HasField("update_mask") or list(request.update_mask.paths) in ([], ["*"]):
        return list(SETTINGS_FIELDS)
    paths = list(request.update_mask.paths)
    for path in paths:
        if path not in SETTINGS_FIELDS:
            violations.add(
                "update_mask", f"{path!r} cannot be updated; {', '.join(SETTINGS_FIELDS)}"
            )
    return paths


def _currency(code: str, violations: Violations) -> str:
    try:
        return check_currency(code or "CNY")
    except CurrencyError:
        violations.add("settings.currency_code", "an ISO 4217 currency the suite handles")
        return "CNY"


def settings_changes(
    request: pb.UpdateSettlementSettingsRequest,
) -> tuple[str, dict[str, object]]:
    """The merchant and the changes the mask asks for, in SettlementSettings' field names."""
    violations = Violations()
    given = request.settings
    violations.require(request.HasField("settings"), "settings", "required")
    check_id(given.merchant_id, "settings.merchant_id", violations, max_length=32)
    paths = _settings_paths(request, violations)
    currency = _currency(given.currency_code, violations)
    changes: dict[str, object] = {}
    if "currency_code" in paths:
        changes["currency"] = currency
    if "cycle_days" in paths:
        violations.require(
            0 <= given.cycle_days <= MAX_CYCLE_DAYS, "settings.cycle_days", f"0 to {MAX_CYCLE_DAYS}"
        )
        changes["cycle_days"] = given.cycle_days
    if "advance" in paths:
        changes["advance"] = given.advance
    if "minimum_payout" in paths:
        minimum = given.minimum_payout
        violations.require(
            minimum.minor_units >= 0 and minimum.currency_code in ("", currency),
            "settings.minimum_payout",
            "not negative, in the settings' currency",
        )
        changes["minimum_payout"] = minimum.minor_units
    if "reserve_basis_points" in paths:
        violations.require(
            0 <= given.reserve_basis_points <= 10_000,
            "settings.reserve_basis_points",
            "0 to 10000",
        )
        changes["reserve_bps"] = given.reserve_basis_points
    if "reserve_days" in paths:
        violations.require(
            0 <= given.reserve_days <= MAX_RESERVE_DAYS,
            "settings.reserve_days",
            f"0 to {MAX_RESERVE_DAYS}",
        )
        changes["reserve_days"] = given.reserve_days
    if "account_no" in paths:
        violations.require(
            _ACCOUNT_NO.match(given.account_no) is not None,
            "settings.account_no",
            "6 to 32 digits",
        )
        changes["account_no"] = given.account_no
    if "account_name" in paths:
        name = given.account_name.strip()
        violations.text(name, "settings.account_name", at_most=MAX_ACCOUNT_NAME, required=True)
        changes["account_name"] = name
    violations.raise_if_any()
    return given.merchant_id, changes


def payout_to_proto(payout: SettlementPayout) -> pb.SettlementPayout:
    return pb.SettlementPayout(
        settlement_payout_id=payout.settlement_payout_id,
        merchant_id=payout.merchant_id,
        settlement_date=date_to_proto(payout.settlement_date),
        batch_id=payout.batch_id,
        amount=money_to_proto(_money(payout.currency, payout.amount)),
        reserve_released=money_to_proto(_money(payout.currency, payout.reserve_released)),
        advanced=payout.advanced,
        attempt=payout.attempt,
        payout_id=payout.payout_id,
        state=PAYOUT_STATES[payout.state],
        failure_reason=payout.failure_reason,
        return_reason=payout.return_reason,
        create_time=timestamp(payout.created_at),
        update_time=timestamp(payout.updated_at),
    )


def line_to_proto(line: SettlementLine, payout: SettlementPayout | None) -> pb.SettlementLine:
    totals, currency = line.totals, line.currency
    return pb.SettlementLine(
        merchant_id=line.merchant_id,
        trade_date=date_to_proto(line.trade_date),
        settlement_date=date_to_proto(line.settlement_date),
        payments=money_to_proto(_money(currency, totals.payments)),
        payments_count=totals.payments_count,
        refunds=money_to_proto(_money(currency, totals.refunds)),
        refunds_count=totals.refunds_count,
        fees=money_to_proto(_money(currency, totals.fees)),
        adjustments=money_to_proto(_money(currency, totals.adjustments)),
        net=money_to_proto(_money(currency, totals.net)),
        coupons=money_to_proto(_money(currency, totals.coupons)),
        reserve_held=money_to_proto(_money(currency, line.reserve_held)),
        reserve_release_date=date_to_proto(line.reserve_release_date),
        advanced=line.advanced,
        state=LINE_STATES[line.state],
        settlement_payout_id=payout.settlement_payout_id if payout else "",
        payout_state=(
            PAYOUT_STATES[payout.state] if payout else pb.SettlementPayout.STATE_UNSPECIFIED
        ),
    )


def _channel_to_proto(totals: ChannelTotals) -> pb.ChannelClearing:
    currency = totals.currency
    return pb.ChannelClearing(
        channel=totals.channel,
        payments=money_to_proto(_money(currency, totals.payments)),
        refunds=money_to_proto(_money(currency, totals.refunds)),
        fees=money_to_proto(_money(currency, totals.fees)),
        net=money_to_proto(_money(currency, totals.net)),
    )


def batch_to_proto(batch: SettlementBatch, view: BatchView | None = None) -> pb.SettlementBatch:
    message = pb.SettlementBatch(
        batch_id=batch.batch_id,
        trade_date=date_to_proto(batch.trade_date),
        state=BATCH_STATES[batch.state],
        create_time=timestamp(batch.created_at),
        update_time=timestamp(batch.updated_at),
    )
    if view is not None:
        message.lines.extend(line_to_proto(line, payout) for line, payout in view.lines)
        message.channels.extend(_channel_to_proto(c) for c in view.channels)
        message.payouts.extend(payout_to_proto(p) for p in view.payouts)
    return message


def dated(page: Page[tuple[str, str]]) -> tuple[date, str] | None:
    """A page's position (an ISO date and a key, as signed) as the repository takes it."""
    return (date.fromisoformat(page.after[0]), page.after[1]) if page.after else None


def payout_state(value: int) -> PayoutState | None:
    return next((s for s, v in PAYOUT_STATES.items() if v == value), None)
