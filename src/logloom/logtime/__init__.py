"""Log time: reading timestamps (iso, epoch, strptime formats without calling strptime)
and writing them. Shared by config (checking a format), parse (reading) and the
outputs (writing); imports nothing else of logloom."""
