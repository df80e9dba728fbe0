import Foundation
import Persistence

/// Exponential backoff with jitter for transient failures (database busy, broker down).
public struct RetryPolicy: Sendable {
    public var initialDelay: Duration
    public var maximumDelay: Duration
    public var multiplier: Double
    /// Each delay is drawn uniformly from `[(1 - jitter) * d, d]`: retries of many consumers
    /// spread out instead of hitting a recovering database at the same instant.
    public var jitter: Double

    public init(initialDelay: Duration = .milliseconds(50), maximumDelay: Duration = .seconds(5),
                multiplier: Double = 2, jitter: Double = 0.5) {
        precondition(multiplier >= 1 && (0...1).contains(jitter))
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The wait before retry number `attempt` (1 for the first retry).
    public func delay(attempt: Int) -> Duration {
        let base = initialDelay.seconds * Foundation.pow(multiplier, Double(max(0, attempt - 1)))
        let capped = min(base, maximumDelay.seconds)
        let drawn = capped * Double.random(in: (1 - jitter)...1)
        return .nanoseconds(Int64(drawn * 1e9))
    }
}

/// What a handler throws to say how its failure should be treated. Other errors are classified
/// by `ErrorDisposition.classify`.
public struct HandlerError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case transient, permanent }
    public let kind: Kind
    public let message: String

    /// Retrying later can succeed (a dependency is down): the batch rolls back and is retried.
    public static func transient(_ message: String) -> HandlerError { HandlerError(kind: .transient, message: message) }
    /// The event can never be handled (violates a rule, refers to nothing): dead letter.
    public static func permanent(_ message: String) -> HandlerError { HandlerError(kind: .permanent, message: message) }

    public var description: String { message }
}

/// How the runtime treats an error thrown while handling a batch.
enum ErrorDisposition: Equatable {
    /// Roll back, wait, retry the same batch; never skip.
    case transient
    /// The message goes to the dead-letter topic; the partition keeps flowing.
    case permanent
    /// Not classified: retried like a transient error a few times, then dead-lettered, so a
    /// handler bug neither loses the message nor blocks its partition forever.
    case unclassified

    static func classify(_ error: any Error) -> ErrorDisposition {
        switch error {
        case let error as HandlerError: return error.kind == .transient ? .transient : .permanent
        case let error as SQLError:
            switch error {
            case .transient: return .transient
            case .permanent: return .permanent
            case .configuration: return .transient
            }
        default: return .unclassified
        }
    }
}
