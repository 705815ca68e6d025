"""What every room below the front doors shares: errors and exit codes, project paths, secret redaction,
the optional extras' table, and the fast exit."""
