"""The RPC semantic-convention attributes of a gRPC method, as the runtime's spans, metrics and
refusal counts label a call."""

from __future__ import annotations


def method_name(method: str | bytes) -> str:
    """The full method name ("/package.Service/Method"); grpc.aio hands client interceptors
    bytes (grpc/grpc#31092)."""
    return method.decode() if isinstance(method, bytes) else method


def rpc_attributes(method: str | bytes) -> dict[str, str]:
    """rpc.system, rpc.service and rpc.method of a full method name."""
    service, _, name = method_name(method).strip("/").rpartition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
