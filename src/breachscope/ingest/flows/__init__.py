"""Flow records as text (Argus, nfdump, NetFlow/IPFIX CSV) into the `flows` table, read by one text engine (`text`)."""
