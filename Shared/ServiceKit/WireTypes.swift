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

extension SQLValue {
    /// `.null` for nil, so optional columns read naturally at call sites.
    public static func optionalText(_ value: String?) -> SQLValue { value.map { .text($0) } ?? .null }
    public static func optionalInteger(_ value: Int64?) -> SQLValue { value.map { .integer($0) } ?? .null }
}
