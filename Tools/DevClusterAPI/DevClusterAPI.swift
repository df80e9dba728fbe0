// JSON shapes of the control API. Public so that tests decode exactly what the server encodes.

/// Liveness of one mock broker as the dev cluster set it.
public enum DevClusterBrokerState: String, Codable, Sendable {
    /// Accepts connections and answers after its rtt (0 unless raised with POST rtt).
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
        /// Delay the mock adds to each response of this broker: the pause's, or one set with POST rtt.
        public let rttMs: Int
        /// Partitions (over all topics) this broker currently leads.
        public let leaderCount: Int

        public init(id: Int, address: String, state: DevClusterBrokerState, rttMs: Int, leaderCount: Int) {
            self.id = id
            self.address = address
            self.state = state
            self.rttMs = rttMs
            self.leaderCount = leaderCount
        }
    }

    public struct Topic: Codable, Sendable, Equatable {
        public let name: String
        public let partitions: Int
        public let replicationFactor: Int
        /// Leader broker id of each partition, indexed by partition number.
        public let leaders: [Int]

        public init(name: String, partitions: Int, replicationFactor: Int, leaders: [Int]) {
            self.name = name
            self.partitions = partitions
            self.replicationFactor = replicationFactor
            self.leaders = leaders
        }
    }

    public struct Coordinator: Codable, Sendable, Equatable {
        public let group: String
        public let broker: Int

        public init(group: String, broker: Int) {
            self.group = group
            self.broker = broker
        }
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

    public init(bootstrap: String, brokers: [Broker], topics: [Topic], coordinators: [Coordinator], pauseRttMs: Int) {
        self.bootstrap = bootstrap
        self.brokers = brokers
        self.topics = topics
        self.coordinators = coordinators
        self.pauseRttMs = pauseRttMs
    }
}

public struct DevClusterLeaderMove: Codable, Sendable, Equatable {
    public let topic: String
    public let partition: Int
    public let from: Int
    public let to: Int

    public init(topic: String, partition: Int, from: Int, to: Int) {
        self.topic = topic
        self.partition = partition
        self.from = from
        self.to = to
    }
}

public struct DevClusterCoordinatorMove: Codable, Sendable, Equatable {
    public let group: String
    public let from: Int?
    public let to: Int

    public init(group: String, from: Int?, to: Int) {
        self.group = group
        self.from = from
        self.to = to
    }
}

/// Answer of every POST: what was done, and the state afterwards.
public struct DevClusterActionResult: Codable, Sendable {
    public let action: String
    /// Brokers the action was applied to (empty for cluster-wide actions).
    public let brokers: [Int]
    public let leaderMoves: [DevClusterLeaderMove]
    public let coordinatorMoves: [DevClusterCoordinatorMove]
    public let status: DevClusterStatus

    public init(action: String, brokers: [Int], leaderMoves: [DevClusterLeaderMove], coordinatorMoves: [DevClusterCoordinatorMove], status: DevClusterStatus) {
        self.action = action
        self.brokers = brokers
        self.leaderMoves = leaderMoves
        self.coordinatorMoves = coordinatorMoves
        self.status = status
    }
}
