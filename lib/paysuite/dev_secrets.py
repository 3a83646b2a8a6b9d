"""The simulated channels' signing secrets in dev and tests: public, and refused elsewhere.

The gateway fills them in for channels configured without a secret in dev (and refuses them
outside dev); the dev launcher gives the same ones to the simulators it starts.
"""

from __future__ import annotations

DEV_BANK_SECRET = "paysuite-dev-bank-secret"
DEV_ALIPAY_SECRET = "paysuite-dev-alipay-secret"
DEV_WECHAT_SECRET = "paysuite-dev-wechat-secret"
