"""The fault matrix: the real app stack against a loopback server that misbehaves."""
