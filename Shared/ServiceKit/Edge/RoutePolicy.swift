import Credentials
import Hummingbird
import SagaAPI

/// Who may call a route. Every route is registered with one (`EdgeRoutes`); a route without a
/// policy cannot be added through it, and a test walks each service's router to prove that
/// every route it serves has one.
public struct RoutePolicy: Sendable, Hashable, CustomStringConvertible {
    /// Roles admitted; empty for an open route.
    public let roles: Set<Role>
    public let isOpen: Bool

    /// No token needed: the health and readiness probes only.
    public static let open = RoutePolicy(roles: [], isOpen: true)

    /// A valid token holding one of `roles`. A route that serves customers narrows what each
    /// one sees itself (another customer's object answers 404, as if it did not exist).
    public static func requires(_ roles: Role...) -> RoutePolicy {
        precondition(!roles.isEmpty, "a closed route admits at least one role")
        return RoutePolicy(roles: Set(roles), isOpen: false)
    }

    /// Operators and the auditor: every listing, read-only.
    public static let staff = requires(.operator, .auditor)

    public var description: String {
        isOpen ? "open" : roles.map(\.rawValue).sorted().joined(separator: "|")
    }
}

/// The caller of a closed route: admitted by its policy, handed to the handler.
public struct Caller: Sendable {
    public let principal: Principal

    /// Whether the caller may see an object of `customerId`: its own, or any for staff.
    public func mayRead(customer customerId: String) -> Bool {
        principal.readsEverything || principal.customerId == customerId
    }

    /// The customer whose objects a listing is limited to; nil for staff (everything).
    public var listingScope: String? { principal.readsEverything ? nil : principal.customerId }
}

/// Registers routes with their policy and enforces it before the handler runs: no token, or a
/// refused one, answers 401 with `WWW-Authenticate: Bearer`; a token without an admitted role
/// answers 403. The table of policies is what the route test reads.
public final class EdgeRoutes: @unchecked Sendable {
    public let router: Router<EdgeContext>
    public private(set) var policies: [RouteKey: RoutePolicy] = [:]

    public struct RouteKey: Hashable, Sendable, CustomStringConvertible {
        public let method: HTTPRequest.Method
        public let path: String
        public var description: String { "\(method) \(path)" }
    }

    public init(router: Router<EdgeContext>) {
        self.router = router
    }

    public func get(_ path: String, _ policy: RoutePolicy,
                    _ handler: @escaping @Sendable (Request, EdgeContext, Caller) async throws -> Response) {
        add(.get, path, policy, handler)
    }

    public func post(_ path: String, _ policy: RoutePolicy,
                     _ handler: @escaping @Sendable (Request, EdgeContext, Caller) async throws -> Response) {
        add(.post, path, policy, handler)
    }

    /// An open route; the handler sees the caller when a valid token came along anyway.
    public func getOpen(_ path: String, _ handler: @escaping @Sendable (Request, EdgeContext, Caller?) async throws -> Response) {
        register(.get, path, .open)
        router.get(RouterPath(path)) { request, context in try await handler(request, context, context.identity.map(Caller.init)) }
    }

    /// An open POST: the console's sign-in form only (it checks its own double-submit value and
    /// the token it is given). No service has one.
    public func postOpen(_ path: String, _ handler: @escaping @Sendable (Request, EdgeContext) async throws -> Response) {
        register(.post, path, .open)
        router.post(RouterPath(path)) { request, context in try await handler(request, context) }
    }

    public func add(_ method: HTTPRequest.Method, _ path: String, _ policy: RoutePolicy,
                    _ handler: @escaping @Sendable (Request, EdgeContext, Caller) async throws -> Response) {
        precondition(!policy.isOpen, "use getOpen for open routes")
        register(method, path, policy)
        router.on(RouterPath(path), method: method) { request, context in
            let caller = try Self.admit(context, policy)
            return try await handler(request, context, caller)
        }
    }

    private func register(_ method: HTTPRequest.Method, _ path: String, _ policy: RoutePolicy) {
        let key = RouteKey(method: method, path: RouterPath(path).description)
        precondition(policies[key] == nil, "\(key) registered twice")
        policies[key] = policy
    }

    static func admit(_ context: EdgeContext, _ policy: RoutePolicy) throws -> Caller {
        guard let principal = context.identity else {
            throw Problem.unauthenticated(context.rejection)
        }
        guard !principal.roles.isDisjoint(with: policy.roles) else {
            throw Problem.forbidden("this endpoint is for \(policy.roles.map(\.rawValue).sorted().joined(separator: " or "))")
        }
        return Caller(principal: principal)
    }

    /// Routes the router serves that were not registered here with a policy (the route test
    /// expects none).
    public func routesWithoutPolicy() -> [RouteKey] {
        router.routes.map { RouteKey(method: $0.method, path: $0.path.description) }
            .filter { policies[$0] == nil }
    }
}
