import Kafka

/// One of Jepsen's Kafka anomaly classes, judged at the level of the services: what the
/// consumer groups processed, not what a test client polled.
struct AnomalyResult: Sendable, Codable, Equatable {
    var name: String
    /// What the class means here.
    var meaning: String
    /// Why it could not be checked; nil when it was.
    var notChecked: String?
    /// Services or instances it could not be checked on, while it was on others (each fails
    /// the run like `notChecked`, see `RunJudgement`).
    var uncheckedParts: [String] = []
    /// Anomalies found (records, for lost; counted gaps, for poll skip; violations, for the others).
    var count = 0
    var examples: [String] = []
    var notes: [String] = []
    /// Invariants whose violations this class counts again (not added to the violation total).
    var sameAsInvariants: [Int] = []

    var passed: Bool { count == 0 }

    mutating func found(_ n: Int, _ text: @autoclosure () -> String) {
        count += n
        if examples.count < InvariantResult.exampleLimit { examples.append(text()) }
    }
}

/// Lost, duplicate, poll skip and nonmonotonic on a snapshot taken after the drain. Pure.
enum AnomalyCheck {
    static let offsetGapsMetric = "messaging_offset_gaps_total"

    static func run(_ snapshot: AuditSnapshot, invariants: [InvariantResult]) -> [AnomalyResult] {
        [lost(snapshot), duplicate(snapshot, invariants), pollSkip(snapshot), nonmonotonic(invariants)]
    }

    /// A record on a topic a group consumes, at an offset beyond the highest one any instance of
    /// its service reports processed (lag = high watermark − 1 − last processed offset).
    static func lost(_ snapshot: AuditSnapshot) -> AnomalyResult {
        var result = AnomalyResult(name: "lost", meaning: "a record on a topic a group consumes, at an offset beyond what the group processed after the drain")
        let views = snapshot.instances.compactMap(\.view)
        guard !views.isEmpty else {
            result.notChecked = unreadable(snapshot.instances)
            return result
        }
        guard !snapshot.watermarks.isEmpty else {
            result.notChecked = "the topics' watermarks were not read"
            return result
        }
        let answered = Set(snapshot.instances.filter { $0.view != nil }.map(\.instance.service))
        for service in Set(snapshot.instances.map(\.instance.service)).subtracting(answered).sorted() {
            let instances = snapshot.instances.filter { $0.instance.service == service }
            result.uncheckedParts.append("not checked for \(service): \(unreadable(instances))")
        }

        var processed: [String: [PartitionRef: Int64]] = [:]
        var topics: [String: Set<String>] = [:]
        for view in views {
            topics[view.group, default: []].formUnion(view.topics)
            for partition in view.partitions {
                let ref = PartitionRef(topic: partition.topic, partition: partition.partition)
                processed[view.group, default: [:]][ref] = max(processed[view.group]?[ref] ?? -1, partition.lastProcessedOffset)
                if let held = partition.held {
                    result.notes.append("\(view.instance) holds \(ref) back: \(held)")
                }
            }
        }
        for group in topics.keys.sorted() {
            for (ref, extent) in snapshot.watermarks.sorted(by: { $0.key < $1.key }) where topics[group]!.contains(ref.topic) {
                let last = extent.high - 1
                guard last >= extent.low else { continue }  // nothing stored
                let done = processed[group]?[ref] ?? -1
                if done < last {
                    let unprocessed = last - max(done, extent.low - 1)
                    result.found(Int(unprocessed), "group \(group): \(ref) holds records up to offset \(last), the group processed up to \(done): \(unprocessed) records not processed")
                }
            }
        }
        return result
    }

    /// An effect applied twice: the balance and once-per-order invariants. Records the relays
    /// published twice are noted; the inboxes absorb them.
    static func duplicate(_ snapshot: AuditSnapshot, _ invariants: [InvariantResult]) -> AnomalyResult {
        var result = AnomalyResult(name: "duplicate", meaning: "an effect applied twice: a second charge, reservation, refund or notification (invariants 3 and 4)",
                                   sameAsInvariants: [3, 4])
        for invariant in invariants where result.sameAsInvariants.contains(invariant.number) && invariant.violations > 0 {
            result.found(invariant.violations, "invariant \(invariant.number): \(invariant.examples.first ?? "\(invariant.violations) violations")")
        }
        var seen = Set<String>()
        let repeated = snapshot.records.filter { !seen.insert($0.topic + "/" + $0.eventId).inserted }.count
        if repeated > 0 {
            result.notes.append("\(repeated) records repeat an event-id already on their topic (published twice; absorbed by the inboxes)")
        }
        return result
    }

    /// A consumer that moved past offsets it never processed: each instance counts the gaps it
    /// saw in `messaging_offset_gaps_total{group}`.
    static func pollSkip(_ snapshot: AuditSnapshot) -> AnomalyResult {
        var result = AnomalyResult(name: "poll skip", meaning: "a consumer jumped over offsets it never processed (\(offsetGapsMetric) above 0)")
        let scraped = snapshot.instances.filter { $0.metrics != nil }
        guard !scraped.isEmpty else {
            result.notChecked = "no instance's /metrics could be read" + (snapshot.instances.first?.metricsError.map { ": \($0)" } ?? "")
            return result
        }
        let exposing = scraped.filter { $0.metrics!.contains { $0.name == offsetGapsMetric } }
        guard !exposing.isEmpty else {
            result.notChecked = "counter missing: no instance exposes \(offsetGapsMetric)"
            return result
        }
        for state in snapshot.instances where !scraped.contains(state) {
            result.uncheckedParts.append("\(state.instance.name)'s /metrics could not be read (\(state.metricsError ?? "no answer")): not checked there")
        }
        for state in scraped where !exposing.contains(state) {
            result.uncheckedParts.append("\(state.instance.name) does not expose \(offsetGapsMetric): not checked there")
        }
        for state in exposing {
            for sample in state.metrics! where sample.name == offsetGapsMetric && sample.value > 0 {
                result.found(Int(sample.value), "\(state.instance.name): \(offsetGapsMetric){group=\"\(sample.labels["group"] ?? "?")\"} = \(TextReport.format(sample.value))")
            }
        }
        return result
    }

    /// Per topic and order, a sequence that does not go up in offset order (invariant 5).
    static func nonmonotonic(_ invariants: [InvariantResult]) -> AnomalyResult {
        var result = AnomalyResult(name: "nonmonotonic", meaning: "per topic and order, a sequence that does not increase in offset order (invariant 5)",
                                   sameAsInvariants: [5])
        for invariant in invariants where invariant.number == 5 && invariant.violations > 0 {
            result.found(invariant.violations, invariant.examples.first ?? "\(invariant.violations) violations")
        }
        return result
    }

    /// Why none of `instances` gave its consumer.
    private static func unreadable(_ instances: [InstanceState]) -> String {
        let missing = instances.filter { $0.consumer == .missing }.map(\.instance.name)
        if !missing.isEmpty, missing.count == instances.count {
            return "endpoint missing: GET /consumer answered 404 on \(missing.joined(separator: ", "))"
        }
        let failures = instances.compactMap { state -> String? in
            if case .failed(let why) = state.consumer { return "\(state.instance.name): \(why)" }
            return nil
        }
        return failures.isEmpty ? "no instance to ask" : "GET /consumer failed: " + failures.joined(separator: "; ")
    }
}
