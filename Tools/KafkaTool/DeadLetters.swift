import ArgumentParser
import Credentials
import EventSchema
import Foundation
import Kafka
import Messaging
import SwiftProtobuf

/// `kafka-tool deadletters list | show | replay`: what the consumers could not process, and
/// sending it back to where it came from once the cause is fixed.
struct DeadLetters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deadletters",
        abstract: "List, show and replay the dead letters on deadletter.v1.",
        subcommands: [List.self, Show.self, Replay.self])

    /// Which dead letters a command is about; every given selector must match.
    struct Selection: ParsableArguments {
        @Option(help: "Origin of the record: TOPIC, TOPIC:PARTITION or TOPIC:PARTITION:OFFSET.")
        var origin: String?
        @Option(help: "The dead letter's event-id (repeatable).")
        var id: [String] = []
        @Option(help: "Only letters whose error contains this text (case-insensitive).")
        var reason: String?
        @Option(help: "Only letters written by this consumer group (service).")
        var group: String?
        @Option(help: "Only letters produced at or after this time: ISO 8601 (2026-12-02T10:00:00Z) or Unix milliseconds.")
        var since: String?
        @Option(help: "Only letters produced before this time (ISO 8601 or Unix milliseconds).")
        var until: String?

        var isEmpty: Bool { origin == nil && id.isEmpty && reason == nil && group == nil && since == nil && until == nil }

        func filter() throws -> DeadLetterFilter {
            var filter = DeadLetterFilter()
            if let origin {
                let parts = origin.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard (1...3).contains(parts.count), !parts[0].isEmpty else {
                    throw ValidationError("--origin \(origin): expected TOPIC, TOPIC:PARTITION or TOPIC:PARTITION:OFFSET")
                }
                filter.topic = parts[0]
                if parts.count > 1 {
                    guard let partition = Int32(parts[1]), partition >= 0 else { throw ValidationError("--origin \(origin): the partition must be a number") }
                    filter.partition = partition
                }
                if parts.count > 2 {
                    guard let offset = Int64(parts[2]), offset >= 0 else { throw ValidationError("--origin \(origin): the offset must be a number") }
                    filter.offset = offset
                }
            }
            filter.ids = try Set(id.map { text in
                guard let uuid = UUID(uuidString: text) else { throw ValidationError("--id \(text) is not a UUID (the dead letter's event-id, from `list`)") }
                return uuid
            })
            filter.reason = reason?.lowercased()
            filter.group = group
            filter.since = try since.map { try Self.time($0, flag: "--since") }
            filter.until = try until.map { try Self.time($0, flag: "--until") }
            return filter
        }

        static func time(_ text: String, flag: String) throws -> Int64 {
            if let millis = Int64(text) { return millis }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text) {
                return Int64((date.timeIntervalSince1970 * 1000).rounded())
            }
            throw ValidationError("\(flag) \(text): expected ISO 8601 like 2026-12-02T10:00:00Z or Unix milliseconds")
        }
    }

    /// The keyring every dead letter is checked against (one a service did not sign is not
    /// listed, shown or replayed), and the operator key a replay is signed with.
    struct Keys: ParsableArguments {
        @Option(help: "Keyring of the deployment's event signers (or env EVENT_KEYRING_FILE).") var keyringFile: String?
        @Option(help: "An operator's event-signing key, to sign replays (or env EVENT_SIGNING_KEY_FILE).") var signingKeyFile: String?

        func authenticator() throws -> EventAuthenticator {
            guard let path = keyringFile ?? ProcessInfo.processInfo.environment["EVENT_KEYRING_FILE"], !path.isEmpty else {
                throw ValidationError("give --keyring-file (or set EVENT_KEYRING_FILE): dead letters are read only when a service signed them")
            }
            return try EventAuthenticator(keyringFile: path)
        }

        func operatorKey() throws -> EventSigner {
            guard let path = signingKeyFile ?? ProcessInfo.processInfo.environment["EVENT_SIGNING_KEY_FILE"], !path.isEmpty else {
                throw ValidationError("give --signing-key-file (or set EVENT_SIGNING_KEY_FILE): an operator's key signs every replay")
            }
            let signer = try EventSigner(file: path)
            guard signer.owner == EventKeyOwner.operator else {
                throw ValidationError("\(path) is \(signer.owner)'s key; replays are signed with an operator's (events/operator.key)")
            }
            return signer
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per dead letter: id, time, service, origin, kind, error.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var keys: Keys
        @OptionGroup var selection: Selection
        @Flag(help: "One JSON object per line instead of text.") var json = false

        func run() async throws {
            let filter = try selection.filter()
            let letters = try await DeadLetterReader.readAll(configuration: try connection.configuration(), authenticator: try keys.authenticator())
                .filter(filter.matches)
            for letter in letters {
                print(json ? letter.jsonLine : letter.textLine)
            }
            FileHandle.standardError.write(Data("\(letters.count) dead letters\n".utf8))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One dead letter in full: origin, error, key, headers and the payload decoded.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var keys: Keys
        @Argument(help: "The dead letter's event-id (see `list`).") var id: String

        func run() async throws {
            guard let uuid = UUID(uuidString: id) else { throw ValidationError("\(id) is not a UUID (the dead letter's event-id, from `list`)") }
            let letters = try await DeadLetterReader.readAll(configuration: try connection.configuration(), authenticator: try keys.authenticator())
            guard let letter = letters.first(where: { $0.id == uuid }) else {
                throw ValidationError("no dead letter \(id) on \(TopicCatalog.deadLetters.name) (\(letters.count) there; see `list`)")
            }
            print(letter.fullText)
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send selected dead letters back to their origin topic and partition, marked `replay-of`, so the service processes them again (once, however often they are replayed).")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var keys: Keys
        @OptionGroup var selection: Selection
        @Flag(help: "Replay every dead letter (no selector needed).") var all = false
        @Flag(help: "Say what would be replayed, send nothing.") var dryRun = false

        func run() async throws {
            guard all || !selection.isEmpty else {
                throw ValidationError("say which dead letters to replay: --origin, --id, --reason, --group, --since/--until, or --all")
            }
            let filter = try selection.filter()
            let configuration = try connection.configuration()
            let operatorKey = try keys.operatorKey()
            let letters = try await DeadLetterReader.readAll(configuration: configuration, authenticator: try keys.authenticator())
                .filter(filter.matches)
            let (replayable, refused) = (letters.filter { DeadLetterReplay.refusal($0.letter) == nil },
                                         letters.filter { DeadLetterReplay.refusal($0.letter) != nil })
            for letter in refused {
                FileHandle.standardError.write(Data("not replaying \(letter.id.lowercased): \(DeadLetterReplay.refusal(letter.letter) ?? "")\n".utf8))
            }
            guard !replayable.isEmpty else {
                FileHandle.standardError.write(Data("nothing to replay (\(letters.count) selected)\n".utf8))
                if !refused.isEmpty { throw ExitCode(1) }
                return
            }
            if dryRun {
                for letter in replayable { print("would replay \(letter.id.lowercased()) to \(letter.originText)") }
                return
            }
            let records = try replayable.map { try DeadLetterReplay.record(of: $0.letter, letterId: $0.id, signedBy: operatorKey) }
            let producer = try KafkaProducer(configuration: configuration, logger: makeLogger("kafka-tool.replay"))
            let results = try await producer.send(records)
            await producer.close()
            var failed = 0
            for (letter, result) in zip(replayable, results) {
                switch result {
                case .success(let report):
                    print("replayed \(letter.id.lowercased()) from \(letter.originText) to \(report.topic)[\(report.partition)]@\(report.offset)")
                case .failure(let error):
                    failed += 1
                    FileHandle.standardError.write(Data("replaying \(letter.id.lowercased()) failed: \(error)\n".utf8))
                }
            }
            if failed > 0 || !refused.isEmpty { throw ExitCode(1) }
        }
    }
}

struct DeadLetterFilter {
    var topic: String?
    var partition: Int32?
    var offset: Int64?
    var ids: Set<UUID> = []
    var reason: String?
    var group: String?
    var since: Int64?
    var until: Int64?

    func matches(_ record: DeadLetterRecord) -> Bool {
        let letter = record.letter
        if let topic, letter.originTopic != topic { return false }
        if let partition, letter.originPartition != partition { return false }
        if let offset, letter.originOffset != offset { return false }
        if !ids.isEmpty, !ids.contains(record.id) { return false }
        if let reason, !letter.error.lowercased().contains(reason) { return false }
        if let group, letter.consumerGroup != group { return false }
        if let since, record.producedAtUnixMs < since { return false }
        if let until, record.producedAtUnixMs >= until { return false }
        return true
    }
}

/// One dead letter as read from deadletter.v1.
struct DeadLetterRecord {
    let id: UUID
    let producedAtUnixMs: Int64
    let letter: Saga_V1_DeadLetter
    /// Where the dead letter itself is.
    let location: String

    var originText: String { "\(letter.originTopic)[\(letter.originPartition)]@\(letter.originOffset)" }

    private var time: String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(producedAtUnixMs) / 1000))
    }

    var textLine: String {
        let error = letter.error.count > 120 ? letter.error.prefix(120) + "…" : Substring(letter.error)
        return "\(id.lowercased())  \(time)  \(letter.consumerGroup)  \(originText)  \(Self.kindName(letter.errorKind))\(letter.truncated ? " (truncated)" : "")  \(error)"
    }

    var jsonLine: String {
        let object: [String: Any] = [
            "id": id.lowercased(), "producedAt": producedAtUnixMs, "group": letter.consumerGroup,
            "originTopic": letter.originTopic, "originPartition": letter.originPartition, "originOffset": letter.originOffset,
            "kind": Self.kindName(letter.errorKind), "error": letter.error, "truncated": letter.truncated,
            "orderId": letter.orderID, "originalSize": letter.originalSize,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    var fullText: String {
        var lines = [
            "dead letter \(id.lowercased()) at \(location), produced \(time)",
            "service (group): \(letter.consumerGroup)",
            "origin:          \(originText), broker time \(letter.originTimestampUnixMs)",
            "kind:            \(Self.kindName(letter.errorKind))",
            "error:           \(letter.error)",
            "order id:        \(letter.orderID.isEmpty ? "(none valid)" : letter.orderID)",
            "original:        \(letter.originalSize) bytes, payload SHA-256 \(letter.originalSha256.map { String(format: "%02x", $0) }.joined())",
        ]
        if letter.truncated { lines.append("truncated:       yes, cut to fit the broker's maximum message size (cannot be replayed)") }
        lines.append("key:             \(letter.hasKey ? HeaderText.render([UInt8](letter.key)) : "(null)")")
        lines.append("headers:")
        for header in letter.originHeaders {
            lines.append("  \(HeaderText.render(Array(header.name.utf8))): \(header.hasValue ? HeaderText.render([UInt8](header.value)) : "<null>")")
        }
        guard letter.hasPayload else {
            lines.append("payload:         (null)")
            return lines.joined(separator: "\n")
        }
        lines.append("payload:         \(letter.payload.count) bytes")
        do {
            let decoded = try DecodedEvent(headers: letter.originalHeaders, payload: [UInt8](letter.payload), topic: letter.originTopic)
            lines.append("decoded as \(decoded.envelope.eventType):")
            lines.append(decoded.event.message.textFormatString().split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        } catch {
            lines.append("not decodable: \(error)")
        }
        return lines.joined(separator: "\n")
    }

    static func kindName(_ kind: Saga_V1_DeadLetter.ErrorKind) -> String {
        switch kind {
        case .undecodable: "undecodable"
        case .rejected: "rejected"
        case .misrouted: "misrouted"
        case .unauthenticated: "unauthenticated"
        case .unspecified: "unspecified"
        case .UNRECOGNIZED(let value): "kind \(value)"
        }
    }
}

extension UUID {
    func lowercased() -> String { uuidString.lowercased() }
}

/// Reads deadletter.v1 from its first stored offset to the end it had when the read started.
enum DeadLetterReader {
    /// Letters a service did not sign (anyone can write to the topic on a bus without ACLs) are
    /// left out, with a line on stderr: replaying a forged letter would replay whatever it says.
    static func readAll(configuration: KafkaConfiguration, authenticator: EventAuthenticator,
                        timeout: Duration = .seconds(60)) async throws -> [DeadLetterRecord] {
        let topic = TopicCatalog.deadLetters.name
        let logger = makeLogger("kafka-tool.deadletters")
        let reader = try KafkaWatermarkReader(configuration: configuration, logger: logger)
        let marks: [TopicPartition: Watermarks]
        do {
            marks = try await reader.watermarks(topics: [topic])
        } catch {
            await reader.close()
            throw ValidationError("cannot read \(topic): \(error)")
        }
        await reader.close()
        var remaining = marks.filter { $0.value.high > $0.value.low }
        guard !remaining.isEmpty else { return [] }
        let consumer = try KafkaConsumer(configuration: configuration, partitions: remaining.mapValues(\.low), logger: logger)
        defer { Task { await consumer.close() } }
        var letters: [DeadLetterRecord] = []
        let deadline = ContinuousClock.now + timeout
        while !remaining.isEmpty {
            guard ContinuousClock.now < deadline else {
                throw ValidationError("could not read \(topic) to its end within \(timeout); are the brokers up?")
            }
            for message in try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(200)) {
                guard let end = remaining[message.topicPartition]?.high, message.offset < end else { continue }
                if message.offset + 1 >= end { remaining[message.topicPartition] = nil }
                let headers = message.headers.lazy.map { (name: $0.key, value: $0.value) }
                guard let decoded = try? DecodedEvent(headers: headers, payload: message.value, topic: topic),
                      case .deadLetter(let letter) = decoded.event else {
                    FileHandle.standardError.write(Data("skipping \(message.topicPartition)@\(message.offset): not a dead letter\n".utf8))
                    continue
                }
                if case .rejected(let why) = authenticator.check(topic: topic, key: message.key, payload: message.value,
                                                                 envelope: decoded.envelope, headers: headers) {
                    FileHandle.standardError.write(Data("skipping \(message.topicPartition)@\(message.offset): not written by a service (\(why))\n".utf8))
                    continue
                }
                letters.append(DeadLetterRecord(id: decoded.envelope.eventId, producedAtUnixMs: decoded.envelope.producedAtUnixMs,
                                                letter: letter, location: "\(message.topicPartition)@\(message.offset)"))
            }
        }
        return letters.sorted { ($0.producedAtUnixMs, $0.location) < ($1.producedAtUnixMs, $1.location) }
    }
}
