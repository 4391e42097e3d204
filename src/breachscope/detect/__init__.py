"""Detection: Sigma rules compiled to SQL, and analytics."""
