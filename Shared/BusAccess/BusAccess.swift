import EventSchema
import Kafka

/// Who may do what on the bus: the brokers' ACLs, derived from the topic catalog alone, so that
/// a service may do on a broker exactly what the catalog says it does. `kafka-tool acls apply`
/// (the compose stack's acl-init job) makes the cluster hold exactly these; the brokers deny
/// whatever no ACL allows (`allow.everyone.if.no.acl.found=false`).
///
/// Principals are the CNs of the clients' certificates (deploy/pki/make-pki.sh), mapped to
/// `User:<CN>` by the brokers' `ssl.principal.mapping.rules`.
///
/// What Kafka 3.9 checks, and so what is granted (Kafka's "Operations and Resources on
/// Protocols" table):
/// - producing: WRITE on the topic; the idempotent producer's InitProducerId passes with WRITE
///   on any topic (KAFKA-10619, Kafka 3.0), so no IDEMPOTENT_WRITE on the cluster. No
///   transactions, so no transactional-id ACLs.
/// - consuming in a group: READ on the topic and READ on the group (join, sync, heartbeat,
///   offsets; finding the coordinator needs DESCRIBE, which READ implies).
/// - metadata and log offsets: DESCRIBE on the topic, implied by READ or WRITE.
/// - creating a topic: CREATE on that topic.
public enum BusAccess {
    /// The load generator, its audit and its timeline: one client, `loadgen`, reading every
    /// topic to follow orders and judge the run; it writes nothing (orders go over HTTP).
    public static let loadGenerator = "loadgen"
    /// The operator's tool: creates the catalog's topics, reads every topic (dead letters,
    /// offsets against the logs) and replays dead letters onto their origin topics.
    public static let operatorTool = "kafka-tool"

    /// Kafka's name for a certificate's client after the principal mapping.
    public static func principal(_ name: String) -> String { "User:\(name)" }

    /// Every service that writes or reads a topic of the catalog.
    public static var services: [String] {
        var names: [String] = []
        for topic in TopicCatalog.all {
            for name in [topic.writer].compactMap({ $0 }) + topic.readers where !names.contains(name) { names.append(name) }
        }
        return names
    }

    /// The group-id prefix a tool's throwaway and named groups carry: its client id and a dash.
    public static func groupPrefix(of client: String) -> String { "\(client)-" }

    /// Every ACL the cluster should hold, sorted.
    public static func acls() -> [KafkaACL] {
        (services.flatMap(serviceACLs) + loadGeneratorACLs() + operatorACLs()).sorted()
    }

    /// A service writes its own topics and the dead letters its consumer produces, reads the
    /// topics it consumes, and uses the consumer group named after it.
    static func serviceACLs(_ service: String) -> [KafkaACL] {
        let user = principal(service)
        var acls: [KafkaACL] = []
        for topic in TopicCatalog.all where topic.writer == service {
            acls.append(KafkaACL(principal: user, .write, .topic, topic.name))
        }
        let consumed = TopicCatalog.topics(readBy: service)
        if !consumed.isEmpty {
            // Its consumer dead-letters what it cannot process (through its outbox and relay).
            acls.append(KafkaACL(principal: user, .write, .topic, TopicCatalog.deadLetters.name))
            acls.append(KafkaACL(principal: user, .read, .group, service))
        }
        for topic in consumed {
            acls.append(KafkaACL(principal: user, .read, .topic, topic))
        }
        return acls
    }

    /// Reads every topic, in groups of its own prefix only (its partition readers never join,
    /// but librdkafka still looks their group's coordinator up).
    static func loadGeneratorACLs() -> [KafkaACL] {
        let user = principal(loadGenerator)
        return TopicCatalog.all.map { KafkaACL(principal: user, .read, .topic, $0.name) }
            + [KafkaACL(principal: user, .read, .group, groupPrefix(of: loadGenerator), pattern: .prefixed)]
    }

    /// Creates and reads every topic, writes the event topics (dead-letter replay puts a record
    /// back on its origin topic), in groups of its own prefix only.
    static func operatorACLs() -> [KafkaACL] {
        let user = principal(operatorTool)
        var acls = [KafkaACL(principal: user, .read, .group, groupPrefix(of: operatorTool), pattern: .prefixed)]
        for topic in TopicCatalog.all {
            acls.append(KafkaACL(principal: user, .create, .topic, topic.name))
            acls.append(KafkaACL(principal: user, .read, .topic, topic.name))
            if topic.writer != nil { acls.append(KafkaACL(principal: user, .write, .topic, topic.name)) }
        }
        return acls
    }

    /// What to change so that a cluster holding `current` holds exactly `wanted`.
    public static func difference(current: [KafkaACL], wanted: [KafkaACL] = acls()) -> (create: [KafkaACL], delete: [KafkaACL]) {
        let have = Set(current)
        let want = Set(wanted)
        return (want.subtracting(have).sorted(), have.subtracting(want).sorted())
    }
}
