"""The runners of the aioref conformance suite (tools/capture, tools/conform, tools/compare)."""
