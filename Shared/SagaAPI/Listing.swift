import HTTPTypes

/// `?after=<id>&limit=<n>` listings answer a page: `{"items": [...], "next": "<id>" | null}`.
public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]
    public var next: String?

    public init(items: [Item], next: String?) {
        self.items = items
        self.next = next
    }

    /// `items` fetched with `limit + 1`: the extra one only tells that there is a next page.
    public init(items: [Item], limit: Int, id: (Item) -> String) {
        self.items = Array(items.prefix(limit))
        next = items.count > limit ? self.items.last.map(id) : nil
    }

    enum CodingKeys: String, CodingKey { case items, next }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(items, forKey: .items)
        try c.encode(next, forKey: .next)  // explicit null: clients test for it
    }
}

extension Page: Equatable where Item: Equatable {}

/// An unpaged listing: `{"items": [...]}` (all SKUs; one order's notifications).
public struct Items<Item: Codable & Sendable>: Codable, Sendable {
    public var items: [Item]

    public init(_ items: [Item]) {
        self.items = items
    }
}

/// Header names of the API beyond the standard ones.
public enum HeaderNames {
    public static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    public static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
