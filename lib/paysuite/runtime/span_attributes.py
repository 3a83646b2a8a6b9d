"""The names of Paysuite's own span and metric attributes, in one place (docs/operations.md).

Convention: every name is `paysuite.<thing>.<field>`, lower case, words joined by `_`: the
thing a span or measurement is about (a payment, merchant, route, attempt ...) and the field
of it. `paysuite.channel` names the channel itself (its configured name). Prometheus turns the
dots into underscores (`paysuite.route.id` is the label `paysuite_route_id`). Values are ids,
states and reasons only: never a card or ID number, a name or a phone.
"""

from __future__ import annotations

from typing import Final

# The payment a span or measurement is about.
PAYMENT_ID: Final = "paysuite.payment.id"
PAYMENT_STATE: Final = "paysuite.payment.state"
PAYMENT_METHOD: Final = "paysuite.payment.method"

# The merchant it is for, and the merchant's own order number.
MERCHANT_ID: Final = "paysuite.merchant.id"
MERCHANT_ORDER_NO: Final = "paysuite.merchant.order_no"

# A payout (代付) and its purpose and state.
PAYOUT_ID: Final = "paysuite.payout.id"
PAYOUT_PURPOSE: Final = "paysuite.payout.purpose"
PAYOUT_STATE: Final = "paysuite.payout.state"

# The external channel (its configured name: banksim, alipaysim ...).
CHANNEL: Final = "paysuite.channel"

# One attempt of a payment or payout on a channel: its number, what the channel answered and
# the channel's error code when it refused.
ATTEMPT_NUMBER: Final = "paysuite.attempt.number"
ATTEMPT_OUTCOME: Final = "paysuite.attempt.outcome"
ATTEMPT_ERROR: Final = "paysuite.attempt.error"

# The janitor's query of a payment the channel has not answered definitely (1 for the first).
QUERY_ATTEMPT: Final = "paysuite.query.attempt"
# What a due query is about in the janitor's backlog: payment or payout.
QUERY_TARGET: Final = "paysuite.query.target"

# Channel selection: the rule that chose, why, and the channels it could choose from.
CHANNEL_SELECTION_RULE: Final = "paysuite.channel_selection.rule"
CHANNEL_SELECTION_REASON: Final = "paysuite.channel_selection.reason"
CHANNEL_SELECTION_CANDIDATES: Final = "paysuite.channel_selection.candidates"

# Egress routing: the route (proxy) a call to a channel went over and why, and how it went.
ROUTE_ID: Final = "paysuite.route.id"
ROUTE_REASON: Final = "paysuite.route.reason"
EGRESS_OUTCOME: Final = "paysuite.egress.outcome"

# A channel's notification as the listener took it.
NOTIFICATION_RESULT: Final = "paysuite.notification.result"

# A card verification's outcome.
VERIFICATION_OUTCOME: Final = "paysuite.verification.outcome"

# A payment event sent to a merchant (its sequence among the payment's events).
EVENT_SEQUENCE: Final = "paysuite.event.sequence"

# Batched work: how many items one span or flush carries.
BATCH_SIZE: Final = "paysuite.batch.size"
OUTBOX_MESSAGES: Final = "paysuite.outbox.messages"
OUTBOX_TOPIC: Final = "paysuite.outbox.topic"

# The ledger: a transfer's result and which path a batch was posted by.
TRANSFER_RESULT: Final = "paysuite.transfer.result"
POSTING_PATH: Final = "paysuite.ledger.posting_path"
GROUP_COMMIT_REQUESTS: Final = "paysuite.group_commit.requests"
GROUP_COMMIT_ITEMS: Final = "paysuite.group_commit.items"

# Reconciliation: a run, its final state, what it found of an item, an open item's age bucket.
RUN_ID: Final = "paysuite.run.id"
RUN_STATE: Final = "paysuite.run.state"
RECON_OUTCOME: Final = "paysuite.recon.outcome"
ITEM_AGE: Final = "paysuite.item.age"
