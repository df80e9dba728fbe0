import Foundation

// What the operator routes answer, public so that a client (the console) decodes the very
// types the services encode.

/// `GET /readyz` when ready.
public struct ReadinessView: Codable, Sendable {
    public var status: String
    public var database: String
    public var assignedPartitions: Int
    public var outboxPending: Int
    public var relayLeader: Bool
    /// This process's wall clock minus the database's clock, the one deadlines, claims and
    /// leases are decided by: a fault that fakes the wall clock shows here (chaos.sh reads it).
    public var wallClockOffsetMs: Int64
}

/// `GET /consumer`: every partition this service's database has an offset for (shared by all
/// its instances), and what this instance knows of those assigned to it.
public struct ConsumerStateView: Codable, Sendable {
    public struct Partition: Codable, Sendable {
        public var topic: String
        public var partition: Int32
        public var lastProcessedOffset: Int64
        public var assigned: Bool
        public var logEnd: Int64?
        public var lag: Int64?
        public var held: String?
    }

    public var group: String
    public var instance: String
    public var topics: [String]
    public var partitions: [Partition]
    public var problems: [String]
    /// Records this instance dead-lettered as not signed by their topic's writer, since it started.
    public var unauthenticated: Int
}

/// `GET /relay`: this instance's relay and the lease its service's instances compete for.
public struct RelayView: Codable, Sendable, Equatable {
    public struct Lease: Codable, Sendable, Equatable {
        public var name: String
        public var holder: String
        public var epoch: Int64
        /// Until the lease runs out by the database's clock; negative once it has.
        public var validForMs: Int64
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
}
