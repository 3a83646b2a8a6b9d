"""Card verifications as we keep them: a keyed fingerprint of the request and the verdict."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime

from gateway.domain.ports import CardCheck, CardVerification


def fingerprint(check: CardCheck, channel: str, key: bytes) -> str:
    """HMAC-SHA256 of everything but request_id: a retry matches, a reuse does not.

    Keyed, never a plain hash: ID and phone numbers are few enough to guess from one.
    """
    body = {
        "channel": channel,
        "name": check.name,
        "id_number": check.id_number,
        "card_number": check.card_number,
        "phone": check.phone,
        "sign_agreement": check.sign_agreement,
        "method": check.method.value,
    }
    message = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, b"verify-card:" + message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class CardVerificationRecord:
    """One answered VerifyCard request; it holds no element values."""

    request_id: str
    request_hash: str
    channel: str
    result: CardVerification
    created_at: datetime
