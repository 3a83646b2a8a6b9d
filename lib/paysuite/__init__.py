"""Paysuite shared code: pure domain types, the service runtime, and generated protobuf code."""
