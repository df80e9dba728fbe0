import Foundation
import Kafka

/// When a run has flowed long enough to show a fault's cut against: every partition has had
/// `LivenessCheck.minimumBaselineConfirmations` orders confirmed. chaos.sh waits for it (the
/// `--steady-file`) before it injects, instead of trusting a fixed steady period that a slow or
/// loaded machine may not fill.
enum SteadyState {
    static func reached(confirmedOrderIds: [String], partitionCount: Int32,
                        minimum: Int = LivenessCheck.minimumBaselineConfirmations) -> Bool {
        guard partitionCount > 0 else { return false }
        var counts = [Int](repeating: 0, count: Int(partitionCount))
        for orderId in confirmedOrderIds {
            counts[Int(Murmur2Partitioner.partition(forKey: orderId, partitionCount: partitionCount))] += 1
        }
        return counts.allSatisfy { $0 >= minimum }
    }

    /// Writes the time (unix ms) to `path` once `reached`, looking every `interval`; ends when
    /// cancelled (the run stopped sending) without writing.
    static func watch(_ tracker: OrderTracker, partitionCount: Int32, path: String,
                      interval: Duration = .milliseconds(200)) async throws {
        while !Task.isCancelled {
            let confirmed = await tracker.confirmedOrderIds()
            if reached(confirmedOrderIds: confirmed, partitionCount: partitionCount) {
                do {
                    try Data("\(WallClock.unixMillis(Date()))\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                } catch {
                    throw LoadGenError("cannot write the steady file \(path) (--steady-file): \(error.localizedDescription)")
                }
                return
            }
            try await Task.sleep(for: interval)
        }
    }
}
