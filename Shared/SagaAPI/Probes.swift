/// `GET /healthz`: the process answers.
public struct Health: Codable, Sendable, Hashable {
    public var status: String

    public init(status: String = "ok") {
        self.status = status
    }
}

/// `GET /readyz` when ready (a 503 is a `Problem` whose `errors[]` names each failed check).
public struct Readiness: Codable, Sendable, Hashable {
    public var status: String
    public var database: String
    public var assignedPartitions: Int
    public var outboxPending: Int
    public var relayLeader: Bool
    /// This process's wall clock minus the database's clock, the one deadlines, claims and
    /// leases are decided by: a fault that fakes the wall clock shows here (chaos.sh reads it).
    public var wallClockOffsetMs: Int64

    public init(status: String, database: String, assignedPartitions: Int, outboxPending: Int, relayLeader: Bool,
                wallClockOffsetMs: Int64) {
        self.status = status
        self.database = database
        self.assignedPartitions = assignedPartitions
        self.outboxPending = outboxPending
        self.relayLeader = relayLeader
        self.wallClockOffsetMs = wallClockOffsetMs
    }
}

/// `GET /consumer`: every partition the service's database has an offset for (shared by all
/// its instances), and what this instance knows of those assigned to it.
public struct ConsumerView: Codable, Sendable, Hashable {
    public struct Partition: Codable, Sendable, Hashable {
        public var topic: String
        public var partition: Int32
        /// -1 when nothing was processed.
        public var lastProcessedOffset: Int64
        public var assigned: Bool
        public var logEnd: Int64?
        public var lag: Int64?
        /// Why the consumer holds the partition back, when it does.
        public var held: String?

        public init(topic: String, partition: Int32, lastProcessedOffset: Int64, assigned: Bool, logEnd: Int64? = nil,
                    lag: Int64? = nil, held: String? = nil) {
            self.topic = topic
            self.partition = partition
            self.lastProcessedOffset = lastProcessedOffset
            self.assigned = assigned
            self.logEnd = logEnd
            self.lag = lag
            self.held = held
        }
    }

    public var group: String
    public var instance: String
    public var topics: [String]
    public var partitions: [Partition]
    /// The consumer's readiness problems.
    public var problems: [String]
    /// Records this instance dead-lettered as not signed by their topic's writer, since it started.
    public var unauthenticated: Int
    /// Ed25519 work since it started: signature checks of the records it read (one per
    /// transaction tree), signatures over the events it wrote (one per transaction).
    public var signatureChecks: Int?
    public var signaturesMade: Int?

    public init(group: String, instance: String, topics: [String], partitions: [Partition], problems: [String] = [],
                unauthenticated: Int = 0, signatureChecks: Int? = nil, signaturesMade: Int? = nil) {
        self.group = group
        self.instance = instance
        self.topics = topics
        self.partitions = partitions
        self.problems = problems
        self.unauthenticated = unauthenticated
        self.signatureChecks = signatureChecks
        self.signaturesMade = signaturesMade
    }
}
