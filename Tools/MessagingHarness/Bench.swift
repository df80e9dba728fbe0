import ArgumentParser
import Foundation
import Kafka
import Locking
import Logging
import Messaging
import Persistence

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks of the messaging runtime (run against a fresh dev cluster; build with -c release).",
        subcommands: [Throughput.self, Latency.self])
}

/// A database for one benchmark run: a fresh SQLite file, or a fresh schema in a PostgreSQL database.
struct BenchStore {
    let url: String
    let cleanup: () async -> Void

    static func make(_ url: String) async throws -> BenchStore {
        let lower = url.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
            var admin = try PostgresDatabase.Configuration(url: url)
            admin.poolSize = 1
            let database = try await PostgresDatabase.connect(admin)
            let schema = "bench_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
            try await database.write { try $0.execute("CREATE SCHEMA \(schema)") }
            return BenchStore(url: url + (url.contains("?") ? "&" : "?") + "search_path=\(schema)", cleanup: {
                _ = try? await database.write { try $0.execute("DROP SCHEMA \(schema) CASCADE") }
                await database.close()
            })
        }
        var path = url
        if lower.hasPrefix("sqlite:") {
            path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            if let query = path.firstIndex(of: "?") { path = String(path[..<query]) }
        }
        let remove = { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        remove()
        return BenchStore(url: url, cleanup: { remove() })
    }
}

/// Thread-safe sample collection for hooks.
final class Samples<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Value] = []

    func append(_ value: Value) { lock.withLock { values.append(value) } }
    func append(contentsOf more: [Value]) { lock.withLock { values.append(contentsOf: more) } }
    var all: [Value] { lock.withLock { values } }
}

func percentile(_ sorted: [Int64], _ p: Double) -> Int64 {
    guard !sorted.isEmpty else { return 0 }
    let index = min(sorted.count - 1, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1)
    return sorted[max(0, index)]
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func elapsed(since start: ContinuousClock.Instant) -> Double {
    seconds(.now - start)
}

/// (a) Events per second through the runtime: decode, offset fence, inbox, handler with one
/// outbox row per event, stored offsets, one transaction per batch.
struct Throughput: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Events/s through the consumer runtime.")

    @Option(help: "Database URL (sqlite:///path or postgres://...); a fresh file or schema is used.") var database: String
    @OptionGroup var kafka: KafkaOptions
    @Option var events = 50_000
    @Option var maxBatch = 500
    @Flag(help: "Run the outbox relay at the same time (end-to-end), and wait for it to drain.") var withRelay = false
    @Flag(help: "Random (v4) event ids and unordered order ids: every insert lands on a random B-tree page (worst case). Default: time-ordered ids, as UnitOfWork.emit and an Order service issuing time-ordered order ids produce.")
    var randomIds = false
    @Flag(help: "The handler only emits; by default it also upserts a row of its own per event (harness_orders), as a service would.")
    var emitOnly = false
    @Option var logLevel: Logger.Level = .warning

    func run() async throws {
        let store = try await BenchStore.make(database)
        let configuration = try kafka.configuration()
        let db = try await openDatabase(url: store.url, logger: makeLogger("bench.db", level: logLevel))
        try await db.migrate(HarnessService.migrations)

        // Input first, so the runtime is measured on a full topic.
        let run = UUID().uuidString.prefix(8)
        let producer = try KafkaProducer(configuration: producerConfiguration(configuration), logger: makeLogger("bench.producer", level: logLevel))
        let producing = ContinuousClock.now
        var sent = 0
        while sent < events {
            let chunk = (sent..<min(events, sent + 5000)).map { index in
                randomIds ? HarnessService.orderPlaced(orderId: UUID().uuidString.lowercased(), randomEventId: true)
                          : HarnessService.orderPlaced(orderId: UUID.timeOrdered().uuidString.lowercased())
            }
            let failed = try await producer.send(chunk).filter { if case .failure = $0 { return true } else { return false } }.count
            guard failed == 0 else { throw ValidationError("\(failed) input records failed") }
            sent += chunk.count
        }
        print(String(format: "input: %d OrderPlaced produced in %.2f s", events, elapsed(since: producing)))
        await producer.close()

        let commits = Samples<(ContinuousClock.Instant, Int)>()
        let holder = RuntimeHolder()
        let relay = withRelay ? OutboxRelay(database: db, configuration: RelayConfiguration(kafka: configuration),
                                            logger: makeLogger("bench.relay", level: logLevel)) : nil
        let runtime = ConsumerRuntime(
            configuration: ConsumerConfiguration(groupID: "bench-\(run)", topics: [HarnessService.inputTopic],
                                                 kafka: configuration, maxBatchSize: maxBatch),
            database: db, relay: relay,
            hooks: ConsumerHooks(afterDatabaseCommit: { _ in
                commits.append((ContinuousClock.now, holder.runtime?.statistics.handled ?? 0))
            }),
            logger: makeLogger("bench.consumer", level: logLevel), handler: HarnessService.makeHandler(recordOrders: !emitOnly))
        holder.runtime = runtime
        relay?.start()
        let started = ContinuousClock.now
        let task = Task { try await runtime.run() }
        while runtime.statistics.handled < events {
            try await Task.sleep(for: .milliseconds(20))
            if elapsed(since: started) > 600 { throw ValidationError("not done after 600 s: \(runtime.statistics)") }
        }
        let consumed = elapsed(since: started)
        runtime.stop()
        try await task.value
        let samples = commits.all
        let stats = runtime.statistics
        if let first = samples.first, let last = samples.last, samples.count > 1 {
            let span = seconds(last.0 - first.0)
            let rate = Double(last.1 - first.1) / span
            print(String(format: "runtime (%@, %@): %.0f events/s  (%d events after the first batch in %.3f s; %d batches, avg %.0f events/batch; %.2f s including group join)",
                         db.dialect.rawValue, emitOnly ? "handler emits only" : "handler upserts a row and emits", rate, last.1 - first.1, span, stats.batches,
                         Double(stats.handled) / Double(max(1, stats.batches)), consumed))
        }
        if let relay {
            let drainStart = ContinuousClock.now
            while relay.statistics.published < events {
                try await Task.sleep(for: .milliseconds(20))
                if elapsed(since: drainStart) > 600 { break }
            }
            print(String(format: "relay: %d published, outbox drained %.2f s after the last event was consumed (%.2f s end to end)",
                         relay.statistics.published, elapsed(since: drainStart), elapsed(since: started)))
            await relay.shutdown()
        }
        await db.close()
        await store.cleanup()
    }
}

final class RuntimeHolder: @unchecked Sendable {
    var runtime: ConsumerRuntime?
}

/// (b) The relay's commit→ack latency at a steady input rate.
struct Latency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Relay commit→ack latency at a steady event rate.")

    @Option(help: "Database URL (sqlite:///path or postgres://...); a fresh file or schema is used.") var database: String
    @OptionGroup var kafka: KafkaOptions
    @Option(help: "Input events per second.") var rate = 1000
    @Option(help: "Measured seconds.") var seconds = 20
    @Option(help: "Seconds of traffic before measuring.") var warmup = 3
    @Option(help: "Relay rows in flight at once.") var relayRowsInFlight = 4000
    @Option var logLevel: Logger.Level = .warning

    func run() async throws {
        let store = try await BenchStore.make(database)
        let configuration = try kafka.configuration()
        let db = try await openDatabase(url: store.url, logger: makeLogger("bench.db", level: logLevel))
        try await db.migrate(HarnessService.migrations)
        let run = UUID().uuidString.prefix(8)

        let measuring = Protected(false)
        let latencies = Samples<Int64>()
        let relay = OutboxRelay(
            database: db, configuration: RelayConfiguration(kafka: configuration, maxRowsInFlight: relayRowsInFlight),
            hooks: RelayHooks(onAcknowledged: { values in if measuring.value { latencies.append(contentsOf: values) } }),
            logger: makeLogger("bench.relay", level: logLevel))
        let runtime = ConsumerRuntime(
            configuration: ConsumerConfiguration(groupID: "bench-\(run)", topics: [HarnessService.inputTopic], kafka: configuration),
            database: db, relay: relay, logger: makeLogger("bench.consumer", level: logLevel), handler: HarnessService.handler)
        relay.start()
        let task = Task { try await runtime.run() }
        let joining = ContinuousClock.now
        while runtime.assignment.count < 12 {
            try await Task.sleep(for: .milliseconds(20))
            if elapsed(since: joining) > 60 { throw ValidationError("no assignment after 60 s") }
        }

        let producer = try KafkaProducer(configuration: producerConfiguration(configuration), logger: makeLogger("bench.producer", level: logLevel))
        let total = rate * (warmup + seconds)
        let start = ContinuousClock.now
        var produced = 0
        let interval = Duration.seconds(1) / rate
        await withTaskGroup(of: Void.self) { group in
            while produced < total {
                let due = Int(elapsed(since: start) * Double(rate))
                if produced == rate * warmup { measuring.update { $0 = true } }
                while produced < min(due + 1, total) {
                    let message = HarnessService.orderPlaced(orderId: UUID.timeOrdered().uuidString.lowercased())
                    group.addTask { _ = try? await producer.send(message) }
                    produced += 1
                    if produced == rate * warmup { measuring.update { $0 = true } }
                }
                try? await Task.sleep(until: start + interval * produced, clock: .continuous)
            }
        }
        let sentIn = elapsed(since: start)
        while relay.statistics.published < total {
            try await Task.sleep(for: .milliseconds(20))
            if elapsed(since: start) > Double(warmup + seconds + 60) { break }
        }
        runtime.stop()
        try await task.value
        await relay.shutdown()
        await producer.close()

        let sorted = latencies.all.sorted()
        func ms(_ micros: Int64) -> Double { Double(micros) / 1000 }
        print(String(format: "input: %d events in %.2f s (%.0f/s); %d handled, %d published",
                     total, sentIn, Double(total) / sentIn, runtime.statistics.handled, relay.statistics.published))
        print(String(format: "relay commit→ack (%@, %d samples after %d s warm-up): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms",
                     db.dialect.rawValue, sorted.count, warmup, ms(percentile(sorted, 50)), ms(percentile(sorted, 90)),
                     ms(percentile(sorted, 99)), ms(percentile(sorted, 99.9)), ms(sorted.last ?? 0)))
        await db.close()
        await store.cleanup()
    }
}

/// The dev cluster tuning without its consumer-only keys (librdkafka warns about them).
func producerConfiguration(_ configuration: KafkaConfiguration) -> KafkaConfiguration {
    var copy = configuration
    for key in ["session.timeout.ms", "heartbeat.interval.ms", "fetch.wait.max.ms"] { copy.properties[key] = nil }
    return copy
}
