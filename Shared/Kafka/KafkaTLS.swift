import Foundation

/// TLS to brokers that require client certificates, from PEM files: what every client of the
/// platform (the services, the load generator, kafka-tool) is given to reach the compose
/// stack's brokers. Paths come from flags or environment variables; the one secret, a key
/// password, only ever from a file, so that no secret sits in a command line (`/proc/*/cmdline`)
/// or a compose file. Without any of these settings the client speaks plaintext, as to the dev
/// cluster (librdkafka's mock has no TLS).
public struct KafkaTLS: Sendable, Equatable {
    /// One file setting and where it was given (a flag or a variable), for error messages.
    public struct Source: Sendable, Equatable {
        public let path: String
        public let origin: String
    }

    public var ca: Source?
    public var certificate: Source?
    public var key: Source?
    public var keyPassword: Source?

    public static let caVariable = "KAFKA_TLS_CA_FILE"
    public static let certificateVariable = "KAFKA_TLS_CERT_FILE"
    public static let keyVariable = "KAFKA_TLS_KEY_FILE"
    public static let keyPasswordVariable = "KAFKA_TLS_KEY_PASSWORD_FILE"

    public static let caFlag = "kafka-tls-ca-file"
    public static let certificateFlag = "kafka-tls-cert-file"
    public static let keyFlag = "kafka-tls-key-file"
    public static let keyPasswordFlag = "kafka-tls-key-password-file"

    /// What each file is: the help of KafkaClientOptions' flags and of SettingsCatalog's entries.
    public static let caHelp = "PEM file of the CA that signed the brokers' certificates; any KAFKA_TLS_* setting turns TLS on (security.protocol=ssl)"
    public static let certificateHelp = "PEM file of this client's certificate, for brokers that require client certificates (with \(keyVariable))"
    public static let keyHelp = "PEM file of this client's private key (with \(certificateVariable))"
    public static let keyPasswordHelp = "file holding the password of an encrypted private key (never the password itself)"

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Each setting from its flag if given, else from its environment variable; nil when none
    /// of the four is given (plaintext).
    public static func resolve(caFile: String?, certificateFile: String?, keyFile: String?, keyPasswordFile: String?,
                               environment: [String: String]) -> KafkaTLS? {
        func source(_ flagValue: String?, _ flag: String, _ variable: String) -> Source? {
            if let flagValue, !flagValue.isEmpty { return Source(path: flagValue, origin: "--\(flag)") }
            if let value = environment[variable], !value.isEmpty { return Source(path: value, origin: variable) }
            return nil
        }
        let tls = KafkaTLS(
            ca: source(caFile, caFlag, caVariable),
            certificate: source(certificateFile, certificateFlag, certificateVariable),
            key: source(keyFile, keyFlag, keyVariable),
            keyPassword: source(keyPasswordFile, keyPasswordFlag, keyPasswordVariable))
        return tls == KafkaTLS() ? nil : tls
    }

    public init(ca: Source? = nil, certificate: Source? = nil, key: Source? = nil, keyPassword: Source? = nil) {
        self.ca = ca
        self.certificate = certificate
        self.key = key
        self.keyPassword = keyPassword
    }

    /// librdkafka's properties for these files (CONFIGURATION.md): TLS, the broker's certificate
    /// checked against the CA and its name against the address dialled, and the client's own
    /// certificate when given. Reads the key password; every file must exist, be readable and
    /// hold PEM of the right kind, or the error names the setting to fix.
    public func properties() throws -> [String: String] {
        var properties = [
            "security.protocol": "ssl",
            "ssl.endpoint.identification.algorithm": "https",
        ]
        if let ca {
            try Self.check(ca, holds: "CERTIFICATE", what: "the CA certificate(s) that signed the brokers' certificates")
            properties["ssl.ca.location"] = ca.path
        }
        switch (certificate, key) {
        case (nil, nil):
            if let keyPassword {
                throw Failure(description: "\(keyPassword.origin) is given without a key: set \(Self.keyVariable) and \(Self.certificateVariable) too, or drop it")
            }
        case (let certificate?, nil):
            throw Failure(description: "\(certificate.origin) is given without its private key: set \(Self.keyVariable) (or --\(Self.keyFlag)) too")
        case (nil, let key?):
            throw Failure(description: "\(key.origin) is given without its certificate: set \(Self.certificateVariable) (or --\(Self.certificateFlag)) too")
        case (let certificate?, let key?):
            try Self.check(certificate, holds: "CERTIFICATE", what: "this client's certificate")
            try Self.check(key, holds: "PRIVATE KEY", what: "this client's private key")
            properties["ssl.certificate.location"] = certificate.path
            properties["ssl.key.location"] = key.path
            if let keyPassword {
                properties["ssl.key.password"] = try Self.secret(keyPassword)
            }
        }
        return properties
    }

    private static func contents(_ source: Source, what: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw Failure(description: "\(source.origin)=\(source.path): no such file (\(what))")
        }
        guard let data = FileManager.default.contents(atPath: source.path) else {
            throw Failure(description: "\(source.origin)=\(source.path): cannot read the file (\(what)); check its owner and mode")
        }
        return String(decoding: data, as: UTF8.self)
    }

    private static func check(_ source: Source, holds block: String, what: String) throws {
        let text = try contents(source, what: what)
        // "PRIVATE KEY" also matches EC, RSA and ENCRYPTED private key blocks.
        guard text.contains("-----BEGIN "), text.contains("\(block)-----") else {
            throw Failure(description: "\(source.origin)=\(source.path) holds no PEM \(block) block (\(what))")
        }
    }

    /// A secret file's contents less the line break an editor or `echo` leaves at its end.
    private static func secret(_ source: Source) throws -> String {
        var text = try contents(source, what: "the private key's password")
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        guard !text.isEmpty else {
            throw Failure(description: "\(source.origin)=\(source.path) is empty (the private key's password)")
        }
        return text
    }
}

extension KafkaConfiguration {
    /// librdkafka properties that carry secrets: refused as `-X key=value`, whose value would
    /// be visible to every user of the machine in the process list.
    public static let secretProperties: Set<String> = [
        "ssl.key.password", "ssl.key.pem", "ssl_key.pem", "ssl.keystore.password", "sasl.password",
        "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config",
    ]

    /// TLS from `tls` when given, then `-X key=value` arguments, which win but may carry no
    /// secret: the last steps of every client's configuration (services, loadgen, kafka-tool).
    public func applying(tls: KafkaTLS?, commandLine arguments: [String]) throws -> KafkaConfiguration {
        var configuration = self
        if let tls { configuration = configuration.merging(try tls.properties()) }
        for argument in arguments {
            let property = try Self.commandLineProperty(argument)
            configuration[property.key] = property.value
        }
        return configuration
    }

    /// A `-X key=value` argument, checked: well formed, and no secret (those come from files).
    public static func commandLineProperty(_ argument: String) throws -> (key: String, value: String) {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
            throw KafkaTLS.Failure(description: "-X expects key=value, got '\(argument)'")
        }
        let key = String(argument[..<equals])
        if secretProperties.contains(key.lowercased()) {
            throw KafkaTLS.Failure(description: """
                -X \(key)=... puts a secret on the command line, where every user of the machine can read it: \
                secrets come from files (a private key's password: \(KafkaTLS.keyPasswordVariable)); the value is not used
                """)
        }
        return (key, String(argument[argument.index(after: equals)...]))
    }
}
