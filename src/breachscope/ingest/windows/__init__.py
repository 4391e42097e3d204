"""Windows events: EVTX, evtx_dump JSON, JSON lines from Winlogbeat/NXLog/Splunk, into the `windows` table."""
