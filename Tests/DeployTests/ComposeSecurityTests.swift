import BusAccess
import Foundation
import ServiceKit
import XCTest

/// The compose stack's wire and stores (issue 24, step 5), read statically: there is no Docker
/// engine here. Kafka: TLS on every listener, client certificates, deny by default, the brokers
/// alone as super users, each client on its own certificate. PostgreSQL: TLS, one role per
/// database, no password. No secret in the file, every container hardened, loopback-only ports.
final class ComposeSecurityTests: XCTestCase {
    var services: [String: ComposeService] = [:]

    override func setUpWithError() throws {
        services = try Deploy.services()
    }

    var kafkaNodes: [ComposeService] {
        services.values.filter { $0.image?.hasPrefix("apache/kafka:") == true }.sorted { $0.name < $1.name }
    }

    func service(_ name: String) throws -> ComposeService { try Deploy.service(name, in: services) }

    /// The pki volume mounted at `target` in `service`, and its identity (`pki-<identity>`).
    func identity(of service: ComposeService, at target: String) -> String? {
        service.volumes.first { $0.target == target && $0.source.hasPrefix("pki-") }.map { String($0.source.dropFirst(4)) }
    }

    // MARK: - Kafka: TLS everywhere, client certificates

    func testNoListenerIsPlaintext() throws {
        XCTAssertEqual(kafkaNodes.count, 3)
        for node in kafkaNodes {
            let environment = node.environment
            var protocols: [String: String] = [:]
            for entry in (environment["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] ?? "").split(separator: ",") {
                let parts = entry.split(separator: ":").map(String.init)
                if parts.count == 2 { protocols[parts[0]] = parts[1] }
            }
            let listeners = (environment["KAFKA_LISTENERS"] ?? "").split(separator: ",").map { String($0.prefix { $0 != ":" }) }
            let advertised = (environment["KAFKA_ADVERTISED_LISTENERS"] ?? "").split(separator: ",").map { String($0.prefix { $0 != ":" }) }
            XCTAssertFalse(listeners.isEmpty, "\(node.name) lists its listeners")
            for name in Set(listeners + advertised) {
                XCTAssertEqual(protocols[name], "SSL", "\(node.name): listener \(name) must be SSL (TLS with client certificates), is \(protocols[name] ?? "unmapped")")
                // The image runs its own, clashing SSL set-up for listener names ending in SSL.
                XCTAssertFalse(name.hasSuffix("SSL"), "\(node.name): listener name \(name)")
            }
            XCTAssertTrue(listeners.contains(environment["KAFKA_CONTROLLER_LISTENER_NAMES"] ?? "-"), "\(node.name): the controller listener is one of them")
            XCTAssertEqual(environment["KAFKA_SSL_CLIENT_AUTH"], "required", "\(node.name): every client shows a certificate")
            XCTAssertEqual(environment["KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM"], "https", "\(node.name) checks its peers' names")
            XCTAssertNil(environment["KAFKA_SECURITY_INTER_BROKER_PROTOCOL"], "\(node.name): the inter-broker listener's protocol comes from the map")
        }
        // Nowhere in the file, values or comments: PLAINTEXT and SASL_PLAINTEXT both contain it.
        XCTAssertFalse(try Deploy.text(Deploy.composeFile).contains("PLAINTEXT"), "a PLAINTEXT listener or protocol")
    }

    func testEachBrokerHasItsOwnIdentityAndTrustsOnlyTheStacksCA() throws {
        for node in kafkaNodes {
            let environment = node.environment
            let folder = "/etc/kafka/tls"
            XCTAssertEqual(identity(of: node, at: folder), node.name, "\(node.name) mounts its own pki volume at \(folder)")
            XCTAssertEqual(node.volumes.filter { $0.source.hasPrefix("pki-") }.count, 1, "\(node.name) mounts no other identity")
            XCTAssertTrue(YAMLValue.strings(node.body["volumes"]).contains { $0.hasPrefix("pki-\(node.name):") && $0.hasSuffix(":ro") }, "read-only")
            XCTAssertEqual(environment["KAFKA_SSL_KEYSTORE_LOCATION"], "\(folder)/keystore.p12")
            XCTAssertEqual(environment["KAFKA_SSL_TRUSTSTORE_TYPE"], "PEM")
            XCTAssertEqual(environment["KAFKA_SSL_TRUSTSTORE_LOCATION"], "\(folder)/ca.crt", "the stack's CA, nothing else")
            for key in ["KAFKA_SSL_KEYSTORE_PASSWORD", "KAFKA_SSL_KEY_PASSWORD"] {
                XCTAssertEqual(environment[key], "${dir:\(folder):keystore.password}", "\(node.name): \(key) read from the file by Kafka's config provider")
            }
            XCTAssertEqual(environment["KAFKA_CONFIG_PROVIDERS_DIR_PARAM_ALLOWED_PATHS"], folder, "the provider may read that folder only")
        }
    }

    // MARK: - Kafka: deny by default

    func testTheAuthorizerDeniesWhatNoACLAllowsAndOnlyBrokersAreSuperUsers() throws {
        for node in kafkaNodes {
            let environment = node.environment
            XCTAssertEqual(environment["KAFKA_AUTHORIZER_CLASS_NAME"], "org.apache.kafka.metadata.authorizer.StandardAuthorizer", node.name)
            XCTAssertEqual(environment["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"], "false", node.name)
            let superUsers = Set((environment["KAFKA_SUPER_USERS"] ?? "").split(separator: ";").map(String.init))
            XCTAssertEqual(superUsers, Set(kafkaNodes.map { BusAccess.principal($0.name) }), "\(node.name): the brokers, and nobody else")
        }
    }

    /// The brokers' principal mapping, applied as Kafka applies it (the first matching rule,
    /// else the distinguished name as it is): a certificate's CN becomes `User:<CN>` only for a
    /// subject that is a bare CN, so a subject with more in it never maps onto a service.
    func testThePrincipalMappingRuleMapsBareCNsOnly() throws {
        let rules = try XCTUnwrap(Set(kafkaNodes.map { $0.environment["KAFKA_SSL_PRINCIPAL_MAPPING_RULES"] ?? "" }).first)
        XCTAssertTrue(rules.hasSuffix(",DEFAULT"), "anything else keeps its full name: \(rules)")
        let rule = String(rules.dropLast(",DEFAULT".count))
        XCTAssertTrue(rule.hasPrefix("RULE:") && rule.hasSuffix("/"), rule)
        let parts = rule.dropFirst("RULE:".count).dropLast().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(parts.count, 2, "RULE:pattern/replacement/: \(rule)")
        let regex = try NSRegularExpression(pattern: parts[0])
        func principal(_ subject: String) -> String {
            let range = NSRange(subject.startIndex..., in: subject)
            guard let match = regex.firstMatch(in: subject, range: range), match.range == range else { return subject }
            return regex.replacementString(for: match, in: subject, offset: 0, template: parts[1])
        }
        for name in BusAccess.services + [BusAccess.loadGenerator, BusAccess.operatorTool] + kafkaNodes.map(\.name) {
            XCTAssertEqual(principal("CN=\(name)"), name)
        }
        for subject in ["CN=order,O=elsewhere", "O=elsewhere,CN=order", "CN=order\\,O=x", "CN=ORDER"] {
            XCTAssertFalse(["order", "ORDER"].contains(principal(subject)), "\(subject) must not become a service's principal")
        }
    }

    // MARK: - Kafka: each client on its own certificate, ACLs from the catalog

    /// Who connects to the brokers as whom: services as themselves, loadgen as loadgen, the
    /// operator's jobs as kafka-tool, and acl-init, which needs a super user, as a broker.
    func testEveryClientOfTheBrokersUsesTLSWithItsOwnIdentity() throws {
        var expected: [String: String] = ["loadgen": BusAccess.loadGenerator, "topic-init": BusAccess.operatorTool,
                                          "kafka-tool": BusAccess.operatorTool, "acl-init": "kafka-1"]
        for name in BusAccess.services { expected[name] = name }
        let clients = services.values.filter { $0.environment["KAFKA_BOOTSTRAP"] != nil }
        XCTAssertEqual(Set(clients.map(\.name)), Set(expected.keys), "the brokers' clients")
        for client in clients {
            let environment = client.environment
            guard let ca = environment["KAFKA_TLS_CA_FILE"], let certificate = environment["KAFKA_TLS_CERT_FILE"],
                  let key = environment["KAFKA_TLS_KEY_FILE"] else {
                XCTFail("\(client.name) talks to the brokers without KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE")
                continue
            }
            let folder = (certificate as NSString).deletingLastPathComponent
            XCTAssertEqual([ca, key].map { ($0 as NSString).deletingLastPathComponent }, [folder, folder], client.name)
            XCTAssertEqual(identity(of: client, at: folder), expected[client.name], "\(client.name) presents the certificate of \(expected[client.name] ?? "?")")
            XCTAssertEqual(client.volumes.filter { $0.source.hasPrefix("pki-") }.count, 1, "\(client.name) mounts one identity")
        }
    }

    /// The application's keys come from the identity's own volume: each service verifies tokens
    /// with the JWKS and signs with its own event key, the load generator mints from the issuer's
    /// key, kafka-tool signs replays with the operators' key, Prometheus scrapes with a monitor
    /// token (make-pki.sh puts each file where these point; PKIScriptTests).
    func testEveryPartyUsesItsOwnShareOfTheApplicationKeys() throws {
        for name in BusAccess.services {
            let service = try Deploy.service(name, in: services)
            let folder = try XCTUnwrap(service.volumes.first { $0.source == "pki-\(name)" }?.target, "\(name) mounts pki-\(name)")
            XCTAssertEqual(service.environment["AUTH_JWKS"], "\(folder)/jwks.json", name)
            XCTAssertEqual(service.environment["EVENT_SIGNING_KEY_FILE"], "\(folder)/event-signing.key", name)
            XCTAssertEqual(service.environment["EVENT_KEYRING_FILE"], "\(folder)/keyring.json", name)
        }
        let loadgen = try Deploy.service("loadgen", in: services)
        XCTAssertEqual(loadgen.environment["SAGA_KEYS_DIR"], loadgen.volumes.first { $0.source == "pki-loadgen" }?.target)
        let tool = try Deploy.service("kafka-tool", in: services)
        let toolFolder = try XCTUnwrap(tool.volumes.first { $0.source == "pki-kafka-tool" }?.target)
        XCTAssertEqual(tool.environment["EVENT_SIGNING_KEY_FILE"], "\(toolFolder)/event-signing.key")
        let prometheus = try Deploy.service("prometheus", in: services)
        let secrets = try XCTUnwrap(prometheus.volumes.first { $0.source == "pki-prometheus" }?.target, "Prometheus mounts its token")
        let scrape = try Deploy.text(Deploy.folder.appendingPathComponent("prometheus.yml"))
        let jobs = scrape.components(separatedBy: "- job_name:").count - 1
        XCTAssertEqual(scrape.components(separatedBy: "credentials_file: \(secrets)/monitor.token").count - 1, jobs,
                       "every scrape job presents the monitor token")
    }

    /// acl-init applies exactly BusAccess's ACLs, as a super user, before anything needs them.
    func testComposeAppliesExactlyTheACLsOfTheCatalog() throws {
        let aclInit = try service("acl-init")
        let words = aclInit.invocation.flatMap { $0.split(whereSeparator: { " \n\t;".contains($0) }) }.map(String.init)
        guard let start = words.firstIndex(of: "acls"), start > 0, words[start - 1] == "kafka-tool", start + 1 < words.count else {
            XCTFail("acl-init must run `kafka-tool acls apply`, runs \(aclInit.invocation)")
            return
        }
        XCTAssertEqual(words[start + 1], "apply")
        XCTAssertEqual(start + 2 < words.count ? words[start + 2] : "&&", "&&",
                       "no arguments: the ACLs come from the catalog alone, and no --dry-run")
        let superUsers = Set(kafkaNodes.first?.environment["KAFKA_SUPER_USERS"]?.split(separator: ";").map(String.init) ?? [])
        let identity = try XCTUnwrap(identity(of: aclInit, at: "/etc/saga/tls"))
        XCTAssertTrue(superUsers.contains(BusAccess.principal(identity)), "acl-init's certificate (\(identity)) belongs to a super user")
        XCTAssertEqual(YAMLValue.scalar(aclInit.body["user"]), "1000:1000", "the broker identity's files belong to the image's appuser (1000)")
        XCTAssertEqual(YAMLValue.scalar(aclInit.body["restart"]), "no")
        for node in kafkaNodes {
            XCTAssertEqual(aclInit.dependencies[node.name], "service_healthy", "acl-init waits for \(node.name)")
        }
        XCTAssertEqual(try service("topic-init").dependencies["acl-init"], "service_completed_successfully",
                       "the operator may create topics only once its ACLs exist")
    }

    // MARK: - secrets

    /// No secret in the file: every variable whose name says password, secret, token or key
    /// names a file, or is a Kafka config-provider reference to one.
    func testNoLiteralSecretsInTheComposeFile() throws {
        let secretName = try NSRegularExpression(pattern: "(PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE|_KEY$)", options: [.caseInsensitive])
        for service in services.values {
            for (name, value) in service.environment {
                guard secretName.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil else { continue }
                let fromFile = name.hasSuffix("_FILE") || value.hasPrefix("${dir:") || value.hasPrefix("${file:")
                XCTAssertTrue(fromFile, "\(service.name): \(name) holds a literal value; give it as a file (…_FILE, or Kafka's ${dir:…})")
                if name.hasSuffix("_FILE") { XCTAssertTrue(value.hasPrefix("/"), "\(service.name): \(name) is a path: \(value)") }
            }
            if let url = service.environment["DATABASE_URL"] {
                XCTAssertNil(URLComponents(string: url)?.password, "\(service.name): a password in DATABASE_URL")
            }
            XCTAssertNil(service.environment["POSTGRES_PASSWORD"], "\(service.name): POSTGRES_PASSWORD (use POSTGRES_PASSWORD_FILE)")
            XCTAssertNil(service.environment["GF_SECURITY_ADMIN_PASSWORD"], "\(service.name): GF_SECURITY_ADMIN_PASSWORD (use __FILE)")
        }
    }

    /// No librdkafka property on a command line (where `ps` shows it) in compose or the scripts.
    func testNoKafkaSecurityPropertyOnACommandLine() throws {
        let tracked = try runCommand("/usr/bin/git", ["ls-files", "deploy", ".ci"], in: Deploy.root)
        let files = tracked.stdout.split(separator: "\n").map(String.init).filter { $0.hasSuffix(".sh") || $0.hasSuffix(".yml") || $0 == ".ci/run" }
        XCTAssertTrue(files.contains("deploy/docker-compose.yml"))
        let dashX = try NSRegularExpression(pattern: #"-X\s*['"]?(ssl|sasl|security)[._]"#)
        for file in files {
            let text = try Deploy.text(Deploy.root.appendingPathComponent(file))
            let hits = dashX.matches(in: text, range: NSRange(text.startIndex..., in: text)).count
            XCTAssertEqual(hits, 0, "\(file) passes TLS/SASL settings as -X on a command line; use the KAFKA_TLS_* variables")
        }
    }

    // MARK: - PostgreSQL

    func testOneRolePerServiceOwningOnlyItsDatabaseWithoutAPassword() throws {
        let sql = try Deploy.text(Deploy.postgresInit)
            .split(separator: "\n").map { $0.components(separatedBy: "--")[0] }.joined(separator: "\n")
        func names(_ pattern: String) -> [[String]] {
            let regex = try! NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
            return regex.matches(in: sql, range: NSRange(sql.startIndex..., in: sql)).map { match in
                (1..<match.numberOfRanges).map { String(sql[Range(match.range(at: $0), in: sql)!]) }
            }
        }
        let all = Set(ServiceName.allCases.map(\.rawValue))
        XCTAssertEqual(Set(names(#"CREATE\s+ROLE\s+"?(\w+)"?"#).map { $0[0] }), all, "one role per service")
        let owners = names(#"CREATE\s+DATABASE\s+"?(\w+)"?\s+OWNER\s+"?(\w+)"?"#)
        XCTAssertEqual(owners.count, all.count)
        for pair in owners { XCTAssertEqual(pair[0], pair[1], "database \(pair[0]) is owned by its own role, not \(pair[1])") }
        XCTAssertEqual(Set(names(#"REVOKE\s+ALL\s+ON\s+DATABASE\s+"?(\w+)"?\s+FROM\s+PUBLIC"#).map { $0[0] }), all,
                       "no other role may even connect to a service's database")
        for forbidden in ["PASSWORD", "GRANT", "SUPERUSER", "CREATEROLE", "CREATEDB"] {
            XCTAssertNil(sql.range(of: forbidden, options: .caseInsensitive), "init.sql says \(forbidden)")
        }
    }

    func testPgHbaAllowsOnlyCertificatesOverTLSAndTheSuperuserOnTheSocket() throws {
        let lines = try Deploy.text(Deploy.folder.appendingPathComponent("postgres/pg_hba.conf"))
            .split(separator: "\n").map { $0.components(separatedBy: "#")[0].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
            .filter { !$0.isEmpty }
        XCTAssertEqual(lines, [["local", "all", "postgres", "peer"], ["hostssl", "sameuser", "all", "all", "cert", "map=saga"]])

        let map = try Deploy.text(Deploy.folder.appendingPathComponent("postgres/pg_ident.conf"))
            .split(separator: "\n").map { $0.components(separatedBy: "#")[0].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
            .filter { !$0.isEmpty }
        var roles: [String: Set<String>] = [:]
        for entry in map {
            XCTAssertEqual(entry.count, 3, "MAPNAME CN ROLE: \(entry)")
            XCTAssertEqual(entry.first, "saga")
            XCTAssertFalse(entry[1].hasPrefix("/"), "no regular expression: each certificate is named \(entry)")
            roles[entry[1], default: []].insert(entry[2])
        }
        for name in ServiceName.allCases.map(\.rawValue) { XCTAssertEqual(roles[name], [name], "\(name)'s certificate acts as \(name) only") }
        XCTAssertEqual(roles[BusAccess.operatorTool], Set(ServiceName.allCases.map(\.rawValue)), "the operator's, as any service (offsets)")
        XCTAssertEqual(Set(roles.keys), Set(ServiceName.allCases.map(\.rawValue) + [BusAccess.operatorTool]))
    }

    func testTheServerSpeaksTLSWithItsOwnCertificateAndIsNotPublished() throws {
        let postgres = try service("postgres")
        let arguments = YAMLValue.strings(postgres.body["command"])
        let settings = Dictionary(arguments.filter { $0.contains("=") }.map { entry -> (String, String) in
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts[1])
        }) { $1 }
        let folder = "/etc/postgresql/tls"
        XCTAssertEqual(identity(of: postgres, at: folder), "postgres")
        XCTAssertEqual(settings["ssl"], "on")
        XCTAssertEqual(settings["ssl_min_protocol_version"], "TLSv1.3")
        XCTAssertEqual(settings["ssl_cert_file"], "\(folder)/tls.crt")
        XCTAssertEqual(settings["ssl_key_file"], "\(folder)/tls.key")
        XCTAssertEqual(settings["ssl_ca_file"], "\(folder)/ca.crt", "client certificates are checked against the stack's CA")
        for (setting, file) in [("hba_file", "pg_hba.conf"), ("ident_file", "pg_ident.conf")] {
            let target = try XCTUnwrap(settings[setting], setting)
            XCTAssertTrue(postgres.volumes.contains { $0.source == "./postgres/\(file)" && $0.target == target }, "\(setting) is deploy/postgres/\(file)")
        }
        XCTAssertEqual(postgres.environment["POSTGRES_PASSWORD_FILE"], "\(folder)/superuser.password")
        XCTAssertEqual(YAMLValue.scalar(postgres.body["user"]), "999:999", "the image's postgres user, as make-pki.sh owns its key")
        XCTAssertEqual(postgres.ports, [], "PostgreSQL is not published by default")

        let override = try Deploy.yaml(Deploy.folder.appendingPathComponent("docker-compose.postgres-port.yml"))
        let published = YAMLValue.strings(YAMLValue.mapping(YAMLValue.mapping(override["services"])?["postgres"])?["ports"])
        XCTAssertEqual(published, ["127.0.0.1:55432:5432"], "the override publishes it on the loopback only")
    }

    func testEachServiceLogsInAsItsOwnRoleWithItsCertificate() throws {
        for name in ServiceName.allCases {
            let service = try service(name.rawValue)
            let url = try XCTUnwrap(service.environment["DATABASE_URL"])
            let components = try XCTUnwrap(URLComponents(string: url))
            XCTAssertEqual(components.user, name.rawValue, "\(name.rawValue) logs in as its own role")
            XCTAssertEqual(components.path, "/\(name.rawValue)")
            XCTAssertNil(components.password)
            let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }) { $1 }
            XCTAssertEqual(query["sslmode"], "verify-full", "\(name.rawValue) checks the server's certificate and name")
            let folder = "/etc/saga/tls"
            XCTAssertEqual(identity(of: service, at: folder), name.rawValue)
            XCTAssertEqual(query["sslrootcert"], "\(folder)/ca.crt")
            XCTAssertEqual(query["sslcert"], "\(folder)/tls.crt")
            XCTAssertEqual(query["sslkey"], "\(folder)/tls.key")
        }
    }

    // MARK: - containers

    func testEveryContainerIsReadOnlyWithoutCapabilitiesOrEscalation() throws {
        for service in services.values.sorted(by: { $0.name < $1.name }) {
            XCTAssertEqual(YAMLValue.scalar(service.body["read_only"]), "true", "\(service.name): read_only: true")
            XCTAssertEqual(YAMLValue.strings(service.body["cap_drop"]), ["ALL"], "\(service.name): cap_drop: [ALL]")
            XCTAssertTrue(YAMLValue.strings(service.body["security_opt"]).contains("no-new-privileges:true"), "\(service.name): no-new-privileges")
            XCTAssertNil(service.body["privileged"], "\(service.name): privileged")
            for key in ["network_mode", "pid", "ipc", "userns_mode"] {
                XCTAssertNotEqual(YAMLValue.scalar(service.body[key]), "host", "\(service.name): \(key): host")
            }
            let added = YAMLValue.strings(service.body["cap_add"])
            if service.name == "pki-init" {
                XCTAssertEqual(added, ["CHOWN"], "pki-init hands each file to its reader: CAP_CHOWN and nothing else")
            } else {
                XCTAssertEqual(added, [], "\(service.name) adds capabilities")
            }
            if YAMLValue.scalar(service.body["user"]) == "root" || YAMLValue.scalar(service.body["user"]) == "0" {
                XCTAssertEqual(service.name, "pki-init", "\(service.name) runs as root")
            }
        }
    }

    /// The Docker socket is root on the host: only the chaos profile has it, and says so.
    func testTheChaosToolIsTheOnlyPrivilegedOneAndIsMarked() throws {
        for service in services.values where service.name != "chaos" {
            XCTAssertFalse(service.volumes.contains { $0.source.contains("docker.sock") }, "\(service.name) mounts the Docker socket")
        }
        let chaos = try service("chaos")
        XCTAssertEqual(chaos.profiles, ["chaos"], "never started by a plain `up`")
        XCTAssertEqual(YAMLValue.scalar(YAMLValue.mapping(chaos.body["labels"])?["org.order-saga.privileged"]), "docker-socket")
        XCTAssertTrue(try Deploy.text(Deploy.composeFile).contains("PRIVILEGED TOOL, NOT PART OF THE HARDENED SET"))
    }

    func testPortsArePublishedOnTheLoopbackOnly() throws {
        for service in services.values {
            for port in service.ports {
                XCTAssertTrue(port.hasPrefix("127.0.0.1:"), "\(service.name) publishes \(port) beyond the loopback")
            }
        }
        for variant in ComposeConfigTests.variants {
            for (name, value) in variant.environment where name.hasSuffix("_PUBLISH") {
                XCTAssertTrue(value.hasPrefix("127.0.0.1:"), "the documented \(name) stays on the loopback")
            }
        }
    }

    func testGrafanaWantsALoginWithAGeneratedPassword() throws {
        let grafana = try service("grafana")
        let environment = grafana.environment
        XCTAssertEqual(environment["GF_AUTH_ANONYMOUS_ENABLED"], "false", "no anonymous access")
        XCTAssertEqual(environment["GF_USERS_ALLOW_SIGN_UP"], "false")
        let file = try XCTUnwrap(environment["GF_SECURITY_ADMIN_PASSWORD__FILE"], "the admin password from a file")
        XCTAssertEqual(identity(of: grafana, at: (file as NSString).deletingLastPathComponent), "grafana", "the file pki-init generated")
        XCTAssertEqual((file as NSString).lastPathComponent, "admin.password")
    }

    /// Whoever reaches the OTLP receiver can plant spans: it stays inside the stack's network.
    func testJaegersReceiverIsNotPublished() throws {
        let jaeger = try service("jaeger")
        for receiver in ["4317", "4318", "14250", "14268", "9411"] {
            XCTAssertFalse(jaeger.ports.contains { $0.split(separator: ":").last.map(String.init) == receiver }, "jaeger publishes its receiver \(receiver)")
        }
        XCTAssertEqual(jaeger.ports, ["127.0.0.1:16686:16686"], "the UI, on the loopback")
    }

    /// The overrides that publish more for host tools do so on the loopback only.
    func testTheOverridesPublishOnTheLoopbackOnly() throws {
        for file in ["docker-compose.postgres-port.yml", "docker-compose.otlp-port.yml"] {
            let override = try Deploy.yaml(Deploy.folder.appendingPathComponent(file))
            for (name, body) in YAMLValue.mapping(override["services"]) ?? [:] {
                let ports = YAMLValue.strings(YAMLValue.mapping(body)?["ports"])
                XCTAssertFalse(ports.isEmpty, "\(file) publishes something for \(name)")
                for port in ports { XCTAssertTrue(port.hasPrefix("127.0.0.1:"), "\(file): \(name) publishes \(port)") }
            }
        }
    }

    /// Images pinned by tag alone. Registries cannot be reached from here; the others carry the
    /// digest public sources agree on for their tag. postgres:15 is a moving minor-release tag
    /// with no digest found. An image pinned by digest (`@sha256:`) leaves this list.
    static let pinnedByTagOnly: Set<String> = ["postgres:15", "jaegertracing/jaeger:2.11.0"]

    func testExternalImagesArePinnedByDigestOrListedAsTagOnly() throws {
        var tagOnly = Set<String>()
        for service in services.values where !service.hasBuild {
            let image = try XCTUnwrap(service.image, service.name)
            if image.contains("@sha256:") {
                let parts = image.split(separator: "@").map(String.init)
                XCTAssertEqual(parts.last?.count, "sha256:".count + 64, "\(service.name): a whole digest")
                XCTAssertTrue(parts[0].contains(":"), "\(service.name): keep the tag beside the digest, for the reader")
            } else {
                tagOnly.insert(image)
            }
        }
        XCTAssertEqual(tagOnly, Self.pinnedByTagOnly, "images pinned by tag only")
    }
}
