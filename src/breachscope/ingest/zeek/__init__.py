"""Zeek TSV and JSON logs into `zeek_<log type>` tables: `readers` holds the two readers, the rest their parts."""
