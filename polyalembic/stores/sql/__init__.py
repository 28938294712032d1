"""What every SQL store shares: DSN forms, connecting with masked errors, the advisory lock."""
