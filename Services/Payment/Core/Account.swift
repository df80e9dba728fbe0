/// One row of the `accounts` table: a customer's balance in minor units of one currency.
public struct Account: Sendable, Hashable {
    public var customerId: String
    public var currency: String
    public var balance: Int64
    /// A blocked customer is never charged (refunds still go through).
    public var blocked: Bool

    public init(customerId: String, currency: String, balance: Int64, blocked: Bool = false) {
        self.customerId = customerId
        self.currency = currency
        self.balance = balance
        self.blocked = blocked
    }

    /// The account after `movement`, or nil where its conditional update would match no row.
    public func applying(_ movement: AccountMovement) -> Account? {
        guard movement.customerId == customerId, movement.amount >= 0 else { return nil }
        var next = self
        switch movement.kind {
        case .charge:
            guard !blocked, balance >= movement.amount else { return nil }
            next.balance -= movement.amount
        case .refund:
            let (sum, overflow) = balance.addingReportingOverflow(movement.amount)
            guard !overflow else { return nil }
            next.balance = sum
        }
        return next
    }
}

/// A change of one balance, applied by the service as
/// - charge: `UPDATE accounts SET balance = balance - a WHERE customer_id = ? AND balance >= a AND NOT blocked`
/// - refund: `UPDATE accounts SET balance = balance + a WHERE customer_id = ?`
/// An update matching no row means the decision was made on a stale account: roll back and decide again.
public struct AccountMovement: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case charge, refund
    }

    public let customerId: String
    public let kind: Kind
    /// Minor units in the account's currency, >= 0.
    public let amount: Int64

    public init(customerId: String, kind: Kind, amount: Int64) {
        self.customerId = customerId
        self.kind = kind
        self.amount = amount
    }

    public var description: String { "\(kind) \(amount) for \(customerId)" }
}
