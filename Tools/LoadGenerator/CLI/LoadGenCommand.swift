import ArgumentParser

struct LoadGenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "Drive orders through the saga at a fixed rate, follow each to its end, then audit the invariants.",
        discussion: "Service contracts: Services/API.md. Invariants: ARCHITECTURE.md §4.",
        subcommands: [RunCommand.self, AuditCommand.self, SeedCommand.self, MatrixReportCommand.self, TimelineCommand.self],
        defaultSubcommand: RunCommand.self)
}

extension LoadGenCommand {
    /// The async entry point. Called from main.swift's top-level code, where `main()` would
    /// resolve to the synchronous overload (which refuses async subcommands).
    static func start() async {
        await main()
    }
}
