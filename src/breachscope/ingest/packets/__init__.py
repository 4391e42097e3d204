"""Packet captures (pcap, pcapng) as evidence: bidirectional flows into `flow`, and DNS, HTTP and TLS
metadata into Zeek-shaped tables (`zeek_dns`, `zeek_http`, `zeek_ssl`).

- capture: the file's framing (pcap and pcapng, both byte orders, µs/ns/pcapng resolutions, several
  interfaces), bounded and resynchronizing on damage
- decode: link layer to IP and transport headers with dpkt, one packet at a time
- flowtable: the flow cache (timeouts, eviction, TCP state) that emits one record per connection
- flowrows, zeekrows: the rows of `flow` and of the Zeek tables, built into batches
- dns, http, tls: bounded decoders of the protocol metadata (no payload is ever evaluated)
- reader: sniff and read, the reader contract

See docs/formats/pcap.md.
"""
