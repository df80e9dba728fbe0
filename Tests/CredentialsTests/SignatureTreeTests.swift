import Crypto
import Credentials
import EventSchema
import Foundation
import PropertyBased
import Testing

/// One signature per transaction: every record of a signed tree stands alone (any order, any
/// reader), costs its reader one verification per tree, and cannot borrow another record's
/// place in the tree.
@Suite struct SignatureTreeTests {
    static func leaves(_ count: Int, seed: Int) -> [[UInt8]] {
        (0..<count).map { SignatureTree.leaf(Array("leaf \(seed)-\($0)".utf8)) }
    }

    @Test func everyLeafsPathLeadsToTheRootAndNoOtherPlaceDoes() async {
        await propertyCheck(count: 200, input: Gen.int(in: 1...70), Gen.int(in: 0...1_000_000)) { count, seed in
            let leaves = Self.leaves(count, seed: seed)
            let tree = SignatureTree.rootAndPaths(leaves[...])
            #expect(tree.root == SignatureTree.root(leaves[...]))
            for index in leaves.indices {
                let path = tree.paths[index]
                #expect(path == SignatureTree.path(leaves[...], index: index))
                #expect(SignatureTree.root(leaf: leaves[index], index: index, count: count, path: path) == tree.root)
                // The same leaf and path claimed at another index, with one hash of its path
                // changed, or with a hash missing or added: never this root. (A path can fit trees
                // of several sizes; the signature covers the size, tested below.)
                let other = (index + 1 + seed % max(count - 1, 1)) % count
                if other != index {
                    #expect(SignatureTree.root(leaf: leaves[index], index: other, count: count, path: path) != tree.root)
                }
                if !path.isEmpty {
                    var changed = path
                    changed[seed % path.count][seed % 32] ^= 0x01
                    #expect(SignatureTree.root(leaf: leaves[index], index: index, count: count, path: changed) != tree.root)
                    #expect(SignatureTree.root(leaf: leaves[index], index: index, count: count, path: Array(path.dropLast())) != tree.root)
                }
                #expect(SignatureTree.root(leaf: leaves[index], index: index, count: count, path: path + [leaves[0]]) != tree.root)
            }
        }
    }

    /// A leaf's hash can never pass for an inner node's (RFC 9162's domain separation): the
    /// two-leaf tree's root, offered as a leaf, is not accepted as its own tree.
    @Test func anInnerNodeIsNotALeaf() {
        let leaves = Self.leaves(2, seed: 7)
        let root = SignatureTree.root(leaves[...])
        #expect(SignatureTree.leaf(leaves[0] + leaves[1]) != root)
    }

    struct Signed {
        var event: EventSigner.Event
        var headers: [(name: String, value: [UInt8]?)]
    }

    /// `count` PaymentCharged events written by one transaction of Payment.
    static func transaction(_ count: Int, signer: EventSigner) throws -> [Signed] {
        let events = (0..<count).map { index -> EventSigner.Event in
            let event = SagaEvent.paymentCharged(.with {
                $0.orderID = "order-\(index)-\(UUID().uuidString.prefix(6))"
                $0.customerID = "C-\(index)"
                $0.amount = .with { $0.minorUnits = Int64(100 + index); $0.currency = "EUR" }
            })
            let envelope = EventEnvelope(for: event, sequence: 1)
            return EventSigner.Event(topic: TopicCatalog.payments.name, key: envelope.key, payload: event.encodePayload(), envelope: envelope)
        }
        let signatures = try signer.signatureHeaders(events)
        return zip(events, signatures).map { event, signature in
            Signed(event: event, headers: event.envelope.headers().map { (name: $0.name, value: Optional($0.value)) }
                   + [(signature.name, signature.value)])
        }
    }

    static func check(_ authenticator: EventAuthenticator, _ record: Signed) -> EventAuthenticator.Verdict {
        authenticator.check(topic: record.event.topic, key: record.event.key, payload: record.event.payload,
                            envelope: record.event.envelope, headers: record.headers)
    }

    @Test func everyRecordOfATransactionIsAuthenticAloneAndInAnyOrderWithOneVerificationPerTree() async throws {
        let payment = try EventSigner(keyId: "payment-1", owner: "payment")
        let keyring = try Keyring(entries: [payment.keyringEntry])
        await propertyCheck(count: 40, input: Gen.int(in: 1...40), Gen.int(in: 0...1_000_000)) { count, seed in
            let records = try! Self.transaction(count, signer: payment)
            var generator = SystemRandomNumberGenerator()
            // A reader that sees one record only, and one that sees all of them shuffled.
            let alone = EventAuthenticator(keyring: keyring)
            let one = records[seed % count]
            #expect(Self.check(alone, one) == .authentic(signer: "payment-1", replayOf: nil))
            let reader = EventAuthenticator(keyring: keyring)
            for record in records.shuffled(using: &generator) {
                #expect(Self.check(reader, record) == .authentic(signer: "payment-1", replayOf: nil))
            }
            #expect(reader.signatureVerifications == 1)
        }
    }

    /// A record cannot take another record's signature header (its place in the tree), nor claim
    /// another index, nor present the tree's signature as a signature over itself alone, even
    /// after the reader verified and remembered that tree's root.
    @Test func aRecordCannotBorrowAnotherRecordsPlaceInAVerifiedTree() throws {
        let payment = try EventSigner(keyId: "payment-1", owner: "payment")
        let reader = EventAuthenticator(keyring: try Keyring(entries: [payment.keyringEntry]))
        let records = try Self.transaction(5, signer: payment)
        for record in records { #expect(Self.check(reader, record) == .authentic(signer: "payment-1", replayOf: nil)) }

        func header(_ record: Signed) -> EventSignature.HeaderValue {
            EventSignature.parseHeaderValue(record.headers.last!.value!)!
        }
        func with(_ record: Signed, _ value: EventSignature.HeaderValue) -> Signed {
            var changed = record
            changed.headers[changed.headers.count - 1].value = EventSignature.headerValue(
                keyId: value.keyId, signature: value.signature, index: value.index, count: value.count, path: value.path)
            return changed
        }
        func isRejected(_ record: Signed) -> Bool {
            if case .rejected = Self.check(reader, record) { return true }
            return false
        }
        // Record 1 carrying record 0's header; record 0 claiming index 1 with its own path.
        var borrowed = records[1]
        borrowed.headers[borrowed.headers.count - 1] = records[0].headers.last!
        #expect(isRejected(borrowed))
        var moved = header(records[0])
        moved.index = 1
        #expect(isRejected(with(records[0], moved)))
        // The last record claiming a tree one larger (its path may fit that size too).
        var larger = header(records[4])
        larger.count = 6
        #expect(isRejected(with(records[4], larger)))
        // The tree's signature offered as the signature of record 0 alone.
        var alone = header(records[0])
        alone.count = 1
        alone.index = 0
        alone.path = []
        #expect(isRejected(with(records[0], alone)))
        // A record the writer never wrote, with a path taken from a real one.
        var forged = records[2]
        forged.event.payload![0] ^= 0x01
        #expect(isRejected(forged))
    }
}
