import Credentials
import EventSchema
import Foundation
import PropertyBased
import Testing

/// What a consumer believes about a record: only what its topic's writer signed. Each forgery a
/// client of the brokers could write is refused with its reason.
@Suite struct RecordAuthenticationTests {
    let signers: [String: EventSigner]
    let authenticator: EventAuthenticator

    init() throws {
        var signers: [String: EventSigner] = [:]
        for owner in EventKeyOwner.all { signers[owner] = try EventSigner(keyId: "\(owner)-1", owner: owner) }
        self.signers = signers
        authenticator = EventAuthenticator(keyring: try Keyring(entries: signers.values.map(\.keyringEntry)))
    }

    struct Record {
        var topic: String
        var key: [UInt8]?
        var payload: [UInt8]?
        var envelope: EventEnvelope
        var headers: [(name: String, value: [UInt8]?)]
    }

    /// A PaymentCharged as Payment would write it, signed by `signer`.
    func charged(_ orderId: String, amount: Int64 = 1_000, signer: String? = "payment") throws -> Record {
        let event = SagaEvent.paymentCharged(.with {
            $0.orderID = orderId
            $0.customerID = "C-1"
            $0.amount = .with { $0.minorUnits = amount; $0.currency = "EUR" }
        })
        let envelope = EventEnvelope(for: event, sequence: 1)
        var headers = envelope.headers().map { (name: $0.name, value: Optional($0.value)) }
        let payload = event.encodePayload()
        if let signer {
            let header = try signers[signer]!.signatureHeader(topic: TopicCatalog.payments.name, key: envelope.key, payload: payload, envelope: envelope)
            headers.append((header.name, header.value))
        }
        return Record(topic: TopicCatalog.payments.name, key: envelope.key, payload: payload, envelope: envelope, headers: headers)
    }

    func check(_ record: Record) -> EventAuthenticator.Verdict {
        authenticator.check(topic: record.topic, key: record.key, payload: record.payload, envelope: record.envelope, headers: record.headers)
    }

    func isRejected(_ record: Record) -> Bool {
        if case .rejected = check(record) { return true }
        return false
    }

    @Test func theWritersSignatureIsAccepted() throws {
        #expect(check(try charged("o-1")) == .authentic(signer: "payment-1", replayOf: nil))
    }

    @Test func anUnsignedRecordIsRefused() throws {
        #expect(check(try charged("o-1", signer: nil)) == .rejected("unsigned: no signature header"))
    }

    @Test func anotherServicesKeyCannotWriteThisTopic() throws {
        // Inventory's own, valid key, on Payment's topic.
        let record = try charged("o-1", signer: "inventory")
        guard case .rejected(let why) = check(record) else { Issue.record("accepted"); return }
        #expect(why.contains("written by payment"), "\(why)")
        #expect(isRejected(try charged("o-1", signer: "operator")))
    }

    @Test func aFlippedPayloadByteIsRefused() throws {
        var record = try charged("o-1")
        record.payload![record.payload!.count - 1] ^= 0x01
        #expect(isRejected(record))
    }

    @Test func aValidSignatureOverAnotherOrderIsRefused() throws {
        let signed = try charged("o-1")
        var other = try charged("o-2", signer: nil)
        other.headers.append(signed.headers.last!)
        #expect(isRejected(other))
    }

    @Test func aKeyOutsideTheKeyringIsRefused() throws {
        var record = try charged("o-1", signer: nil)
        let stranger = try EventSigner(keyId: "payment-1", owner: "payment")  // the right id, another key
        let header = try stranger.signatureHeader(topic: record.topic, key: record.key, payload: record.payload, envelope: record.envelope)
        record.headers.append((header.name, header.value))
        #expect(isRejected(record))
    }

    @Test func twoDifferentSignatureHeadersAreRefused() throws {
        var record = try charged("o-1")
        record.headers.append((EventSignature.header, Array("payment-1:AAAA".utf8)))
        #expect(isRejected(record))
    }

    @Test func aReplayCountsOnlyUnderAnOperatorsSignature() throws {
        let letter = UUID()
        var madeUp = try charged("o-1")
        madeUp.headers.append((ReplayMarker.header, Array(letter.uuidString.lowercased().utf8)))
        #expect(isRejected(madeUp), "replay-of without a replay signature")

        var approved = madeUp
        let replay = try signers["operator"]!.replaySignatureHeader(topic: approved.topic, key: approved.key, payload: approved.payload,
                                                                    envelope: approved.envelope, replayOf: letter)
        approved.headers.append((replay.name, replay.value))
        #expect(check(approved) == .authentic(signer: "payment-1", replayOf: letter))

        var bySomeService = madeUp
        let serviceSigned = try signers["payment"]!.replaySignatureHeader(topic: madeUp.topic, key: madeUp.key, payload: madeUp.payload,
                                                                          envelope: madeUp.envelope, replayOf: letter)
        bySomeService.headers.append((serviceSigned.name, serviceSigned.value))
        #expect(isRejected(bySomeService), "only operators approve replays")

        var otherLetter = try charged("o-1")
        otherLetter.headers.append((ReplayMarker.header, Array(UUID().uuidString.lowercased().utf8)))
        otherLetter.headers.append((replay.name, replay.value))
        #expect(isRejected(otherLetter), "an approval is for one dead letter")
    }

    @Test func deadLettersAreWrittenByAnyServiceButNotByOperators() throws {
        let letter = SagaEvent.deadLetter(Saga_V1_DeadLetter.with { $0.originTopic = "orders.v1"; $0.error = "x" })
        let envelope = EventEnvelope(for: letter, sequence: 0)
        func signed(by owner: String) throws -> Record {
            var headers = envelope.headers().map { (name: $0.name, value: Optional($0.value)) }
            let header = try signers[owner]!.signatureHeader(topic: TopicCatalog.deadLetters.name, key: nil, payload: letter.encodePayload(), envelope: envelope)
            headers.append((header.name, header.value))
            return Record(topic: TopicCatalog.deadLetters.name, key: nil, payload: letter.encodePayload(), envelope: envelope, headers: headers)
        }
        for service in EventKeyOwner.services { #expect(!isRejected(try signed(by: service))) }
        #expect(isRejected(try signed(by: "operator")))
    }

    @Test func twoKeysOfOneWriterAreValidAtOnceDuringARotation() throws {
        let next = try EventSigner(keyId: "payment-2", owner: "payment")
        let rotating = EventAuthenticator(keyring: try Keyring(entries: signers.values.map(\.keyringEntry) + [next.keyringEntry]))
        var record = try charged("o-1", signer: nil)
        let header = try next.signatureHeader(topic: record.topic, key: record.key, payload: record.payload, envelope: record.envelope)
        record.headers.append((header.name, header.value))
        let old = try charged("o-1")
        for candidate in [record, old] {
            if case .rejected(let why) = rotating.check(topic: candidate.topic, key: candidate.key, payload: candidate.payload,
                                                        envelope: candidate.envelope, headers: candidate.headers) {
                Issue.record("refused during rotation: \(why)")
            }
        }
    }

    /// Whatever one byte of the signed fields an attacker changes (key, payload, or any envelope
    /// header a decision reads), the record is refused.
    @Test func anyChangedByteOfASignedFieldIsRefused() async throws {
        let original = try charged("order-\(UUID().uuidString.prefix(8))")
        let signedHeaders = EventEnvelope.Header.all.filter { $0 != EventEnvelope.Header.traceparent }
        await propertyCheck(count: 300, input: Gen.int(in: 0...2), Gen.int(in: 0...10_000), Gen.int(in: 1...255)) { field, position, flip in
            var record = original
            switch field {
            case 0:
                record.payload![position % record.payload!.count] ^= UInt8(flip)
            case 1:
                record.key![position % record.key!.count] ^= UInt8(flip)
                // The envelope must agree with the key for the record to be read at all.
                if let orderId = String(validating: record.key!, as: UTF8.self), EventEnvelope.isValidOrderId(orderId) {
                    record.envelope.orderId = orderId
                }
            default:
                let name = signedHeaders[position % signedHeaders.count]
                switch name {
                case EventEnvelope.Header.sequence: record.envelope.sequence += Int64(flip)
                case EventEnvelope.Header.producedAt: record.envelope.producedAtUnixMs += Int64(flip)
                case EventEnvelope.Header.schemaVersion: record.envelope.schemaVersion += flip
                case EventEnvelope.Header.eventId: record.envelope.eventId = UUID()
                case EventEnvelope.Header.correlationId: record.envelope.correlationId = UUID()
                case EventEnvelope.Header.causationId: record.envelope.causationId = UUID()
                case EventEnvelope.Header.orderId: record.envelope.orderId += "x"
                default: record.envelope.eventType = .paymentRefunded
                }
            }
            #expect(isRejected(record))
        }
    }
}
