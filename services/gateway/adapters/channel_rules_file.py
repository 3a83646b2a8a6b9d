"""The channel rules JSON file (GATEWAY_CHANNEL_RULES_FILE): rules in order, each with a volume
split.

{"success_rate": {"window_seconds": 300, "min_samples": 20, "threshold_percent": 50},
 "rules": [{"name": "large-card", "methods": ["bank_card"], "min_amount": 500000,
            "hours": "09:00-17:00", "split": {"banksim": 70, "unionsim": 30}}]}
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.adapters.watched_file import WatchedJsonFile
from gateway.domain.channel_selection import (
    ChannelHours,
    ChannelRule,
    ChannelRules,
    Share,
    SuccessRatePolicy,
)
from gateway.domain.model import PaymentMethod


class _SuccessRate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_seconds: float = Field(default=300.0, gt=0, le=86_400)
    min_samples: int = Field(default=20, ge=1)
    threshold_percent: int = Field(default=50, ge=0, le=100)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    methods: list[PaymentMethod] = []
    currencies: list[str] = []
    merchants: list[str] = []
    min_amount: int = Field(default=0, ge=0)
    max_amount: int = Field(default=0, ge=0)
    hours: str = ""
    split: dict[str, int] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> _Rule:
        if any(weight < 1 for weight in self.split.values()):
            raise ValueError("split weights are positive integers")
        if self.max_amount and self.max_amount < self.min_amount:
            raise ValueError("max_amount is below min_amount")
        return self


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    success_rate: _SuccessRate = _SuccessRate()
    rules: list[_Rule] = []


def parse_channel_rules(document: Any, channels: Collection[str], zone: str) -> ChannelRules:
    """The rules of a parsed JSON document; ValueError naming the field when it is unusable."""
    try:
        parsed = _Document.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{where}: {first['msg']}") from None
    names = [rule.name for rule in parsed.rules]
    if len(set(names)) != len(names):
        raise ValueError("rule names must be unique")
    rules = []
    for index, rule in enumerate(parsed.rules):
        unknown = sorted(set(rule.split) - set(channels))
        if unknown:
            raise ValueError(f"rules[{index}].split: {unknown[0]} is not a channel of this gateway")
        try:
            hours = ChannelHours.parse(rule.hours, zone) if rule.hours else None
        except ValueError as exc:
            raise ValueError(f"rules[{index}].hours: {exc}") from None
        rules.append(
            ChannelRule(
                name=rule.name,
                shares=tuple(Share(channel, weight) for channel, weight in rule.split.items()),
                methods=frozenset(rule.methods),
                currencies=frozenset(rule.currencies),
                merchants=frozenset(rule.merchants),
                min_amount=rule.min_amount,
                max_amount=rule.max_amount,
                hours=hours,
            )
        )
    policy = SuccessRatePolicy(**parsed.success_rate.model_dump())
    return ChannelRules(tuple(rules), policy)


class ChannelRulesFile:
    """The channel rules in force: from the file when there is one (re-read as it changes)."""

    def __init__(
        self,
        path: Path | None,
        channels: Collection[str],
        zone: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._channels = tuple(channels)
        self._zone = zone
        self._rules = ChannelRules()
        self._file = None
        if path is not None:
            self._file = WatchedJsonFile(path, "channel rules", self._replace, clock=clock)
            self._file.load()

    def _replace(self, document: Any, first: bool) -> Mapping[str, object]:
        self._rules = parse_channel_rules(document, self._channels, self._zone)
        return {"rules": [rule.name for rule in self._rules.rules]}

    def current(self) -> ChannelRules:
        if self._file is not None:
            self._file.refresh()
        return self._rules
