import ArgumentParser
import OrderCore
import ServiceKit

@main
struct OrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order-service",
        abstract: "The Order service: POST /orders, the saga's outcome, the deadline sweeper. Flags override environment variables (Services/API.md).")

    @OptionGroup var options: ServiceOptions
    @Option(help: .init(SettingsCatalog.sagaTimeout.help)) var sagaTimeoutMs: String?
    @Option(help: .init(SettingsCatalog.sweepInterval.help)) var sweepIntervalMs: String?
    @Option(help: .init(SettingsCatalog.idempotencyKeyRetention.help)) var idempotencyKeyRetentionMs: String?
    @Option(help: .init(SettingsCatalog.orderRateLimit.help)) var orderRateLimit: String?

    func run() async throws {
        let settings = try options.resolve(for: .order)
        let timeout = try SettingsCatalog.sagaTimeout.integer(sagaTimeoutMs) ?? 30_000
        let sweep = try SettingsCatalog.sweepInterval.integer(sweepIntervalMs) ?? 500
        guard timeout > 0, sweep > 0 else { throw ValidationError("saga timeout and sweep interval must be positive milliseconds") }
        let policy = OrderPolicy(sagaTimeoutMs: Int64(timeout))
        let keyRetention = try SettingsCatalog.idempotencyKeyRetention.duration(idempotencyKeyRetentionMs) ?? .seconds(86_400)
        let rateText = SettingsCatalog.orderRateLimit.resolve(orderRateLimit) ?? "20"
        guard let rate = Double(rateText), rate > 0, rate <= 1_000_000 else {
            throw ValidationError("--order-rate-limit / ORDER_RATE_LIMIT must be a positive number of orders per second, got '\(rateText)'")
        }
        try await ServiceRunner.run(OrderService.self, settings: settings) { context in
            try OrderService(context: context, policy: policy, sweepInterval: .milliseconds(sweep),
                             idempotencyKeyRetention: keyRetention, ordersPerSecondPerCaller: rate)
        }
    }
}
