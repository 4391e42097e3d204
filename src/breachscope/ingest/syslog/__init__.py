"""Syslog (RFC 3164/5424, Cisco IOS/ASA, relays) into the `syslog` table: `reader` is the reader."""
