"""Which reports and notices are owed, to whom, by when (rules as data), and drafts of them."""
