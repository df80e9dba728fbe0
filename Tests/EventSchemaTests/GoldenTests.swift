import EventSchema
import Foundation
import SwiftProtobuf
import XCTest

/// The evolution rules of Contracts/EVOLUTION.md, enforced against the golden files.
final class GoldenTests: XCTestCase {
    func testEveryEventTypeHasASample() {
        let covered = Set(GoldenFixtures.samples.map(\.event.eventType))
        XCTAssertEqual(covered, Set(EventType.allCases), "every event type needs a golden sample")
        let paths = GoldenFixtures.samples.map(\.relativePath)
        XCTAssertEqual(paths.count, Set(paths).count, "two samples share a golden file name")
    }

    /// Golden bytes of every released sample decode with today's code into exactly
    /// the sample, and re-encode to the same bytes.
    func testGoldenPayloadsDecodeToTheirSamples() throws {
        for sample in GoldenFixtures.samples {
            let current = Data(sample.event.encodePayload())
            guard let stored = GoldenStore.loadOrRecord(sample.relativePath, current: current) else { continue }
            let decoded: SagaEvent
            do {
                decoded = try SagaEvent.decode(type: sample.event.eventType, payload: [UInt8](stored))
            } catch {
                XCTFail("\(sample.relativePath) no longer decodes: \(error)")
                continue
            }
            if decoded != sample.event {
                let unknown = unknownFields(of: decoded) != unknownFields(of: sample.event)
                XCTFail("\(sample.relativePath) decodes to a different value than its sample"
                    + (unknown ? "; some of its fields are unknown to today's schema (removed or renumbered?)" : ""))
            }
            XCTAssertEqual(Data(decoded.encodePayload()), stored, "\(sample.relativePath) re-encodes differently")
        }
    }

    /// A golden file without a sample would be a released version nobody checks.
    func testNoOrphanGoldenFiles() {
        let known = Set(GoldenFixtures.samples.map(\.relativePath)
            + [GoldenFixtures.envelopeHeadersPath] + GoldenFixtures.descriptorSnapshots)
        for path in GoldenStore.allFiles() where !known.contains(path) {
            XCTFail("golden file \(path) has no sample in GoldenFixtures; released samples must never be removed")
        }
    }

    func testGoldenEnvelopeHeaders() throws {
        let rendered = GoldenFixtures.envelope.headers()
            .map { "\($0.name): \(String(decoding: $0.value, as: UTF8.self))\n" }.joined()
        guard let stored = GoldenStore.loadOrRecord(GoldenFixtures.envelopeHeadersPath, current: Data(rendered.utf8))
        else { return }
        let text = try XCTUnwrap(String(data: stored, encoding: .utf8))
        let headers: [(name: String, value: [UInt8])] = text.split(separator: "\n").map { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), Array(parts[1].dropFirst().utf8))
        }
        XCTAssertEqual(try EventEnvelope(headers: headers), GoldenFixtures.envelope)
        XCTAssertEqual(text, rendered, "the header encoding changed; released header formats are frozen")
    }

    /// Every field of today's schema is set in the newest sample of its event, so
    /// the golden bytes exercise all of them (proto3 omits default values).
    func testNewestSamplesSetEveryField() throws {
        let schema = try SchemaIndex(currentDescriptorSet())
        for (type, sample) in GoldenFixtures.latest {
            let missing = schema.unsetFields(
                message: ".saga.v1.\(type.rawValue)", bytes: sample.event.encodePayload())
            XCTAssertEqual(missing, [], "\(sample.relativePath): sample leaves fields unset")
        }
    }

    /// Today's schema against every released snapshot: nothing removed without
    /// `reserved`, no number reused or retyped, nothing renamed.
    func testSchemaIsCompatibleWithReleasedVersions() throws {
        let current = try currentDescriptorSet()
        for snapshot in GoldenFixtures.descriptorSnapshots {
            guard let stored = GoldenStore.loadOrRecord(snapshot, current: current) else { continue }
            let violations = try SchemaIndex.breakingChanges(from: SchemaIndex(stored), to: SchemaIndex(current))
            XCTAssertEqual(violations, [], "breaking schema changes against \(snapshot)")
        }
    }

    /// The checker itself: it must see the breaking changes EVOLUTION.md forbids.
    func testCompatibilityCheckerCatchesBreakingChanges() throws {
        let released = try SchemaIndex(currentDescriptorSet())
        var set = try Google_Protobuf_FileDescriptorSet(serializedBytes: currentDescriptorSet())
        func mutate(_ body: (inout Google_Protobuf_DescriptorProto) -> Void, message: String) {
            for f in set.file.indices {
                for m in set.file[f].messageType.indices where set.file[f].messageType[m].name == message {
                    body(&set.file[f].messageType[m])
                }
            }
        }
        // Retype PaymentCharged.amount, renumber OrderPlaced.total, drop StockReserved.amount
        // without reserving it, drop an enum value.
        mutate({ $0.field[2].type = .bytes; $0.field[2].typeName = "" }, message: "PaymentCharged")
        mutate({ $0.field[3].number = 40 }, message: "OrderPlaced")
        mutate({ $0.field.remove(at: 3) }, message: "StockReserved")
        mutate({ $0.enumType[0].value.removeLast() }, message: "OrderCancelled")
        let violations = try SchemaIndex.breakingChanges(
            from: released, to: SchemaIndex(set.serializedData()))
        XCTAssertEqual(violations.count, 4, violations.joined(separator: "\n"))
        for expected in ["PaymentCharged.amount", "OrderPlaced.total", "StockReserved.amount",
                         "OrderCancelled.Reason"] {
            XCTAssertTrue(violations.contains { $0.contains(expected) }, "not caught: \(expected)\n\(violations)")
        }

        // Removing a field with its number and name reserved is allowed.
        set = try Google_Protobuf_FileDescriptorSet(serializedBytes: currentDescriptorSet())
        mutate({
            $0.field.removeAll { $0.name == "detail" }
            $0.reservedRange.append(.with { $0.start = 6; $0.end = 7 })
            $0.reservedName.append("detail")
        }, message: "PaymentFailed")
        let withReservation = try SchemaIndex(set.serializedData())
        XCTAssertEqual(SchemaIndex.breakingChanges(from: released, to: withReservation), [])

        // ...but a later field taking the reserved number is not.
        mutate({ $0.field.append(.with { $0.name = "note"; $0.number = 6; $0.type = .string; $0.label = .optional }) },
               message: "PaymentFailed")
        let reuse = try SchemaIndex.breakingChanges(from: withReservation, to: SchemaIndex(set.serializedData()))
        XCTAssertEqual(reuse, ["PaymentFailed.note (6) reuses a reserved number or name"])
    }

    private func currentDescriptorSet() throws -> Data {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Shared/EventSchema/Contracts/descriptor_set.binpb").standardized
        guard let data = try? Data(contentsOf: url) else {
            throw XCTSkip("\(url.path) not found (tests run outside the source tree?)")
        }
        return data
    }

    private func unknownFields(of event: SagaEvent) -> Data {
        switch event {
        case let .orderPlaced(m): m.unknownFields.data
        case let .orderConfirmed(m): m.unknownFields.data
        case let .orderCancelled(m): m.unknownFields.data
        case let .stockReserved(m): m.unknownFields.data
        case let .stockRejected(m): m.unknownFields.data
        case let .stockReleased(m): m.unknownFields.data
        case let .paymentCharged(m): m.unknownFields.data
        case let .paymentFailed(m): m.unknownFields.data
        case let .paymentRefunded(m): m.unknownFields.data
        case let .notificationSent(m): m.unknownFields.data
        case let .deadLetter(m): m.unknownFields.data
        }
    }
}

/// Messages and enums of a compiled schema by full name (".saga.v1.OrderPlaced").
struct SchemaIndex {
    var messages: [String: Google_Protobuf_DescriptorProto] = [:]
    var enums: [String: Google_Protobuf_EnumDescriptorProto] = [:]

    init(_ descriptorSet: Data) throws {
        let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: descriptorSet)
        for file in set.file {
            let prefix = file.package.isEmpty ? "" : ".\(file.package)"
            for message in file.messageType { add(message, prefix: prefix) }
            for e in file.enumType { enums["\(prefix).\(e.name)"] = e }
        }
    }

    private mutating func add(_ message: Google_Protobuf_DescriptorProto, prefix: String) {
        let name = "\(prefix).\(message.name)"
        messages[name] = message
        for nested in message.nestedType { add(nested, prefix: name) }
        for e in message.enumType { enums["\(name).\(e.name)"] = e }
    }

    static func breakingChanges(from old: SchemaIndex, to new: SchemaIndex) -> [String] {
        var problems: [String] = []
        for (name, oldMessage) in old.messages.sorted(by: { $0.key < $1.key }) {
            let display = name.replacingOccurrences(of: ".saga.v1.", with: "")
            guard let newMessage = new.messages[name] else {
                problems.append("message \(display) was removed")
                continue
            }
            let newByNumber = Dictionary(newMessage.field.map { ($0.number, $0) }, uniquingKeysWith: { a, _ in a })
            for newField in newMessage.field {
                if oldMessage.reservedRange.contains(where: { $0.start <= newField.number && newField.number < $0.end })
                    || oldMessage.reservedName.contains(newField.name) {
                    problems.append("\(display).\(newField.name) (\(newField.number)) reuses a reserved number or name")
                }
            }
            for oldField in oldMessage.field {
                let path = "\(display).\(oldField.name) (\(oldField.number))"
                guard let newField = newByNumber[oldField.number] else {
                    let reserved = newMessage.reservedRange.contains { $0.start <= oldField.number && oldField.number < $0.end }
                    if !reserved || !newMessage.reservedName.contains(oldField.name) {
                        problems.append("\(path) was removed without reserving its number and name")
                    }
                    continue
                }
                if newField.name != oldField.name {
                    problems.append("\(path) was renamed to \(newField.name)")
                }
                if newField.type != oldField.type || newField.typeName != oldField.typeName {
                    problems.append("\(path) changed type from \(oldField.type)\(oldField.typeName) to \(newField.type)\(newField.typeName)")
                }
                if newField.label != oldField.label || newField.proto3Optional != oldField.proto3Optional {
                    problems.append("\(path) changed cardinality or presence")
                }
            }
        }
        for (name, oldEnum) in old.enums.sorted(by: { $0.key < $1.key }) {
            let display = name.replacingOccurrences(of: ".saga.v1.", with: "")
            guard let newEnum = new.enums[name] else {
                problems.append("enum \(display) was removed")
                continue
            }
            for newValue in newEnum.value {
                if oldEnum.reservedRange.contains(where: { $0.start <= newValue.number && newValue.number <= $0.end })
                    || oldEnum.reservedName.contains(newValue.name) {
                    problems.append("\(display) value \(newValue.name) = \(newValue.number) reuses a reserved number or name")
                }
            }
            for oldValue in oldEnum.value {
                if let newValue = newEnum.value.first(where: { $0.number == oldValue.number }) {
                    if newValue.name != oldValue.name {
                        problems.append("\(display) value \(oldValue.number) renamed \(oldValue.name) -> \(newValue.name)")
                    }
                } else {
                    // Enum reserved ranges are inclusive at both ends.
                    let reserved = newEnum.reservedRange.contains { $0.start <= oldValue.number && oldValue.number <= $0.end }
                    if !reserved || !newEnum.reservedName.contains(oldValue.name) {
                        problems.append("\(display) value \(oldValue.name) = \(oldValue.number) was removed without reserving it")
                    }
                }
            }
        }
        return problems
    }

    /// Fields of `message` (recursively, through message fields) absent from `bytes`.
    func unsetFields(message: String, bytes: [UInt8]) -> [String] {
        unsetFields(message: message, payloads: [bytes], path: message.replacingOccurrences(of: ".saga.v1.", with: ""))
    }

    /// `payloads`: every encoding of this message at this position (one per repeated
    /// element); a field counts as set when any of them has it.
    private func unsetFields(message: String, payloads: [[UInt8]], path: String) -> [String] {
        guard let descriptor = messages[message] else { return ["\(path): unknown message \(message)"] }
        var present: [Int32: [[UInt8]]] = [:]
        for payload in payloads {
            guard let fields = WireScanner.fields(payload) else { return ["\(path): not parseable"] }
            for (number, value) in fields { present[number, default: []].append(value) }
        }
        var missing: [String] = []
        for field in descriptor.field {
            guard let values = present[field.number] else {
                missing.append("\(path).\(field.name)")
                continue
            }
            if field.type == .message {
                missing += unsetFields(message: field.typeName, payloads: values, path: "\(path).\(field.name)")
            }
        }
        return missing
    }
}

/// Minimal protobuf wire-format reader: top-level (field number, value bytes) pairs.
enum WireScanner {
    static func fields(_ bytes: [UInt8]) -> [(Int32, [UInt8])]? {
        var index = 0
        func varint() -> UInt64? {
            var result: UInt64 = 0
            for shift in stride(from: 0, to: 64, by: 7) {
                guard index < bytes.count else { return nil }
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte & 0x80 == 0 { return result }
            }
            return nil
        }
        var result: [(Int32, [UInt8])] = []
        while index < bytes.count {
            guard let tag = varint(), tag >> 3 > 0, tag >> 3 <= UInt64(Int32.max) else { return nil }
            let start = index
            switch tag & 7 {
            case 0: guard varint() != nil else { return nil }
            case 1: index += 8
            case 5: index += 4
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count - index) else { return nil }
                result.append((Int32(tag >> 3), Array(bytes[index..<index + Int(length)])))
                index += Int(length)
                continue
            default: return nil
            }
            guard index <= bytes.count else { return nil }
            result.append((Int32(tag >> 3), Array(bytes[start..<index])))
        }
        return result
    }
}
