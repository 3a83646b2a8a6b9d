"""Channel selection: which channel takes a payment.

The channel rules (GATEWAY_CHANNEL_RULES_FILE) split a payment's volume between channels; a
channel's terms (its hours, its largest charge) rule it out, and a low recent success rate
pushes it back. Which route then carries the request to the chosen channel is another
matter: gateway.domain.egress.
"""

from gateway.domain.channel_selection.hours import ChannelHours, DailyWindow
from gateway.domain.channel_selection.selection import (
    ChannelDecision,
    ChannelRule,
    ChannelRules,
    ChannelTerms,
    OrderToPlace,
    Share,
    SuccessRatePolicy,
    select_channel,
)
from gateway.domain.channel_selection.success_rates import SuccessRates

__all__ = [
    "ChannelDecision",
    "ChannelHours",
    "ChannelRule",
    "ChannelRules",
    "ChannelTerms",
    "DailyWindow",
    "OrderToPlace",
    "Share",
    "SuccessRatePolicy",
    "SuccessRates",
    "select_channel",
]
