/// JSON shapes of the services' read side (Services/API.md), only the fields the load
/// generator uses.
enum API {
    struct Page<Item: Decodable & Sendable>: Decodable, Sendable {
        let items: [Item]
        let next: String?
    }

    /// `{"minorUnits", "currency"}`; also accepts a bare integer, so a service that reports
    /// `netCharge` as a number rather than a money object reads the same.
    struct Amount: Decodable, Sendable {
        let minorUnits: Int64

        init(from decoder: any Decoder) throws {
            if let value = try? decoder.singleValueContainer().decode(Int64.self) {
                minorUnits = value
            } else {
                enum Keys: String, CodingKey { case minorUnits }
                minorUnits = try decoder.container(keyedBy: Keys.self).decode(Int64.self, forKey: .minorUnits)
            }
        }
    }

    struct Line: Decodable, Sendable {
        let sku: String
        let quantity: Int64
    }

    struct OrderItem: Decodable, Sendable {
        let orderId: String
        let customerId: String
        let status: OrderStatus
        let cancelReason: String?
        let total: Amount
    }

    struct OrderDetail: Decodable, Sendable {
        let orderId: String
        let status: OrderStatus
        let cancelReason: String?
        let lines: [Line]
    }

    struct StockItem: Decodable, Sendable {
        let sku: String
        let initial: Int64
        let available: Int64
        let reserved: Int64
        let sold: Int64
    }

    struct ReservationItem: Decodable, Sendable {
        let orderId: String
        let state: String
        let lines: [Line]
    }

    struct PaymentItem: Decodable, Sendable {
        let orderId: String
        let customerId: String
        let state: String
        let netCharge: Amount?
    }

    struct AccountItem: Decodable, Sendable {
        let customerId: String
        let initialBalance: Int64
        let balance: Int64
    }

    struct NotificationItem: Decodable, Sendable {
        let notificationId: String
        let orderId: String
        /// Kept as text: an unexpected kind is an audit finding, not a decoding failure.
        let kind: String
    }
}
