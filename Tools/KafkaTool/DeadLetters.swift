import ArgumentParser
import Credentials
import DeadLetterQueue
import EventSchema
import Foundation
import Kafka
import Messaging

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
        @Option(help: "Only letters of this kind: undecodable, misrouted, rejected, unauthenticated.")
        var kind: String?
        @Option(help: "Only letters produced at or after this time: ISO 8601 (2026-12-02T10:00:00Z) or Unix milliseconds.")
        var since: String?
        @Option(help: "Only letters produced before this time (ISO 8601 or Unix milliseconds).")
        var until: String?

        var isEmpty: Bool { origin == nil && id.isEmpty && reason == nil && group == nil && kind == nil && since == nil && until == nil }

        func filter() throws -> DeadLetterFilter {
            do {
                var filter = DeadLetterFilter()
                if let origin { try filter.setOrigin(origin) }
                filter.ids = try Set(id.map { text in try DeadLetterFilter.id(text) })
                filter.reason = reason?.lowercased()
                filter.group = group
                filter.kind = try kind.map { text in try DeadLetterFilter.kind(text) }
                filter.since = try since.map { text in try DeadLetterFilter.time(text, name: "--since") }
                filter.until = try until.map { text in try DeadLetterFilter.time(text, name: "--until") }
                return filter
            } catch let invalid as DeadLetterFilter.Invalid {
                throw ValidationError(invalid.description)
            }
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
            let letters = try await readLetters(connection: connection, keys: keys).filter(filter.matches)
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
            let letters = try await readLetters(connection: connection, keys: keys)
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
                throw ValidationError("say which dead letters to replay: --origin, --id, --reason, --group, --kind, --since/--until, or --all")
            }
            let filter = try selection.filter()
            let replayer = try DeadLetterReplayer(configuration: try connection.configuration(), operatorKey: try keys.operatorKey(),
                                                  logger: makeLogger("kafka-tool.replay"))
            let letters = try await readLetters(connection: connection, keys: keys).filter(filter.matches)
            let (replayable, refused) = DeadLetterReplayer.partition(letters)
            guard !replayable.isEmpty else {
                for (letter, why) in refused { FileHandle.standardError.write(Data("not replaying \(letter.idText): \(why)\n".utf8)) }
                FileHandle.standardError.write(Data("nothing to replay (\(letters.count) selected)\n".utf8))
                if !refused.isEmpty { throw ExitCode(1) }
                return
            }
            if dryRun {
                for (letter, why) in refused { FileHandle.standardError.write(Data("not replaying \(letter.idText): \(why)\n".utf8)) }
                for letter in replayable { print("would replay \(letter.idText) to \(letter.originText)") }
                return
            }
            var failed = 0
            for (letter, outcome) in try await replayer.replay(letters) {
                switch outcome {
                case .replayed(let report):
                    print("replayed \(letter.idText) from \(letter.originText) to \(report.topic)[\(report.partition)]@\(report.offset)")
                case .refused(let why):
                    failed += 1
                    FileHandle.standardError.write(Data("not replaying \(letter.idText): \(why)\n".utf8))
                case .failed(let why):
                    failed += 1
                    FileHandle.standardError.write(Data("replaying \(letter.idText) failed: \(why)\n".utf8))
                }
            }
            if failed > 0 { throw ExitCode(1) }
        }
    }
}

/// Every dead letter a service signed; the others are named on stderr and left out.
private func readLetters(connection: ConnectionOptions, keys: DeadLetters.Keys) async throws -> [DeadLetterRecord] {
    let contents: DeadLetterReader.Contents
    do {
        contents = try await DeadLetterReader.readAll(configuration: try connection.configuration(), authenticator: try keys.authenticator(),
                                                      logger: makeLogger("kafka-tool.deadletters"))
    } catch let failure as DeadLetterReader.Failure {
        throw ValidationError(failure.description)
    }
    for skip in contents.skipped { FileHandle.standardError.write(Data("skipping \(skip)\n".utf8)) }
    return contents.letters
}
