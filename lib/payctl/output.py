"""How payctl prints: JSON for machines, short lines for people, reasons for errors."""

from __future__ import annotations

import json
import sys
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from paysuite.runtime.grpc_errors import error_info, field_violations


def message_dict(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def emit(data: dict[str, Any], as_json: bool, human: str) -> None:
    sys.stdout.write((json.dumps(data, ensure_ascii=False, indent=2) if as_json else human) + "\n")


def fail(error: grpc.aio.AioRpcError) -> int:
    """Prints the error's code, reason and field violations; returns the exit code."""
    info = error_info(error)
    reason = info.reason if info else error.code().name
    lines = [f"error: {error.code().name} {reason}: {error.details()}"]
    lines += [f"  {field}: {description}" for field, description in field_violations(error)]
    sys.stderr.write("\n".join(lines) + "\n")
    return 1
