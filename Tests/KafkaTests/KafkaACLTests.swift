import CRdKafka
@testable import Kafka
import XCTest

/// ACL bindings through librdkafka's Admin API types: what `kafka-tool acls apply` sends is what
/// it means, and what DescribeAcls returns reads back as the same ACL.
final class KafkaACLTests: XCTestCase {
    func testEveryFieldSurvivesTheTripThroughLibrdkafka() throws {
        var acls: [KafkaACL] = []
        for operation in KafkaACL.Operation.allCases {
            for type in KafkaACL.ResourceType.allCases {
                for pattern in KafkaACL.PatternType.allCases {
                    for permission in KafkaACL.Permission.allCases {
                        acls.append(KafkaACL(principal: "User:order", operation, type, "orders.v1", pattern: pattern, permission: permission, host: "10.0.0.1"))
                    }
                }
            }
        }
        for acl in acls {
            let binding = try acl.makeNativeBinding()
            defer { rd_kafka_AclBinding_destroy(binding) }
            let read = KafkaACL.from(native: binding)
            XCTAssertEqual(read.acl, acl)
            XCTAssertEqual(read.description, acl.description)
        }
    }

    func testTheLineFormat() {
        XCTAssertEqual(KafkaACL(principal: "User:loadgen", .read, .group, "loadgen-", pattern: .prefixed).description,
                       "User:loadgen allow read group loadgen- (prefixed) from *")
    }
}
