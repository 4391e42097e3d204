"""Database audit logs (pgAudit, MariaDB audit plugin, MySQL general log) into the `db_audit` table."""
