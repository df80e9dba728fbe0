import ArgumentParser
import ServiceKit

@main
struct InventoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory-service",
        abstract: "The Inventory service: reserves, sells and releases stock for the saga. Flags override environment variables (Services/API.md).")

    @OptionGroup var options: ServiceOptions

    func run() async throws {
        try await ServiceRunner.run(InventoryService.self, settings: try options.resolve(for: .inventory), make: InventoryService.make)
    }
}
