import Foundation

/// One fault as chaos.sh injected it: one JSON object per line of the fault-windows file,
///
///     {"fault":"broker-pause","detail":"broker 1 paused","start":1764662400123,"end":1764662420456,
///      "brokers":[1],"instances":[],"partitions":[0,3,6,9]}
///
/// `start` and `end` (the heal; for a clock fault the end of the time on the fake clock) are
/// wall-clock unix milliseconds. `partitions` are the partition
/// numbers whose orders the fault can stall (an order has the same number on every saga topic);
/// absent or null when the fault touches every partition (a service, a database, the cluster).
/// `healed`, when present, is when the heal finished, later than `end`: a clock fault's window
/// is the time the instances ran on the fake clock, and its heal (restarting them onto the real
/// clock, one by one) takes seconds of its own; recovery is judged from the heal's end.
///
/// What shows the fault was felt: `evidence` (what chaos.sh saw: packets its rules matched, the
/// row locks a paused instance held, ENOSPC, each instance's reported clock offset), `cut` (the
/// load generator must see the flow of the touched partitions cut), and `errors` (an injection
/// or heal command that failed, or evidence chaos.sh looked for and did not find).
struct FaultWindow: Sendable, Codable, Equatable {
    var fault: String
    var detail: String?
    var start: Int64
    var end: Int64
    var brokers: [Int]?
    var instances: [String]?
    var partitions: [Int32]?
    var healed: Int64?
    var evidence: [String]?
    var errors: [String]?
    /// Confirmed/s on the touched partitions (every partition when `partitions` is null) must
    /// fall below `LivenessCheck.cutShare` of the rate before the fault.
    var cut: Bool?
    /// Instance restarts of the fault (a clock fault's, onto the fake clock and back) that
    /// needed more than one start.
    var restartRetries: Int?
    /// The starts among those that ended with the service exiting by itself, with its last log line.
    var restartCrashes: [String]?

    var seconds: Double { Double(end - start) / 1000 }
    /// Where recovery is measured from: the end of the heal.
    var recoveryStart: Int64 { max(end, healed ?? end) }
}

/// Reads the fault-windows file that chaos.sh writes into the run folder.
enum FaultWindowFile {
    static func load(path: String) throws -> [FaultWindow] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadGenError("cannot read the fault windows file \(path) (--fault-windows); chaos.sh writes it as it heals each fault")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path)
    }

    /// Blank lines are skipped; any other line must be a whole window with `start` ≤ `end`.
    static func parse(_ text: String, source: String) throws -> [FaultWindow] {
        var windows: [FaultWindow] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            let window: FaultWindow
            do {
                window = try JSONDecoder().decode(FaultWindow.self, from: Data(trimmed.utf8))
            } catch {
                throw LoadGenError("\(source) line \(index + 1) is not a fault window like {\"fault\":\"broker-pause\",\"start\":MS,\"end\":MS}: \(error)")
            }
            guard window.start <= window.end else {
                throw LoadGenError("\(source) line \(index + 1): fault \(window.fault) ends (\(window.end)) before it starts (\(window.start))")
            }
            windows.append(window)
        }
        return windows.sorted { $0.start < $1.start }
    }
}
