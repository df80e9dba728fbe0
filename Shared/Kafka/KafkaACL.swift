import CRdKafka

/// One Kafka ACL binding: `principal` is allowed (or denied) `operation` on the resources the
/// pattern names, from `host`. The vocabulary is Kafka's (see its authorization docs); only the
/// resource types this platform grants on are modelled.
public struct KafkaACL: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum ResourceType: String, Sendable, CaseIterable {
        case topic, group
    }

    public enum PatternType: String, Sendable, CaseIterable {
        case literal, prefixed
    }

    public enum Operation: String, Sendable, CaseIterable {
        case read, write, create, delete, alter, describe
        case describeConfigs = "describe-configs"
        case alterConfigs = "alter-configs"
    }

    public enum Permission: String, Sendable, CaseIterable {
        case allow, deny
    }

    public var principal: String
    public var host: String
    public var resourceType: ResourceType
    public var resourceName: String
    public var patternType: PatternType
    public var operation: Operation
    public var permission: Permission

    public init(principal: String, _ operation: Operation, _ resourceType: ResourceType, _ resourceName: String,
                pattern: PatternType = .literal, permission: Permission = .allow, host: String = "*") {
        self.principal = principal
        self.permission = permission
        self.operation = operation
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = pattern
        self.host = host
    }

    /// One line: `User:order allow write topic orders.v1 (literal) from *`.
    public var description: String {
        "\(principal) \(permission.rawValue) \(operation.rawValue) \(resourceType.rawValue) \(resourceName) (\(patternType.rawValue)) from \(host)"
    }

    /// By principal, then resource, then what is allowed: a principal's grants read together.
    public static func < (lhs: KafkaACL, rhs: KafkaACL) -> Bool {
        lhs.sortKey.lexicographicallyPrecedes(rhs.sortKey)
    }

    private var sortKey: [String] {
        [principal, resourceType.rawValue, resourceName, patternType.rawValue, operation.rawValue, permission.rawValue, host]
    }
}

// MARK: - librdkafka's enums

extension KafkaACL.ResourceType {
    var native: rd_kafka_ResourceType_t {
        switch self {
        case .topic: RD_KAFKA_RESOURCE_TOPIC
        case .group: RD_KAFKA_RESOURCE_GROUP
        }
    }

    init?(native: rd_kafka_ResourceType_t) {
        guard let value = Self.allCases.first(where: { $0.native == native }) else { return nil }
        self = value
    }
}

extension KafkaACL.PatternType {
    var native: rd_kafka_ResourcePatternType_t {
        switch self {
        case .literal: RD_KAFKA_RESOURCE_PATTERN_LITERAL
        case .prefixed: RD_KAFKA_RESOURCE_PATTERN_PREFIXED
        }
    }

    init?(native: rd_kafka_ResourcePatternType_t) {
        guard let value = Self.allCases.first(where: { $0.native == native }) else { return nil }
        self = value
    }
}

extension KafkaACL.Operation {
    var native: rd_kafka_AclOperation_t {
        switch self {
        case .read: RD_KAFKA_ACL_OPERATION_READ
        case .write: RD_KAFKA_ACL_OPERATION_WRITE
        case .create: RD_KAFKA_ACL_OPERATION_CREATE
        case .delete: RD_KAFKA_ACL_OPERATION_DELETE
        case .alter: RD_KAFKA_ACL_OPERATION_ALTER
        case .describe: RD_KAFKA_ACL_OPERATION_DESCRIBE
        case .describeConfigs: RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS
        case .alterConfigs: RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS
        }
    }

    init?(native: rd_kafka_AclOperation_t) {
        guard let value = Self.allCases.first(where: { $0.native == native }) else { return nil }
        self = value
    }
}

extension KafkaACL.Permission {
    var native: rd_kafka_AclPermissionType_t {
        switch self {
        case .allow: RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW
        case .deny: RD_KAFKA_ACL_PERMISSION_TYPE_DENY
        }
    }

    init?(native: rd_kafka_AclPermissionType_t) {
        guard let value = Self.allCases.first(where: { $0.native == native }) else { return nil }
        self = value
    }
}

extension KafkaACL {
    /// A librdkafka AclBinding (or, for deletion, an exact-match filter); the caller destroys it.
    func makeNativeBinding(filter: Bool = false) throws -> OpaquePointer {
        var errorText = [CChar](repeating: 0, count: 512)
        let binding = filter
            ? rd_kafka_AclBindingFilter_new(resourceType.native, resourceName, patternType.native, principal, host,
                                            operation.native, permission.native, &errorText, errorText.count)
            : rd_kafka_AclBinding_new(resourceType.native, resourceName, patternType.native, principal, host,
                                      operation.native, permission.native, &errorText, errorText.count)
        guard let binding else { throw KafkaError.local("invalid ACL \(self): \(text(errorText))", operation: "build ACL") }
        return binding
    }

    /// Reads a binding back; nil for one outside this model (another resource type or pattern),
    /// which `description` of the raw fields then names.
    static func from(native binding: OpaquePointer) -> (acl: KafkaACL?, description: String) {
        let name = rd_kafka_AclBinding_name(binding).map { String(cString: $0) } ?? ""
        let principal = rd_kafka_AclBinding_principal(binding).map { String(cString: $0) } ?? ""
        let host = rd_kafka_AclBinding_host(binding).map { String(cString: $0) } ?? ""
        let restype = rd_kafka_AclBinding_restype(binding)
        let pattern = rd_kafka_AclBinding_resource_pattern_type(binding)
        let operation = rd_kafka_AclBinding_operation(binding)
        let permission = rd_kafka_AclBinding_permission_type(binding)
        let raw = "\(principal) permission#\(permission.rawValue) operation#\(operation.rawValue) "
            + "\(String(cString: rd_kafka_ResourceType_name(restype))) \(name) (\(String(cString: rd_kafka_ResourcePatternType_name(pattern)))) from \(host)"
        guard let type = ResourceType(native: restype), let patternType = PatternType(native: pattern),
              let op = Operation(native: operation), let allow = Permission(native: permission) else {
            return (nil, raw)
        }
        let acl = KafkaACL(principal: principal, op, type, name, pattern: patternType, permission: allow, host: host)
        return (acl, acl.description)
    }
}
