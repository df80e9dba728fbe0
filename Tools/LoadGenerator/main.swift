// loadgen: open-model load against the Order API, latency from intended send time, and the audit.
await LoadGenCommand.start()
