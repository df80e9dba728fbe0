/// HdrHistogram keeps 3 significant digits: a recorded latency comes back within 0.1 %.
func near(_ value: Double, _ expected: Double) -> Bool {
    abs(value - expected) <= max(0.001, expected * 0.002)
}
