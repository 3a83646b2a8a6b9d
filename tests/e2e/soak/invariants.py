"""The soak's checks: each payment and refund against the ledger and the channel, and the calls."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from tests.e2e.soak.books import FEE_INCOME, MERCHANT_PAYABLE, Books
from tests.e2e.soak.channel_books import ChannelBooks, channel_refund, channel_view
from tests.e2e.soak.merchant import Calls
from tests.e2e.soak.states import CAPTURED, TERMINAL


def violations(books: Books, channels: ChannelBooks) -> list[str]:
    """The channel is the truth: captured exactly once iff it took the money, and each refund
    reversed exactly once iff it paid it back; nothing else in the ledger or the outbox."""
    refunds_of: dict[str, list[Any]] = defaultdict(list)
    for refund in books.refunds.values():
        refunds_of[refund["payment_id"]].append(refund)
    found: list[str] = []
    for pid, payment in sorted(books.payments.items()):
        found += _payment_violations(payment, refunds_of[pid], books, channels)
    paid_orders: dict[str, list[str]] = defaultdict(list)
    for pid, p in sorted(books.payments.items()):
        if p["state"] == "succeeded":
            paid_orders[p["merchant_order_no"]].append(pid)
    for order_no, pids in paid_orders.items():
        if len(pids) > 1:
            found.append(f"business order {order_no} succeeded more than once: {pids}")
    expected = {f"{pid}:capture" for pid, p in books.payments.items() if p["state"] in CAPTURED}
    expected |= {f"{rid}:refund" for rid, r in books.refunds.items() if r["state"] == "succeeded"}
    for tid, transfer in sorted(books.transfers.items()):
        if tid not in expected:
            found.append(
                f"unexpected ledger transfer {tid} ({transfer['state']}) "
                f"of payment {transfer['payment_id']}"
            )
    for row in books.undelivered:
        found.append(
            f"outbox {row['idempotency_key']} ({row['kind']}) undelivered after "
            f"{row['attempts']} attempts: {row['last_error'][:120]}"
        )
    return found


def _payment_violations(
    p: Any, refunds: list[Any], books: Books, channels: ChannelBooks
) -> list[str]:
    pid, state, channel, amount = p["payment_id"], p["state"], p["channel"], p["amount"]
    where = f"{pid} ({channel}, {state}, {amount} fen)"
    found = [f"handed to reconciliation: {where}"] if p["needs_reconciliation"] else []
    found += _capture_violations(p, where, books)
    at_channel, channel_amount, channel_refunded = channel_view(
        channels, channel, pid, [r["refund_id"] for r in refunds]
    )
    paid = at_channel == "paid"
    if state not in TERMINAL:
        found.append(
            f"unresolved: {where}; at the channel: {at_channel}; next query "
            f"{p['next_query_at'] or 'never'} after {p['query_attempts']}"
        )
    elif at_channel == "undecided":
        found.append(f"final at ours, still undecided at the channel: {where}")
    elif paid != (state in CAPTURED):
        found.append(f"channel says {at_channel} but we say {state}: {where}")
    if at_channel != "unknown_to_channel" and channel_amount != amount:
        found.append(f"channel amount {channel_amount} differs: {where}")
    for r in refunds:
        found += _refund_violations(r, where, channel, books, channels)
    succeeded = [r for r in refunds if r["state"] == "succeeded"]
    succeeded_total = sum(r["amount"] for r in succeeded)
    fee_back = sum(_refund_entries(books, r)[(FEE_INCOME, "D")] for r in succeeded)
    if p["refunded"] != succeeded_total and not any(r["state"] == "processing" for r in refunds):
        found.append(f"refunded {p['refunded']} but refunds total {succeeded_total}: {where}")
    fee_due = p["merchant_fee"] if succeeded_total == amount else None
    if fee_back > p["merchant_fee"] or fee_due not in (None, fee_back):
        found.append(f"refunds gave back {fee_back} of a fee of {p['merchant_fee']}: {where}")
    if paid and channel_refunded != succeeded_total:
        found.append(
            f"channel refunded {channel_refunded} but our refunds total {succeeded_total}: {where}"
        )
    if state == "duplicate":
        automatic = [r for r in refunds if r["request_id"] == f"duplicate:{pid}"]
        if [r["state"] for r in automatic] != ["succeeded"] or channel_refunded != amount:
            found.append(
                f"duplicate not refunded in full: {where}: refunds "
                f"{[(r['state'], r['amount']) for r in automatic]}, "
                f"at the channel {channel_refunded}"
            )
    return found


def _capture_violations(p: Any, where: str, books: Books) -> list[str]:
    """The capture exactly once if captured, else none: the merchant owed the amount less the
    platform's fee, which is income."""
    capture = books.transfers.get(f"{p['payment_id']}:capture")
    if p["state"] not in CAPTURED:
        return [] if capture is None else [f"not captured but a capture transfer exists: {where}"]
    if capture is None:
        return [f"captured but no capture transfer: {where}"]
    credited = Counter(
        {
            (MERCHANT_PAYABLE, "C"): p["amount"] - p["merchant_fee"],
            (FEE_INCOME, "C"): p["merchant_fee"],
        }
    )
    posted = books.entries.get(f"{p['payment_id']}:capture", Counter())
    if capture["state"] != "posted" or +posted != +credited:
        return [f"capture transfer wrong: {where}: {capture['state']}, {dict(posted)}"]
    return []


def _refund_entries(books: Books, refund: Any) -> Counter[tuple[str, str]]:
    return books.entries.get(f"{refund['refund_id']}:refund", Counter())


def _refund_violations(
    r: Any, where: str, channel: str, books: Books, channels: ChannelBooks
) -> list[str]:
    """A succeeded refund reversed once, by the merchant and the fee income between them, and
    paid back at the channel; any other refund neither."""
    r_where = f"refund {r['refund_id']} ({r['state']}, {r['amount']} fen) of {where}"
    reversal = books.transfers.get(f"{r['refund_id']}:refund")
    at_channel = channel_refund(channels, channel, r["payment_id"], r["refund_id"])
    found: list[str] = []
    if r["state"] != "succeeded":
        if reversal is not None:
            found.append(f"refund not succeeded but a reversal exists: {r_where}")
        if at_channel is not None and at_channel.ok:
            found.append(f"channel paid back a refund we do not count: {r_where}")
        return found
    posted = _refund_entries(books, r)
    given_back = posted[(MERCHANT_PAYABLE, "D")] + posted[(FEE_INCOME, "D")]
    if reversal is None:
        found.append(f"refund succeeded but no reversal: {r_where}")
    elif (
        reversal["state"] != "posted"
        or given_back != r["amount"]
        or set(+posted) - {(MERCHANT_PAYABLE, "D"), (FEE_INCOME, "D")}
    ):
        found.append(f"reversal wrong: {r_where}: {reversal['state']}, {dict(posted)}")
    if at_channel is None or not at_channel.ok:
        found.append(f"refund succeeded but the channel did not pay it: {r_where}")
    elif at_channel.amount != r["amount"]:
        found.append(f"channel refunded {at_channel.amount}: {r_where}")
    return found


def client_violations(calls: Calls, books: Books) -> list[str]:
    """Every answer names a payment we keep under its request id; retries got the same one."""
    found = list(calls.unexpected)
    by_request = {p["request_id"]: pid for pid, p in books.payments.items()}
    for request_id, answers in calls.answers.items():
        ids = {a.payment_id for a in answers}
        if len(ids) != 1 or by_request.get(request_id) not in ids:
            found.append(
                f"request {request_id} answered {sorted(ids)}, stored {by_request.get(request_id)}"
            )
    for request_id, before in calls.before_retry.items():
        answered = {a.payment_id for a in calls.answers.get(request_id, [])}
        if before is not None and answered != {before}:
            found.append(f"retry of {request_id} answered {answered}, not {before}")
    for request_id, refunds in calls.refund_answers.items():
        if len({r.refund_id for r in refunds}) != 1:
            found.append(f"refund request {request_id} answered {[r.refund_id for r in refunds]}")
    return found
