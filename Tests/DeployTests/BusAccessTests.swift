import BusAccess
import EventSchema
import Kafka
import XCTest

/// The brokers' ACLs (`BusAccess`, applied by compose's acl-init) against what the topic catalog
/// implies: who writes, reads and joins what. Read the table below as the bus's security policy.
final class BusAccessTests: XCTestCase {
    /// Every ACL, as `kafka-tool acls print` prints it. A change to the catalog that changes who
    /// may do what on the bus must change this table too.
    static let expected = """
        User:inventory allow read group inventory (literal) from *
        User:inventory allow write topic deadletter.v1 (literal) from *
        User:inventory allow write topic inventory.v1 (literal) from *
        User:inventory allow read topic orders.v1 (literal) from *
        User:inventory allow read topic payments.v1 (literal) from *
        User:kafka-tool allow read group kafka-tool- (prefixed) from *
        User:kafka-tool allow create topic deadletter.v1 (literal) from *
        User:kafka-tool allow read topic deadletter.v1 (literal) from *
        User:kafka-tool allow create topic inventory.v1 (literal) from *
        User:kafka-tool allow read topic inventory.v1 (literal) from *
        User:kafka-tool allow write topic inventory.v1 (literal) from *
        User:kafka-tool allow create topic notifications.v1 (literal) from *
        User:kafka-tool allow read topic notifications.v1 (literal) from *
        User:kafka-tool allow write topic notifications.v1 (literal) from *
        User:kafka-tool allow create topic orders.v1 (literal) from *
        User:kafka-tool allow read topic orders.v1 (literal) from *
        User:kafka-tool allow write topic orders.v1 (literal) from *
        User:kafka-tool allow create topic payments.v1 (literal) from *
        User:kafka-tool allow read topic payments.v1 (literal) from *
        User:kafka-tool allow write topic payments.v1 (literal) from *
        User:loadgen allow read group loadgen- (prefixed) from *
        User:loadgen allow read topic deadletter.v1 (literal) from *
        User:loadgen allow read topic inventory.v1 (literal) from *
        User:loadgen allow read topic notifications.v1 (literal) from *
        User:loadgen allow read topic orders.v1 (literal) from *
        User:loadgen allow read topic payments.v1 (literal) from *
        User:notification allow read group notification (literal) from *
        User:notification allow write topic deadletter.v1 (literal) from *
        User:notification allow write topic notifications.v1 (literal) from *
        User:notification allow read topic orders.v1 (literal) from *
        User:order allow read group order (literal) from *
        User:order allow write topic deadletter.v1 (literal) from *
        User:order allow read topic inventory.v1 (literal) from *
        User:order allow write topic orders.v1 (literal) from *
        User:order allow read topic payments.v1 (literal) from *
        User:payment allow read group payment (literal) from *
        User:payment allow write topic deadletter.v1 (literal) from *
        User:payment allow read topic inventory.v1 (literal) from *
        User:payment allow read topic orders.v1 (literal) from *
        User:payment allow write topic payments.v1 (literal) from *
        """

    func testTheACLsAreTheReviewedTable() {
        XCTAssertEqual(BusAccess.acls().map(\.description).joined(separator: "\n"), Self.expected)
    }

    func acls(of name: String) -> [KafkaACL] { BusAccess.acls().filter { $0.principal == "User:\(name)" } }

    /// Derived again here from the catalog's writer and readers, independently of BusAccess's code.
    func testEachServiceWritesItsOwnTopicReadsItsInputsAndUsesItsOwnGroup() {
        XCTAssertEqual(Set(BusAccess.services), ["order", "inventory", "payment", "notification"])
        for service in BusAccess.services {
            let acls = acls(of: service)
            let written = Set(acls.filter { $0.operation == .write }.map(\.resourceName))
            let owned = Set(TopicCatalog.all.filter { $0.writer == service }.map(\.name))
            XCTAssertEqual(owned.count, 1, "\(service) writes one topic of its own")
            XCTAssertEqual(written, owned.union([TopicCatalog.deadLetters.name]),
                           "\(service) writes its own topic and the dead letters its consumer makes, nothing else")
            let read = Set(acls.filter { $0.resourceType == .topic && $0.operation == .read }.map(\.resourceName))
            XCTAssertEqual(read, Set(TopicCatalog.all.filter { $0.readers.contains(service) }.map(\.name)), "\(service) reads its inputs only")
            let groups = acls.filter { $0.resourceType == .group }
            XCTAssertEqual(groups, [KafkaACL(principal: "User:\(service)", .read, .group, service)],
                           "\(service) uses the one group named after it, literally (no prefix another could share)")
            XCTAssertTrue(acls.allSatisfy { $0.patternType == .literal }, "\(service): no prefixed grant")
            XCTAssertTrue(acls.allSatisfy { [.read, .write].contains($0.operation) }, "\(service) reads and writes, nothing more")
        }
    }

    /// A topic with a writer is written by that service and, for replays, the operator: nobody else.
    func testNoTopicHasASecondWriter() {
        for topic in TopicCatalog.all {
            let writers = Set(BusAccess.acls().filter { $0.resourceName == topic.name && $0.operation == .write }.map(\.principal))
            if let writer = topic.writer {
                XCTAssertEqual(writers, ["User:\(writer)", "User:\(BusAccess.operatorTool)"], topic.name)
            } else {
                XCTAssertEqual(writers, Set(BusAccess.services.map { "User:\($0)" }), "\(topic.name): every service's consumer, not the operator")
            }
        }
    }

    func testTheLoadGeneratorAndTheAuditOnlyRead() {
        let acls = acls(of: BusAccess.loadGenerator)
        XCTAssertTrue(acls.allSatisfy { $0.operation == .read }, "loadgen (run and audit) reads only: \(acls)")
        XCTAssertEqual(Set(acls.filter { $0.resourceType == .topic }.map(\.resourceName)), Set(TopicCatalog.all.map(\.name)))
        XCTAssertEqual(acls.filter { $0.resourceType == .group }.map { "\($0.resourceName) \($0.patternType)" }, ["loadgen- prefixed"],
                       "its groups carry its own prefix")
    }

    func testTheOperatorCreatesReadsAndReplaysButOnlyOnTheCatalog() {
        let acls = acls(of: BusAccess.operatorTool)
        XCTAssertTrue(acls.filter { $0.resourceType == .topic }.allSatisfy { TopicCatalog.spec(named: $0.resourceName) != nil && $0.patternType == .literal },
                      "the operator's topic grants name catalog topics, literally")
        XCTAssertFalse(acls.contains { $0.operation == .write && $0.resourceName == TopicCatalog.deadLetters.name },
                       "a replay goes to the origin topic, never back to the dead letters")
        XCTAssertFalse(acls.contains { [.alter, .delete, .alterConfigs].contains($0.operation) }, "no deleting or reconfiguring topics")
    }

    func testNoWildcardNoDenyNoHostRule() {
        for acl in BusAccess.acls() {
            XCTAssertNotEqual(acl.resourceName, "*", "\(acl): a wildcard resource")
            XCTAssertFalse(acl.principal.hasSuffix(":*"), "\(acl): a wildcard principal")
            XCTAssertEqual(acl.permission, .allow, "deny-by-default needs no deny rule: \(acl)")
            XCTAssertEqual(acl.host, "*", "identities are certificates, not addresses: \(acl)")
        }
        XCTAssertEqual(Set(BusAccess.acls()).count, BusAccess.acls().count, "no duplicates")
    }

    /// `acls apply` makes the cluster's set exactly the wanted one: stray grants are deleted.
    func testApplyingCreatesWhatIsMissingAndDeletesWhatIsNotWanted() {
        let wanted = BusAccess.acls()
        let stray = KafkaACL(principal: "User:mallory", .write, .topic, TopicCatalog.payments.name)
        let change = BusAccess.difference(current: Array(wanted.dropFirst(3)) + [stray])
        XCTAssertEqual(change.create, Array(wanted.prefix(3)))
        XCTAssertEqual(change.delete, [stray])
        XCTAssertTrue(BusAccess.difference(current: wanted).create.isEmpty)
        XCTAssertTrue(BusAccess.difference(current: wanted).delete.isEmpty)
    }
}
