"""A loop author's package (aioref's example consumer workspace)."""
