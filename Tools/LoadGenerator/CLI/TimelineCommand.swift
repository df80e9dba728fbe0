import ArgumentParser
import Foundation
import SagaTimeline

struct TimelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "The path of one order: every event on every topic, who produced it, where it waited, and each service's view.",
        discussion: "Needs no trace collector: it reads the order's partition of each saga topic and the services' HTTP read side. Exit status 1 when no topic holds an event of the order.")

    @Argument(help: "The order id (as POST /orders answered it).") var orderId: String
    @Flag(help: "Print the timeline as JSON instead of the waterfall.") var json = false
    @OptionGroup var urls: ServiceURLOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var credentials: CredentialOptions
    @Option(help: "Seconds allowed to read the order's partitions.") var topicReadTimeout = 30.0
    @OptionGroup var log: LogLevelOption

    func validate() throws {
        guard topicReadTimeout > 0 else { throw ValidationError("--topic-read-timeout must be positive") }
        _ = try urls.resolve()
        _ = try kafka.configuration()
        _ = try credentials.keysDirectory()
        _ = try log.level()
    }

    func run() async throws {
        let credentials = try await self.credentials.load()
        let http = ServiceHTTPClient(connections: 2, defaultToken: credentials.auditorToken)
        let reader = TimelineReader(kafka: try kafka.configuration(), http: http, urls: try urls.resolve(), authenticator: credentials.authenticator,
                                    timeout: .seconds(topicReadTimeout), logger: Console.logger("loadgen", level: try log.level()))
        let timeline: OrderTimeline
        do {
            timeline = try await reader.timeline(of: orderId)
        } catch {
            await http.shutdown()
            throw error
        }
        await http.shutdown()
        print(json ? try TimelineRenderer.json(timeline) : TimelineRenderer.render(timeline), terminator: "")
        if timeline.steps.isEmpty { throw ExitCode(1) }
    }
}
