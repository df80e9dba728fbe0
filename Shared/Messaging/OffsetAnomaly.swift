import Kafka

/// A stored offset the partition's log cannot continue from.
enum OffsetAnomaly: Equatable, CustomStringConvertible {
    case beyondLogEnd(lastProcessed: Int64, logEnd: Int64)
    case beforeLogStart(lastProcessed: Int64, logStart: Int64)

    init?(lastProcessed: Int64, marks: Watermarks) {
        if lastProcessed + 1 > marks.high {
            self = .beyondLogEnd(lastProcessed: lastProcessed, logEnd: marks.high)
        } else if lastProcessed + 1 < marks.low {
            self = .beforeLogStart(lastProcessed: lastProcessed, logStart: marks.low)
        } else {
            return nil
        }
    }

    var description: String {
        switch self {
        case let .beyondLogEnd(last, end):
            "the stored offset \(last) is beyond the log end \(end) (the topic was recreated, or the cluster lost its data)"
        case let .beforeLogStart(last, start):
            "the log starts at \(start), after the stored offset \(last): records \(last + 1)...\(start - 1) were deleted before they were processed"
        }
    }
}
