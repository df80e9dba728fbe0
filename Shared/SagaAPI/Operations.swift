// The operator routes' wire types (GET /relay, POST /consumer/reset), beside the probes'.

/// `GET /relay`: this instance's relay and the lease its service's instances compete for.
public struct RelayView: Codable, Sendable, Equatable {
    public struct Lease: Codable, Sendable, Equatable {
        public var name: String
        public var holder: String
        public var epoch: Int64
        /// Until the lease runs out by the database's clock; negative once it has.
        public var validForMs: Int64

        public init(name: String, holder: String, epoch: Int64, validForMs: Int64) {
            self.name = name
            self.holder = holder
            self.epoch = epoch
            self.validForMs = validForMs
        }
    }

    public var instance: String
    public var leader: Bool
    public var pendingRows: Int
    public var oldestAgeSeconds: Double
    public var unreachableSeconds: Double
    public var published: Int
    public var surrenders: Int
    public var lease: Lease?
    public var problems: [String]

    public init(instance: String, leader: Bool, pendingRows: Int, oldestAgeSeconds: Double, unreachableSeconds: Double,
                published: Int, surrenders: Int, lease: Lease?, problems: [String]) {
        self.instance = instance
        self.leader = leader
        self.pendingRows = pendingRows
        self.oldestAgeSeconds = oldestAgeSeconds
        self.unreachableSeconds = unreachableSeconds
        self.published = published
        self.surrenders = surrenders
        self.lease = lease
        self.problems = problems
    }
}

/// `POST /consumer/reset`.
public struct OffsetResetRequest: Codable, Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    /// The next offset to read: records before it count as processed.
    public var next: Int64

    public init(topic: String, partition: Int32, next: Int64) {
        self.topic = topic
        self.partition = partition
        self.next = next
    }
}

public struct OffsetResetAnswer: Codable, Sendable, Equatable {
    public var group: String
    public var topic: String
    public var partition: Int32
    public var lastProcessedBefore: Int64?
    public var lastProcessed: Int64
    public var resetBy: String

    public init(group: String, topic: String, partition: Int32, lastProcessedBefore: Int64?, lastProcessed: Int64,
                resetBy: String) {
        self.group = group
        self.topic = topic
        self.partition = partition
        self.lastProcessedBefore = lastProcessedBefore
        self.lastProcessed = lastProcessed
        self.resetBy = resetBy
    }
}
