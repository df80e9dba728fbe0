import ArgumentParser
import OrderCore
import ServiceKit

@main
struct OrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "order-service",
        abstract: "The Order service: POST /orders, the saga's outcome, the deadline sweeper. Flags override environment variables (Services/API.md).")

    @OptionGroup var options: ServiceOptions
    @Option(name: SettingsCatalog.sagaTimeout.argumentName, help: SettingsCatalog.sagaTimeout.argumentHelp) var sagaTimeoutMs: String?
    @Option(name: SettingsCatalog.sweepInterval.argumentName, help: SettingsCatalog.sweepInterval.argumentHelp) var sweepIntervalMs: String?
    @Option(name: SettingsCatalog.idempotencyKeyRetention.argumentName, help: SettingsCatalog.idempotencyKeyRetention.argumentHelp) var idempotencyKeyRetentionMs: String?
    @Option(name: SettingsCatalog.orderRateLimit.argumentName, help: SettingsCatalog.orderRateLimit.argumentHelp) var orderRateLimit: String?

    func run() async throws {
        let settings = try options.resolve(for: .order)
        let timeout = try SettingsCatalog.sagaTimeout.integerValue(sagaTimeoutMs)
        let sweep = try SettingsCatalog.sweepInterval.integerValue(sweepIntervalMs)
        guard timeout > 0, sweep > 0 else { throw ValidationError("saga timeout and sweep interval must be positive milliseconds") }
        let policy = OrderPolicy(sagaTimeoutMs: Int64(timeout))
        let keyRetention = try SettingsCatalog.idempotencyKeyRetention.durationValue(idempotencyKeyRetentionMs)
        let rateText = SettingsCatalog.orderRateLimit.value(orderRateLimit)
        guard let rate = Double(rateText), rate > 0, rate <= 1_000_000 else {
            throw ValidationError("--order-rate-limit / ORDER_RATE_LIMIT must be a positive number of orders per second, got '\(rateText)'")
        }
        try await ServiceRunner.run(OrderService.self, settings: settings) { context in
            try OrderService(context: context, policy: policy, sweepInterval: .milliseconds(sweep),
                             idempotencyKeyRetention: keyRetention, ordersPerSecondPerCaller: rate)
        }
    }
}
