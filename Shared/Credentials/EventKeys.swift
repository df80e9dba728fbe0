import Crypto
import EventSchema
import Foundation

/// The public keys that may sign events, by key id, each with its owner: a service name
/// (`order`, `inventory`, `payment`, `notification`) or `operator`. Two keys of one owner can be
/// listed at once, so a key is rotated by adding the new one everywhere, switching the signer,
/// then removing the old one.
///
/// File format (JSON): `{"keys": [{"id": "payment-2026-12", "owner": "payment", "publicKey": "<base64url, 32 bytes>"}]}`.
public struct Keyring: Sendable {
    public struct Entry: Sendable, Codable, Hashable {
        public var id: String
        public var owner: String
        public var publicKey: String

        public init(id: String, owner: String, publicKey: Curve25519.Signing.PublicKey) {
            self.id = id
            self.owner = owner
            self.publicKey = Base64URL.encode(Array(publicKey.rawRepresentation))
        }
    }

    private struct File: Codable {
        var keys: [Entry]
    }

    public let entries: [Entry]
    private let keys: [String: (owner: String, key: Curve25519.Signing.PublicKey)]

    public init(entries: [Entry]) throws {
        var keys: [String: (owner: String, key: Curve25519.Signing.PublicKey)] = [:]
        for entry in entries {
            guard SigningKeyID.isValid(entry.id) else { throw KeyFileError.invalid("keyring: key id '\(entry.id)' is not 1 to 64 of A-Z a-z 0-9 . _ -") }
            guard keys[entry.id] == nil else { throw KeyFileError.invalid("keyring: key id '\(entry.id)' is listed twice") }
            guard EventKeyOwner.isKnown(entry.owner) else {
                throw KeyFileError.invalid("keyring: key '\(entry.id)' has owner '\(entry.owner)'; owners are \(EventKeyOwner.all.joined(separator: ", "))")
            }
            guard let raw = Base64URL.decode(entry.publicKey), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
                throw KeyFileError.invalid("keyring: key '\(entry.id)' is not a base64url Ed25519 public key (32 bytes)")
            }
            keys[entry.id] = (entry.owner, key)
        }
        self.entries = entries
        self.keys = keys
    }

    public init(json: Data) throws {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: json)
        } catch {
            throw KeyFileError.invalid("keyring: not {\"keys\": [{\"id\", \"owner\", \"publicKey\"}]}: \(error)")
        }
        try self.init(entries: file.keys)
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(File(keys: entries))
    }

    func key(_ id: String) -> (owner: String, key: Curve25519.Signing.PublicKey)? { keys[id] }
}

/// Who can own an event key: the services by name, and the operators.
public enum EventKeyOwner {
    public static let `operator` = "operator"
    public static let services = ["order", "inventory", "payment", "notification"]
    public static let all = services + [`operator`]

    public static func isKnown(_ owner: String) -> Bool { all.contains(owner) }
}

/// One party's private signing key: a service's, or an operator's (dead-letter replays).
///
/// File format (JSON, mode 0600): `{"id": "payment-2026-12", "owner": "payment", "privateKey": "<base64url, 32 bytes>"}`.
public struct EventSigner: Sendable {
    public let keyId: String
    public let owner: String
    private let key: Curve25519.Signing.PrivateKey
    private let made = SignatureCount()

    /// Ed25519 signatures made so far by this signer and its copies (one per transaction that
    /// wrote events, however many it wrote).
    public var signaturesMade: Int { made.value }

    private struct File: Codable {
        var id: String
        var owner: String
        var privateKey: String
    }

    public init(keyId: String, owner: String, key: Curve25519.Signing.PrivateKey = .init()) throws {
        guard SigningKeyID.isValid(keyId) else { throw KeyFileError.invalid("key id '\(keyId)' is not 1 to 64 of A-Z a-z 0-9 . _ -") }
        guard EventKeyOwner.isKnown(owner) else { throw KeyFileError.invalid("key '\(keyId)': owner '\(owner)' is not one of \(EventKeyOwner.all.joined(separator: ", "))") }
        self.keyId = keyId
        self.owner = owner
        self.key = key
    }

    /// Reads a signing key file; the error names the file and what is wrong with it.
    public init(file path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw KeyFileError.unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        guard let file = try? JSONDecoder().decode(File.self, from: data) else {
            throw KeyFileError.invalid("\(path) is not a signing key file ({\"id\", \"owner\", \"privateKey\"})")
        }
        guard let raw = Base64URL.decode(file.privateKey), let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw KeyFileError.invalid("\(path): privateKey is not a base64url Ed25519 private key (32 bytes)")
        }
        try self.init(keyId: file.id, owner: file.owner, key: key)
    }

    public var publicKey: Curve25519.Signing.PublicKey { key.publicKey }
    public var keyringEntry: Keyring.Entry { Keyring.Entry(id: keyId, owner: owner, publicKey: publicKey) }

    /// The file's JSON (write it with `KeyFiles.writePrivate`).
    public func fileJSON() throws -> Data {
        try JSONEncoder().encode(File(id: keyId, owner: owner, privateKey: Base64URL.encode(Array(key.rawRepresentation))))
    }

    /// What a signature covers of one event about to be written.
    public struct Event: Sendable {
        public var topic: String
        public var key: [UInt8]?
        public var payload: [UInt8]?
        public var envelope: EventEnvelope

        public init(topic: String, key: [UInt8]?, payload: [UInt8]?, envelope: EventEnvelope) {
            self.topic = topic
            self.key = key
            self.payload = payload
            self.envelope = envelope
        }
    }

    /// The `signature` headers of the events one transaction writes, in their order: one
    /// Ed25519 signature over the root of their tree, each header with its record's path.
    public func signatureHeaders(_ events: [Event]) throws -> [(name: String, value: [UInt8])] {
        guard !events.isEmpty else { return [] }
        guard events.count <= SignatureTree.maxLeaves else {
            throw KeyFileError.invalid("one transaction wrote \(events.count) events; a signature covers \(SignatureTree.maxLeaves) at most")
        }
        let leaves = events.map {
            SignatureTree.leaf(EventSignature.message(keyId: keyId, topic: $0.topic, key: $0.key, payload: $0.payload, envelope: $0.envelope))
        }
        let tree = SignatureTree.rootAndPaths(leaves[...])
        let signature = try key.signature(for: SignatureTree.signedRoot(keyId: keyId, count: leaves.count, root: tree.root))
        made.add()
        return tree.paths.enumerated().map { index, path in
            (EventSignature.header, EventSignature.headerValue(keyId: keyId, signature: signature, index: index, count: leaves.count, path: path))
        }
    }

    /// The `signature` header of one event signed alone.
    public func signatureHeader(topic: String, key recordKey: [UInt8]?, payload: [UInt8]?,
                                envelope: EventEnvelope) throws -> (name: String, value: [UInt8]) {
        try signatureHeaders([Event(topic: topic, key: recordKey, payload: payload, envelope: envelope)])[0]
    }

    /// The `replay-signature` header that lets a replay of this record count as new.
    public func replaySignatureHeader(topic: String, key recordKey: [UInt8]?, payload: [UInt8]?,
                                      envelope: EventEnvelope, replayOf: UUID) throws -> (name: String, value: [UInt8]) {
        let message = EventSignature.replayMessage(keyId: keyId, topic: topic, key: recordKey, payload: payload,
                                                   envelope: envelope, replayOf: replayOf)
        return (EventSignature.replayHeader, EventSignature.headerValue(keyId: keyId, signature: try key.signature(for: message)))
    }
}

/// Decides whether a record was written by whom the catalog says writes its topic.
///
/// A record is authentic when its `signature` header names a key in the keyring, the key's owner
/// is the topic's writer (for `deadletter.v1`, which every service writes: any service), and the
/// signature verifies over the record (`EventSignature`). A `replay-of` header counts only with a
/// `replay-signature` of an operator key over the record and that value; otherwise the record is
/// not authentic, because an unsigned `replay-of` would get any copy past the inbox.
public final class EventAuthenticator: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// Written by `signer` (a key id); `replayOf` is set for an operator-approved replay.
        case authentic(signer: String, replayOf: UUID?)
        case rejected(String)
    }

    private let keyring: @Sendable () -> Keyring
    /// Tree roots whose signature held: the other records of a verified tree need only their path.
    private let verified = VerifiedRoots(capacity: 16_384)

    public init(keyring: Keyring) {
        self.keyring = { keyring }
    }

    /// Reads the keyring file, and again whenever it changes (key rotation without a restart).
    public init(keyringFile path: String) throws {
        let file = try WatchedFile(path: path) { try Keyring(json: $0) }
        keyring = { file.value }
    }

    /// Ed25519 verifications made so far (a record of an already verified tree makes none).
    public var signatureVerifications: Int { verified.verifications }

    public func check(topic: String, key: [UInt8]?, payload: [UInt8]?, envelope: EventEnvelope,
                      headers: some Sequence<(name: String, value: [UInt8]?)>) -> Verdict {
        var signatureValue: [UInt8]?
        var replaySignatureValue: [UInt8]?
        var replayOfValue: [UInt8]?
        var replayOfCount = 0
        for (name, value) in headers {
            switch name {
            case EventSignature.header:
                if signatureValue != nil, signatureValue != value { return .rejected("two different signature headers") }
                signatureValue = value
            case EventSignature.replayHeader:
                if replaySignatureValue != nil, replaySignatureValue != value { return .rejected("two different replay-signature headers") }
                replaySignatureValue = value
            case ReplayMarker.header:
                replayOfCount += 1
                if replayOfValue != nil, replayOfValue != value { return .rejected("two different replay-of headers") }
                replayOfValue = value
            default:
                continue
            }
        }
        let keyring = keyring()
        guard let signatureValue else { return .rejected("unsigned: no \(EventSignature.header) header") }
        guard let header = EventSignature.parseHeaderValue(signatureValue) else {
            return .rejected("the \(EventSignature.header) header is not <key-id>:<signature>:<index>:<count>:<path>")
        }
        let keyId = header.keyId
        guard let signer = keyring.key(keyId) else { return .rejected("signed with key '\(keyId)', which is not in the keyring") }
        guard let spec = TopicCatalog.spec(named: topic) else { return .rejected("\(topic) is not a topic of the catalog") }
        let writerMatches = spec.writer.map { $0 == signer.owner } ?? EventKeyOwner.services.contains(signer.owner)
        guard writerMatches else {
            return .rejected("signed by \(signer.owner)'s key '\(keyId)', but \(topic) is written by \(spec.writer ?? "a service")")
        }
        let leaf = SignatureTree.leaf(EventSignature.message(keyId: keyId, topic: topic, key: key, payload: payload, envelope: envelope))
        guard let root = SignatureTree.root(leaf: leaf, index: header.index, count: header.count, path: header.path),
              verified.check(keyId: keyId, count: header.count, root: root, signature: header.signature, with: signer.key) else {
            return .rejected("the signature of key '\(keyId)' does not match the record (changed after signing, or signed for another record)")
        }
        guard replayOfCount > 0 else {
            return replaySignatureValue == nil ? .authentic(signer: keyId, replayOf: nil) : .rejected("a replay-signature without replay-of")
        }
        guard let replayOfValue, replayOfValue.count == 36,
              let replayOf = UUID(uuidString: String(decoding: replayOfValue, as: UTF8.self)) else {
            return .rejected("replay-of is not a dead letter's event id")
        }
        guard let replaySignatureValue, let replayHeader = EventSignature.parseHeaderValue(replaySignatureValue), replayHeader.count == 1 else {
            return .rejected("replay-of without an operator's replay-signature")
        }
        let (replayKeyId, replaySignature) = (replayHeader.keyId, replayHeader.signature)
        guard let replayer = keyring.key(replayKeyId), replayer.owner == EventKeyOwner.operator else {
            return .rejected("replay-signature with key '\(replayKeyId)', which is not an operator key of the keyring")
        }
        let replayMessage = EventSignature.replayMessage(keyId: replayKeyId, topic: topic, key: key, payload: payload,
                                                         envelope: envelope, replayOf: replayOf)
        guard replayer.key.isValidSignature(replaySignature, for: replayMessage) else {
            return .rejected("the replay-signature of key '\(replayKeyId)' does not match this record and replay-of")
        }
        return .authentic(signer: keyId, replayOf: replayOf)
    }
}

/// The tree roots an authenticator has seen signed, remembered until `capacity` newer ones
/// pushed them out (then the next record of that tree is verified again, nothing worse). Only
/// successes are kept, keyed by everything the signature covers and the signature itself.
final class VerifiedRoots: @unchecked Sendable {
    private let capacity: Int
    private let lock = NSLock()
    private var known: Set<[UInt8]> = []
    private var order: [[UInt8]] = []
    private var next = 0
    private(set) var verificationCount = 0

    init(capacity: Int) {
        self.capacity = capacity
    }

    var verifications: Int { lock.withLock { verificationCount } }

    func check(keyId: String, count: Int, root: [UInt8], signature: [UInt8], with key: Curve25519.Signing.PublicKey) -> Bool {
        let signed = SignatureTree.signedRoot(keyId: keyId, count: count, root: root)
        let entry = Array(key.rawRepresentation) + signed + signature
        if lock.withLock({ known.contains(entry) }) { return true }
        lock.withLock { verificationCount += 1 }
        guard key.isValidSignature(signature, for: signed) else { return false }
        lock.withLock {
            guard known.insert(entry).inserted else { return }
            if order.count < capacity {
                order.append(entry)
            } else {
                known.remove(order[next])
                order[next] = entry
                next = (next + 1) % capacity
            }
        }
        return true
    }
}

private final class SignatureCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func add() { lock.withLock { count += 1 } }
}
