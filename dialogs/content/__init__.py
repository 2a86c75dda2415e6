"""Course content and other participant-facing structure, as validated data files."""
