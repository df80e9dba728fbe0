import EventSchema
import Foundation
import Persistence
import SagaAPI

/// The wire types of SagaAPI made from the events' protobuf values, and back.
extension Money {
    public init(_ money: Saga_V1_Money) {
        self.init(minorUnits: money.minorUnits, currency: money.currency)
    }
}

extension Line {
    /// `withPrice: false` where a service does not know prices (Inventory).
    public init(_ line: Saga_V1_OrderLine, withPrice: Bool = true) {
        self.init(sku: line.sku, quantity: line.quantity,
                  unitPrice: withPrice && line.hasUnitPrice ? Money(line.unitPrice) : nil)
    }

    public var proto: Saga_V1_OrderLine {
        var line = Saga_V1_OrderLine()
        line.sku = sku
        line.quantity = quantity
        if let unitPrice {
            line.unitPrice = Saga_V1_Money(minorUnits: unitPrice.minorUnits, currency: unitPrice.currency)
        }
        return line
    }
}

/// Order lines stored as one JSON text column: read whole, never queried by parts.
public enum LinesColumn {
    public static func encode(_ lines: [Saga_V1_OrderLine]) -> SQLValue {
        let data = (try? JSONResponse.encoder.encode(lines.map { Line($0) })) ?? Data("[]".utf8)
        return .text(String(decoding: data, as: UTF8.self))
    }

    public static func decode(_ text: String?) throws -> [Saga_V1_OrderLine] {
        guard let text else { return [] }
        do {
            return try JSONDecoder().decode([Line].self, from: Data(text.utf8)).map(\.proto)
        } catch {
            throw SQLError.permanent("corrupt lines column: \(error)")
        }
    }
}

extension SQLValue {
    /// `.null` for nil, so optional columns read naturally at call sites.
    public static func optionalText(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }
    public static func optionalInteger(_ value: Int64?) -> SQLValue { value.map { .integer($0) } ?? .null }
}
