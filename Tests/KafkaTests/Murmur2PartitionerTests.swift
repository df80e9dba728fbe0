import Kafka
import XCTest

/// The partitioner must agree with the Java client (`Utils.murmur2`), or tools in other
/// languages would look for an order's events in the wrong partition.
final class Murmur2PartitionerTests: XCTestCase {
    func testHashMatchesJavaClientVectors() {
        // Expected values from Apache Kafka's UtilsTest (signed 32-bit as Java prints them).
        let vectors: [(String, Int32)] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ]
        for (key, expected) in vectors {
            XCTAssertEqual(Int32(bitPattern: Murmur2Partitioner.murmur2(Array(key.utf8))), expected, key)
        }
    }

    func testPartitionIsPositiveModulo() {
        for i in 0..<1000 {
            let p = Murmur2Partitioner.partition(forKey: "order-\(i)", partitionCount: 12)
            XCTAssert((0..<12).contains(p))
        }
    }
}
