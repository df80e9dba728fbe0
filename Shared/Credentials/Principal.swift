/// What a caller may be. A token may carry several; each route names the ones it admits.
public enum Role: String, Sendable, Codable, CaseIterable, Hashable {
    /// A customer: the token's subject is the customer id; sees and places only its own orders.
    case customer
    /// Runs the platform: every listing, dead letters, offsets, consumer state, and acting on them.
    case `operator`
    /// Reads every listing, changes nothing: the load generator's audit.
    case auditor
    /// Scrapes `/metrics` and nothing else (Prometheus).
    case monitor
}

/// An authenticated caller: whom the token names and what it may do.
public struct Principal: Sendable, Hashable, CustomStringConvertible {
    public let subject: String
    public let roles: Set<Role>

    public init(subject: String, roles: Set<Role>) {
        self.subject = subject
        self.roles = roles
    }

    public func has(_ role: Role) -> Bool { roles.contains(role) }

    /// The customer this caller acts as, when it is a customer.
    public var customerId: String? { has(.customer) ? subject : nil }

    /// Reads every customer's objects (an operator or the auditor).
    public var readsEverything: Bool { has(.operator) || has(.auditor) }

    public var description: String {
        "\(subject) (\(roles.map(\.rawValue).sorted().joined(separator: ",")))"
    }

    /// The subject a token may carry: 1 to 128 visible ASCII characters (it reaches indexed
    /// columns as the owner of idempotency keys, and customer ids in the seed are like that).
    public static func isValidSubject(_ subject: String) -> Bool {
        (1...128).contains(subject.utf8.count) && subject.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }
}
