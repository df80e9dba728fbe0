print("messaging-harness: under construction")
