// JSON shapes of the control API. Public so that tests decode exactly what the server encodes.

/// Liveness of one mock broker as the dev cluster set it.
public enum DevClusterBrokerState: String, Codable, Sendable {
    /// Accepts connections and answers after its rtt (0 unless paused).
    case up
    /// Listener closed, connections dropped: clients get "connection refused".
    case down
    /// Accepts and processes requests but holds every response for `rttMs`.
    case paused
}

/// GET /status, and the `status` part of every action's answer.
public struct DevClusterStatus: Codable, Sendable, Equatable {
    public struct Broker: Codable, Sendable, Equatable {
        public let id: Int
        public let address: String
        public let state: DevClusterBrokerState
        /// Delay the mock adds to each response of this broker (the pause).
        public let rttMs: Int
        /// Partitions (over all topics) this broker currently leads.
        public let leaderCount: Int
    }

    public struct Topic: Codable, Sendable, Equatable {
        public let name: String
        public let partitions: Int
        public let replicationFactor: Int
        /// Leader broker id of each partition, indexed by partition number.
        public let leaders: [Int]
    }

    public struct Coordinator: Codable, Sendable, Equatable {
        public let group: String
        public let broker: Int
    }

    public let bootstrap: String
    public let brokers: [Broker]
    public let topics: [Topic]
    /// Group coordinators the dev cluster set explicitly (every known group).
    public let coordinators: [Coordinator]
    /// Default hold time of POST /brokers/{id}/pause.
    public let pauseRttMs: Int

    public func broker(_ id: Int) -> Broker? { brokers.first { $0.id == id } }
    public func topic(_ name: String) -> Topic? { topics.first { $0.name == name } }
    public func coordinator(of group: String) -> Int? { coordinators.first { $0.group == group }?.broker }
}

public struct DevClusterLeaderMove: Codable, Sendable, Equatable {
    public let topic: String
    public let partition: Int
    public let from: Int
    public let to: Int
}

public struct DevClusterCoordinatorMove: Codable, Sendable, Equatable {
    public let group: String
    public let from: Int?
    public let to: Int
}

/// Answer of every POST: what was done, and the state afterwards.
public struct DevClusterActionResult: Codable, Sendable {
    public let action: String
    /// Brokers the action was applied to (empty for cluster-wide actions).
    public let brokers: [Int]
    public let leaderMoves: [DevClusterLeaderMove]
    public let coordinatorMoves: [DevClusterCoordinatorMove]
    public let status: DevClusterStatus
}

/// RFC 9457 problem details, served as `application/problem+json`.
public struct DevClusterProblem: Error, Codable, Sendable, CustomStringConvertible {
    public let type: String
    public let title: String
    public let status: Int
    public let detail: String

    public init(status: Int, title: String, detail: String, type: String = "about:blank") {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
    }

    public var description: String { "\(title): \(detail)" }

    static func badRequest(_ detail: String) -> Self { .init(status: 400, title: "Bad Request", detail: detail) }
    static func notFound(_ detail: String) -> Self { .init(status: 404, title: "Not Found", detail: detail) }
    static func conflict(_ detail: String) -> Self { .init(status: 409, title: "Conflict", detail: detail) }
    static func unavailable(_ detail: String) -> Self { .init(status: 503, title: "Service Unavailable", detail: detail) }
    static func mockFailed(_ detail: String) -> Self { .init(status: 500, title: "Mock Cluster Error", detail: detail) }
}
