import ArgumentParser
import ServiceKit

@main
struct PaymentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payment-service",
        abstract: "The Payment service: charges and refunds for the saga. Flags override environment variables (Services/API.md).")

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        try await ServiceRunner.run(PaymentService.self, settings: try options.resolve(for: .payment), make: PaymentService.make)
    }
}
