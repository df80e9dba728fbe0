import Logging
import Messaging
import ServiceLifecycle

/// The consumer runtime as a lifecycle service: on graceful shutdown it stops polling,
/// finishes and commits the batch in hand, and leaves the group.
struct ConsumerService: Service {
    let runtime: ConsumerRuntime

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await runtime.run()
            } onCancel: {
                runtime.stop()
            }
        } onGracefulShutdown: {
            runtime.stop()
        }
    }
}

/// The outbox relay as a lifecycle service; shut down last, so rows the consumer's final
/// batch wrote still get a chance to go out.
struct RelayService: Service {
    let relay: OutboxRelay

    func run() async throws {
        relay.start()
        try? await gracefulShutdown()
        await relay.shutdown()
    }
}

/// Runs `body` every `interval` until graceful shutdown; an error is logged and the next
/// round tries again (the body's work is idempotent: conditional updates).
public struct PeriodicService: Service {
    let name: String
    let interval: Duration
    let logger: Logger
    /// Starts the next round before the interval is over (the interval is then a fallback).
    let wake: WakeSignal?
    let body: @Sendable () async throws -> Void

    public init(name: String, interval: Duration, wake: WakeSignal? = nil, logger: Logger,
                body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.wake = wake
        self.logger = logger
        self.body = body
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await body()
            } catch {
                logger.warning("\(name) round failed; retrying next round", metadata: ["error": "\(error)"])
            }
            if let wake {
                await withGracefulShutdownHandler {
                    await wake.wait(timeout: interval)
                } onGracefulShutdown: {
                    wake.signal()
                }
            } else {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
        }
    }
}
