// messaging-harness: a minimal service on the messaging runtime (crash tests, benchmark).
await HarnessCommand.start()
