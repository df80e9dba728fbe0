import EventSchema
import Foundation
import Observability
import Persistence
import ServiceKit
import XCTest
import Yams

/// The compose file against the code: settings the services read (SettingsCatalog), the topic
/// catalog, the database layout of deploy/postgres/init.sql, health and start order.
final class ComposeContractTests: XCTestCase {
    var services: [String: ComposeService] = [:]

    override func setUpWithError() throws {
        services = try Deploy.services()
    }

    var kafkaNodes: [ComposeService] {
        services.values.filter { $0.image?.hasPrefix("apache/kafka:") == true }.sorted { $0.name < $1.name }
    }

    func saga(_ service: ServiceName) throws -> ComposeService {
        try Deploy.service(service.rawValue, in: services)
    }

    // MARK: - environment = SettingsCatalog

    func testEveryVariableSetOnAServiceIsOneItReads() throws {
        for name in ServiceName.allCases {
            // Beside the catalog, the OpenTelemetry variables swift-otel reads for tracing.
            let read = Set(SettingsCatalog.settings(of: name).map(\.environment)).union(TracingBootstrap.variables)
            for variable in try saga(name).environment.keys.sorted() {
                XCTAssertTrue(read.contains(variable), """
                    \(name.rawValue) sets \(variable), which \(name.executable) does not read \
                    (SettingsCatalog lists for it: \(read.sorted().joined(separator: ", ")))
                    """)
            }
        }
    }

    func testEveryRequiredSettingIsSet() throws {
        for name in ServiceName.allCases {
            let environment = try saga(name).environment
            for setting in SettingsCatalog.settings(of: name) where setting.isRequired {
                XCTAssertNotNil(setting.resolve(nil, environment: environment),
                                "\(name.rawValue) must set \(setting.environment) (\(setting.help))")
            }
            // Not required by the catalog (SQLite and a bootstrap file have defaults locally),
            // but a container has neither a persistent SQLite file nor the dev cluster's file.
            XCTAssertNotNil(SettingsCatalog.database.resolve(nil, environment: environment),
                            "\(name.rawValue) must set DATABASE_URL")
            XCTAssertTrue(environment[SettingsCatalog.bootstrap.environment] != nil
                          || environment[SettingsCatalog.bootstrapFile.environment] != nil,
                          "\(name.rawValue) must set KAFKA_BOOTSTRAP or KAFKA_BOOTSTRAP_FILE")
        }
    }

    func testContainerSettings() throws {
        for name in ServiceName.allCases {
            let service = try saga(name)
            let environment = service.environment
            XCTAssertEqual(try SettingsCatalog.devClusterTuning.bool(nil, environment: environment), false,
                           "\(name.rawValue): KAFKA_DEV_CLUSTER_TUNING must be false on real Kafka")
            XCTAssertEqual(SettingsCatalog.httpHost.resolve(nil, environment: environment), "0.0.0.0",
                           "\(name.rawValue): HTTP_HOST must be 0.0.0.0 or nothing outside the container reaches it")
            XCTAssertEqual(try SettingsCatalog.httpPort.integer(nil, environment: environment) ?? name.defaultHTTPPort,
                           name.defaultHTTPPort, "\(name.rawValue): the contract's port (Services/API.md)")
            XCTAssertNil(environment[SettingsCatalog.instanceId.environment],
                         "\(name.rawValue): a fixed INSTANCE_ID would give every scaled instance the same name")
            XCTAssertTrue(service.invocation.contains(name.executable),
                          "\(name.rawValue) runs \(service.invocation), expected \(name.executable)")
            XCTAssertNil(service.body["container_name"], "\(name.rawValue): container_name prevents --scale")
            if let logLevel = environment[SettingsCatalog.logLevel.environment] {
                XCTAssertTrue(["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel),
                              "\(name.rawValue): LOG_LEVEL \(logLevel)")
            }
        }
    }

    /// Services, loadgen and chaos must all read deploy/seed.json: the audit compares the
    /// services' state with the catalog they were seeded from.
    func testSeedFileIsMountedWhereSeedFilePoints() throws {
        let readers = services.values.filter { $0.environment[SettingsCatalog.seedFile.environment] != nil }
        XCTAssertTrue(Set(["order", "inventory", "payment", "loadgen"]).isSubset(of: Set(readers.map(\.name))))
        for service in readers {
            let path = service.environment[SettingsCatalog.seedFile.environment]!
            // The file itself mounted, or a folder that holds it.
            let resolved = service.volumes.compactMap { mount -> URL? in
                if mount.target == path { return Deploy.folder.appendingPathComponent(mount.source) }
                guard path.hasPrefix(mount.target + "/") else { return nil }
                return Deploy.folder.appendingPathComponent(mount.source).appendingPathComponent(String(path.dropFirst(mount.target.count + 1)))
            }
            XCTAssertEqual(resolved.map { $0.standardizedFileURL.path }, [Deploy.seedFile.standardizedFileURL.path],
                           "\(service.name): SEED_FILE=\(path) must be deploy/seed.json, mounted")
        }
    }

    // MARK: - PostgreSQL

    /// One role per service, owning its database (ComposeSecurityTests check the roles' rights,
    /// TLS and that no password exists): each service's URL names its own database and role.
    func testEachServiceHasItsOwnDatabaseAndRoleFromInitSQL() throws {
        let sql = try Deploy.text(Deploy.postgresInit)
            .split(separator: "\n").map { $0.components(separatedBy: "--")[0] }.joined(separator: "\n")
        let roles = Set(matches(#"CREATE\s+ROLE\s+"?(\w+)"?\s+LOGIN"#, in: sql).map { $0[0] })
        let databases = Set(matches(#"CREATE\s+DATABASE\s+"?(\w+)"?"#, in: sql).map { $0[0] })
        XCTAssertEqual(databases, Set(ServiceName.allCases.map(\.rawValue)), "init.sql creates one database per service")
        XCTAssertEqual(roles, databases, "init.sql creates one login role per service, named as its database")

        let postgres = try Deploy.service("postgres", in: services)
        XCTAssertTrue(postgres.image.map { $0.hasPrefix("postgres:15") } ?? false, "postgres image pinned to 15: \(postgres.image ?? "none")")
        XCTAssertTrue(postgres.volumes.contains { $0.source == "./postgres/init.sql" && $0.target.hasPrefix("/docker-entrypoint-initdb.d/") },
                      "postgres must mount ./postgres/init.sql into /docker-entrypoint-initdb.d")
        XCTAssertFalse(postgres.healthcheckTest.isEmpty, "postgres needs a healthcheck (services wait for service_healthy)")

        var used: [String: ServiceName] = [:]
        for name in ServiceName.allCases {
            let url = try XCTUnwrap(try saga(name).environment["DATABASE_URL"], "\(name.rawValue) DATABASE_URL")
            let components = try XCTUnwrap(URLComponents(string: url), "\(name.rawValue): DATABASE_URL \(url)")
            XCTAssertTrue(["postgres", "postgresql"].contains(components.scheme ?? ""), "\(name.rawValue): \(url) is not PostgreSQL")
            XCTAssertEqual(components.host, "postgres", "\(name.rawValue): DATABASE_URL must name the postgres service")
            XCTAssertEqual(components.port ?? 5432, 5432)
            let database = String(components.path.drop { $0 == "/" })
            XCTAssertTrue(databases.contains(database), "\(name.rawValue): database '\(database)' is not created by init.sql")
            XCTAssertEqual(components.user, database, "\(name.rawValue) logs in as the role that owns its database")
            if let other = used.updateValue(name, forKey: database) {
                XCTFail("\(name.rawValue) and \(other.rawValue) share the database \(database)")
            }
            // Parsed as the service parses it: the options exist and the files are named.
            let configuration = try PostgresDatabase.Configuration(url: url.replacingOccurrences(of: "/etc/saga/tls/", with: Self.pkiFolder(name.rawValue)))
            XCTAssertEqual(configuration.tls, .verifyFull)
        }
    }

    /// A folder with the files a service's pki volume holds, for parsing its DATABASE_URL here
    /// (the URL parser checks that the files exist).
    static func pkiFolder(_ identity: String) -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("compose-contract-pki/\(identity)/")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in ["ca.crt", "tls.crt", "tls.key"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: folder.appendingPathComponent(file).path, contents: Data("placeholder\n".utf8)))
        }
        return folder.path + "/"
    }

    // MARK: - Kafka

    func testThreeKRaftNodesWithTheCatalogDefaults() throws {
        let nodes = kafkaNodes
        XCTAssertEqual(nodes.count, 3, "three Kafka nodes, found \(nodes.map(\.name))")
        XCTAssertGreaterThanOrEqual(nodes.count, TopicCatalog.replicationFactor, "the catalog's replication factor needs that many brokers")

        var nodeIDs: [String: String] = [:]
        for node in nodes {
            let image = node.image ?? ""
            let tag = image.split(separator: ":").dropFirst().first.map(String.init) ?? ""
            XCTAssertTrue(tag.first?.isNumber == true, "\(node.name): image \(image) must pin a version, not \(tag.isEmpty ? "no tag" : tag)")

            let environment = node.environment
            func setting(_ key: String) -> String {
                if let value = environment[key] { return value }
                XCTFail("\(node.name) must set \(key)")
                return ""
            }
            XCTAssertEqual(Set(setting("KAFKA_PROCESS_ROLES").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }),
                           ["broker", "controller"], "\(node.name): combined KRaft node")
            XCTAssertFalse(setting("CLUSTER_ID").isEmpty, "\(node.name): KRaft needs a cluster id")
            XCTAssertNil(environment["KAFKA_ZOOKEEPER_CONNECT"], "\(node.name): KRaft, no ZooKeeper")
            nodeIDs[setting("KAFKA_NODE_ID")] = node.name

            XCTAssertEqual(setting("KAFKA_AUTO_CREATE_TOPICS_ENABLE"), "false", "\(node.name): topics come from topic-init only")
            XCTAssertEqual(Int(setting("KAFKA_DEFAULT_REPLICATION_FACTOR")), TopicCatalog.replicationFactor, "\(node.name): default RF")
            XCTAssertEqual(Int(setting("KAFKA_MIN_INSYNC_REPLICAS")), TopicCatalog.minInSyncReplicas, "\(node.name): min.insync.replicas")
            if let partitions = environment["KAFKA_NUM_PARTITIONS"] {
                XCTAssertEqual(Int(partitions), TopicCatalog.defaultPartitions, "\(node.name): num.partitions")
            }
            if let offsetsRF = environment["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] {
                XCTAssertEqual(Int(offsetsRF), TopicCatalog.replicationFactor, "\(node.name): committed offsets as durable as the data")
            }

            let listeners = listenerPorts(setting("KAFKA_LISTENERS"))
            XCTAssertNotNil(listeners[setting("KAFKA_CONTROLLER_LISTENER_NAMES")], "\(node.name): controller listener in KAFKA_LISTENERS")
            XCTAssertNotNil(listeners[setting("KAFKA_INTER_BROKER_LISTENER_NAME")], "\(node.name): inter-broker listener in KAFKA_LISTENERS")
            XCTAssertFalse(setting("KAFKA_ADVERTISED_LISTENERS").isEmpty)
            XCTAssertFalse(node.healthcheckTest.isEmpty, "\(node.name) needs a healthcheck (topic-init waits for it)")
            let logDirectory = environment["KAFKA_LOG_DIRS"] ?? "/var/lib/kafka/data"
            XCTAssertTrue(node.volumes.contains { $0.target == logDirectory }, "\(node.name): a volume on \(logDirectory)")
        }
        XCTAssertEqual(nodeIDs.count, nodes.count, "node ids must differ: \(nodeIDs)")
        XCTAssertEqual(Set(nodes.map { $0.environment["CLUSTER_ID"] }).count, 1, "one CLUSTER_ID for all nodes")

        // Every node votes, with the id it has, at its own controller listener.
        let quorum = Set(nodes.map { $0.environment["KAFKA_CONTROLLER_QUORUM_VOTERS"] ?? "" })
        XCTAssertEqual(quorum.count, 1, "the same KAFKA_CONTROLLER_QUORUM_VOTERS on every node")
        var voters: [String: String] = [:]
        for voter in (quorum.first ?? "").split(separator: ",") {
            let parts = voter.split(separator: "@").map(String.init)
            guard parts.count == 2 else { XCTFail("voter \(voter) is not id@host:port"); continue }
            voters[parts[0]] = String(parts[1].split(separator: ":").first ?? "")
        }
        XCTAssertEqual(voters, nodeIDs, "quorum voters = the nodes (id -> host)")
    }

    func testEveryBootstrapListNamesTheBrokersInternalListeners() throws {
        var internalListeners: [String: String] = [:]   // host:port each node serves containers on
        for node in kafkaNodes {
            let listener = node.environment["KAFKA_INTER_BROKER_LISTENER_NAME"] ?? ""
            if let port = listenerPorts(node.environment["KAFKA_LISTENERS"] ?? "")[listener] {
                internalListeners["\(node.name):\(port)"] = node.name
            }
        }
        XCTAssertEqual(internalListeners.count, 3, "an inter-broker listener per node")
        let clients = services.values.filter { $0.environment["KAFKA_BOOTSTRAP"] != nil }
        XCTAssertTrue(Set(ServiceName.allCases.map(\.rawValue) + ["topic-init"]).isSubset(of: Set(clients.map(\.name))))
        for client in clients {
            let servers = (client.environment["KAFKA_BOOTSTRAP"] ?? "").split(separator: ",").map(String.init)
            XCTAssertEqual(Set(servers), Set(internalListeners.keys), "\(client.name): KAFKA_BOOTSTRAP should list every broker's internal listener")
        }
    }

    func testTopicInitCreatesTheCatalogShape() throws {
        let topicInit = try Deploy.service("topic-init", in: services)
        let tokens = topicInit.invocation.flatMap { $0.split(whereSeparator: { " \n\t;".contains($0) }) }.map(String.init)
        guard let start = tokens.firstIndex(of: "create-topics"), start > 0, tokens[start - 1].hasSuffix("kafka-tool") else {
            XCTFail("topic-init must run `kafka-tool create-topics`, runs \(topicInit.invocation)")
            return
        }
        let shellBreak: Set<String> = ["&&", "||", "|", "do", "done", "then", "fi"]
        let arguments = Array(tokens[(start + 1)...].prefix { !shellBreak.contains($0) })
        func option(_ name: String) -> Int? {
            for (index, token) in arguments.enumerated() {
                if token == "--\(name)", index + 1 < arguments.count { return Int(arguments[index + 1]) }
                if token.hasPrefix("--\(name)=") { return Int(token.dropFirst(name.count + 3)) }
            }
            return nil
        }
        // No flag: kafka-tool takes the catalog's numbers itself (the better choice).
        XCTAssertEqual(option("partitions") ?? TopicCatalog.defaultPartitions, TopicCatalog.defaultPartitions, "partitions")
        XCTAssertEqual(option("replication-factor") ?? TopicCatalog.replicationFactor, TopicCatalog.replicationFactor, "replication factor")
        XCTAssertEqual(option("min-insync-replicas") ?? TopicCatalog.minInSyncReplicas, TopicCatalog.minInSyncReplicas, "min ISR")
        XCTAssertFalse(arguments.contains("--dev-cluster"), "topic-init talks to real Kafka: no dev-cluster tuning")
        XCTAssertTrue(topicInit.environment["KAFKA_BOOTSTRAP"] != nil || arguments.contains { $0.hasPrefix("--bootstrap") },
                      "topic-init needs the bootstrap servers")

        let services = try ServiceName.allCases.map(saga)
        XCTAssertEqual(topicInit.image, services.first?.image, "topic-init runs kafka-tool from the services image")
        XCTAssertEqual(YAMLValue.scalar(topicInit.body["restart"]), "no", "a one-shot job")
        for node in kafkaNodes {
            XCTAssertEqual(topicInit.dependencies[node.name], "service_healthy", "topic-init waits for \(node.name)")
        }
    }

    /// The one-shot jobs' inline scripts (acl-init, topic-init) pass shellcheck.
    func testInlineScriptsPassShellcheck() throws {
        guard let shellcheck = findOnPath("shellcheck") else { throw XCTSkip("shellcheck not installed") }
        for name in ["acl-init", "topic-init"] {
            let job = try Deploy.service(name, in: services)
            let invocation = job.invocation
            guard let dashC = invocation.firstIndex(of: "-c"), dashC + 1 < invocation.count else {
                XCTFail("\(name) runs \(invocation), expected [shell, -c, script]")
                continue
            }
            let shell = invocation[..<dashC].last ?? "/bin/sh"
            let script = "#!\(shell)\n" + invocation[dashC + 1] + "\n"
            let result = try runCommand(shellcheck, ["-"], in: Deploy.root, input: script)
            XCTAssertEqual(result.status, 0, "shellcheck on \(name)'s script:\n\(result.stdout)\(result.stderr)")
        }
    }

    // MARK: - health and start order

    func testServicesAreHealthCheckedOnReadyzAndStartInOrder() throws {
        for name in ServiceName.allCases {
            let service = try saga(name)
            let check = service.healthcheckTest.joined(separator: " ")
            XCTAssertTrue(check.contains("/readyz"), "\(name.rawValue): healthcheck must hit /readyz, is: \(check)")
            XCTAssertTrue(check.contains(":\(name.defaultHTTPPort)/"), "\(name.rawValue): healthcheck on port \(name.defaultHTTPPort)")

            let dependencies = service.dependencies
            for node in kafkaNodes {
                XCTAssertEqual(dependencies[node.name], "service_healthy", "\(name.rawValue) waits for \(node.name)")
            }
            XCTAssertEqual(dependencies["postgres"], "service_healthy", "\(name.rawValue) waits for postgres")
            XCTAssertEqual(dependencies["pki-init"], "service_completed_successfully", "\(name.rawValue) waits for its certificate")
            XCTAssertEqual(dependencies["topic-init"], "service_completed_successfully", "\(name.rawValue) waits for the topics")

            let published = service.ports
            XCTAssertEqual(published.count, 1, "\(name.rawValue) publishes its HTTP port")
            for port in published {
                XCTAssertTrue(port.hasSuffix(":\(name.defaultHTTPPort)") || port == "\(name.defaultHTTPPort)",
                              "\(name.rawValue): container side of \(port) must be \(name.defaultHTTPPort)")
            }
        }
    }

    /// Whatever the healthchecks run must exist in the image they run in.
    func testHealthcheckToolIsInTheRuntimeImage() throws {
        let dockerfile = try Dockerfile.parse(Deploy.text(Deploy.dockerfile))
        let runtime = try XCTUnwrap(dockerfile.stage(named: "runtime"))
        let packages = dockerfile.aptPackages(of: runtime)
        for name in ServiceName.allCases {
            let test = try saga(name).healthcheckTest
            guard test.first == "CMD", let tool = test.dropFirst().first else {
                XCTFail("\(name.rawValue): use the exec form [\"CMD\", ...] (the runtime image has no need for a shell)")
                continue
            }
            XCTAssertTrue(packages.contains(tool), "\(name.rawValue): healthcheck runs \(tool); the runtime stage installs \(packages.sorted())")
        }
    }

    // MARK: - images and profiles

    func testEveryImageIsPinnedOrBuiltHere() throws {
        for service in services.values {
            guard let image = service.image else {
                XCTAssertTrue(service.hasBuild, "\(service.name) has neither image nor build")
                continue
            }
            if service.hasBuild {
                let target = try XCTUnwrap(service.buildTarget, "\(service.name): name the Dockerfile stage (build.target)")
                XCTAssertNotNil(try Dockerfile.parse(Deploy.text(Deploy.dockerfile)).stage(named: target),
                                "\(service.name): deploy/Dockerfile has no stage \(target)")
                continue
            }
            let tag = image.split(separator: ":").dropFirst().last.map(String.init)
            XCTAssertNotNil(tag, "\(service.name): \(image) has no tag")
            XCTAssertNotEqual(tag, "latest", "\(service.name): \(image) is not pinned")
        }
    }

    func testProfiles() throws {
        let core = Set(ServiceName.allCases.map(\.rawValue) + kafkaNodes.map(\.name) + ["postgres", "pki-init", "acl-init", "topic-init", "jaeger"])
        for name in core {
            XCTAssertEqual(try Deploy.service(name, in: services).profiles, [], "\(name) starts with a plain `up`")
        }

        let loadgen = try Deploy.service("loadgen", in: services)
        XCTAssertEqual(loadgen.profiles, ["load"])
        XCTAssertEqual(YAMLValue.strings(loadgen.body["entrypoint"]), ["loadgen"],
                       "chaos.sh runs `compose run loadgen run ...`: the entrypoint must be loadgen alone")
        XCTAssertEqual(Array(loadgen.invocation.prefix(2)), ["loadgen", "run"])
        XCTAssertTrue(loadgen.invocation.contains { $0.hasPrefix("--rate") }, "loadgen run requires --rate")
        // loadgen reads each URL from a flag or <SERVICE>_URL; KAFKA_DEV_CLUSTER_TUNING is false
        // by default, and said here all the same.
        XCTAssertNotNil(loadgen.environment["KAFKA_BOOTSTRAP"], "loadgen reads the topics for its audit")
        XCTAssertEqual(loadgen.environment["KAFKA_DEV_CLUSTER_TUNING"], "false", "loadgen: real Kafka")
        for name in ServiceName.allCases {
            let url = "http://\(name.rawValue):\(name.defaultHTTPPort)"
            XCTAssertTrue(loadgen.environment["\(name.rawValue.uppercased())_URL"] == url
                          || loadgen.invocation.contains { $0.hasSuffix(url) },
                          "loadgen needs the \(name.rawValue) URL \(url)")
            XCTAssertEqual(loadgen.dependencies[name.rawValue], "service_healthy", "loadgen waits for \(name.rawValue)")
        }

        // chaos.sh reads the compose file from the deploy folder's mount and asks Docker for that
        // mount's host path (CHAOS_DEPLOY_MOUNT), which the daemon needs for ./seed.json.
        let chaos = try Deploy.service("chaos", in: services)
        XCTAssertEqual(chaos.profiles, ["chaos"])
        XCTAssertTrue(chaos.volumes.contains { $0.source == "/var/run/docker.sock" }, "chaos drives Docker through its socket")
        let mount = try XCTUnwrap(chaos.environment["CHAOS_DEPLOY_MOUNT"], "chaos.sh learns where the deploy folder is mounted")
        XCTAssertEqual(chaos.volumes.first { $0.source == "." || $0.source == "./" }?.target, mount,
                       "chaos mounts the deploy folder at CHAOS_DEPLOY_MOUNT")
        XCTAssertTrue(YAMLValue.strings(chaos.body["volumes"]).contains { $0.hasPrefix(".:") && $0.hasSuffix(":ro") },
                      "the deploy folder read-only")
        XCTAssertEqual(Array(chaos.invocation.prefix(3)), ["bash", mount + "/chaos.sh", "--compose"],
                       "chaos runs deploy/chaos.sh --compose from the mount")
        let reports = try XCTUnwrap(chaos.environment["CHAOS_REPORTS"], "where chaos.sh puts the timeline and reports")
        let volumes = YAMLValue.mapping(try Deploy.yaml(Deploy.composeFile)["volumes"]) ?? [:]
        XCTAssertTrue(chaos.volumes.contains { $0.target == reports && volumes.keys.contains($0.source) },
                      "the reports go to a named volume, not a host folder: \(chaos.volumes)")
        for name in ServiceName.allCases {
            XCTAssertEqual(chaos.dependencies[name.rawValue], "service_healthy", "chaos waits for \(name.rawValue)")
        }

        let kafkaTool = try Deploy.service("kafka-tool", in: services)
        XCTAssertEqual(kafkaTool.profiles, ["ops"])
        XCTAssertEqual(YAMLValue.strings(kafkaTool.body["entrypoint"]), ["kafka-tool"], "`run --rm kafka-tool <subcommand>`")

        let prometheus = try Deploy.service("prometheus", in: services)
        XCTAssertEqual(prometheus.profiles, ["metrics"])
        XCTAssertTrue(prometheus.image?.hasPrefix("prom/prometheus:") ?? false)
        XCTAssertTrue(prometheus.volumes.contains { $0.source == "./prometheus.yml" }, "prometheus mounts deploy/prometheus.yml")
    }

    // MARK: - project, mounts, group membership

    /// A project name of its own, whatever the checkout's folder is called; chaos.sh inside its
    /// container addresses the same project.
    func testTheProjectIsNamed() throws {
        let name = try XCTUnwrap(YAMLValue.scalar(try Deploy.yaml(Deploy.composeFile)["name"]), "a top-level `name:`")
        XCTAssertNotNil(name.range(of: "^[a-z0-9][a-z0-9_-]*$", options: .regularExpression),
                        "Compose project names are lowercase letters, digits, '-' and '_': \(name)")
        XCTAssertNotEqual(name, "deploy", "the folder's name is what Compose would pick anyway")
        let chaos = try Deploy.service("chaos", in: services)
        XCTAssertEqual(chaos.environment["COMPOSE_PROJECT_NAME"], name, "chaos.sh's compose calls default to the same project")
    }

    /// Nothing may depend on the shell that runs compose: `docker compose` started from a
    /// script, an IDE or sudo has no PWD, or another one.
    func testNoPathComesFromTheEnvironment() throws {
        let text = try Deploy.text(Deploy.composeFile)
        for variable in ["PWD", "HOME", "OLDPWD"] {
            XCTAssertFalse(text.contains("${\(variable)") || text.contains("$\(variable)"), "the compose file reads $\(variable)")
        }
    }

    /// Docker creates a missing bind-mount source as an empty root-owned folder (a file mount
    /// then fails): every host path mounted must be the Docker socket or exist in a fresh
    /// checkout (run/ is not in git).
    func testEveryBindMountSourceIsInTheCheckout() throws {
        let tracked = try runCommand("/usr/bin/git", ["ls-files"], in: Deploy.root)
        guard tracked.status == 0 else { throw Failure("git ls-files failed: \(tracked.stderr)") }
        let files = Set(tracked.stdout.split(separator: "\n").map(String.init))
        for service in services.values {
            for mount in service.volumes where mount.source.hasPrefix(".") || mount.source.hasPrefix("/") {
                if mount.source == "/var/run/docker.sock" { continue }
                XCTAssertFalse(mount.source.hasPrefix("/"), "\(service.name) mounts the host path \(mount.source)")
                let path = Deploy.folder.appendingPathComponent(mount.source).standardizedFileURL.path
                let relative = path == Deploy.root.path ? "" : String(path.dropFirst(Deploy.root.path.count + 1))
                let inGit = files.contains(relative) || files.contains { $0.hasPrefix(relative + "/") }
                XCTAssertTrue(inGit, "\(service.name) mounts \(mount.source), which a fresh checkout lacks: Docker would create it as root")
            }
        }
    }

    /// A restarted service gets its partitions back without waiting out a session: static
    /// membership named by the container's hostname, and a session timeout that frees a dead
    /// member's partitions well inside Order's saga deadline.
    func testServicesRejoinTheirGroupWellInsideTheSagaDeadline() throws {
        let sagaTimeout = try SettingsCatalog.sagaTimeout.integer(nil, environment: try saga(.order).environment) ?? 30_000
        for name in ServiceName.allCases {
            let service = try saga(name)
            let environment = service.environment
            XCTAssertEqual(try SettingsCatalog.staticMembership.bool(nil, environment: environment), true,
                           "\(name.rawValue): KAFKA_STATIC_MEMBERSHIP")
            let session = try XCTUnwrap(try SettingsCatalog.sessionTimeout.integer(nil, environment: environment))
            XCTAssertGreaterThanOrEqual(session, 6_000, "\(name.rawValue): brokers refuse a session under group.min.session.timeout.ms (6 s)")
            XCTAssertLessThanOrEqual(session * 2, sagaTimeout, "\(name.rawValue): a dead member's partitions move within half the saga deadline")
            // The static member is named after the hostname; a fixed one would give every
            // scaled replica the same name, and each would fence the one before.
            XCTAssertNil(service.body["hostname"], "\(name.rawValue): no fixed hostname")
            XCTAssertNil(environment[SettingsCatalog.instanceId.environment], "\(name.rawValue): no fixed INSTANCE_ID")
        }
    }

    func testPrometheusScrapesEveryServiceInstance() throws {
        let config = try Deploy.yaml(Deploy.prometheusConfig)
        let jobs = (YAMLValue.sequence(config["scrape_configs"]) ?? []).compactMap(YAMLValue.mapping)
        for name in ServiceName.allCases {
            var targets: [String] = []
            for job in jobs {
                let path = YAMLValue.scalar(job["metrics_path"]) ?? "/metrics"
                guard path == "/metrics" else { continue }
                for discovery in (YAMLValue.sequence(job["dns_sd_configs"]) ?? []).compactMap(YAMLValue.mapping) {
                    let port = YAMLValue.scalar(discovery["port"]) ?? ""
                    targets += YAMLValue.strings(discovery["names"]).map { "\($0):\(port)" }
                }
                for list in (YAMLValue.sequence(job["static_configs"]) ?? []).compactMap(YAMLValue.mapping) {
                    targets += YAMLValue.strings(list["targets"])
                }
            }
            XCTAssertTrue(targets.contains("\(name.rawValue):\(name.defaultHTTPPort)"),
                          "prometheus.yml must scrape \(name.rawValue):\(name.defaultHTTPPort)/metrics; has \(targets)")
        }
    }

    // MARK: - helpers

    /// NAME -> port from a Kafka listener list such as `INTERNAL://:9092,CONTROLLER://:9093`.
    func listenerPorts(_ listeners: String) -> [String: String] {
        var result: [String: String] = [:]
        for listener in listeners.split(separator: ",") {
            let parts = listener.components(separatedBy: "://")
            guard parts.count == 2, let port = parts[1].split(separator: ":").last else { continue }
            result[parts[0].trimmingCharacters(in: .whitespaces)] = String(port)
        }
        return result
    }

    func matches(_ pattern: String, in text: String) -> [[String]] {
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]) else { return [] }
        let range = NSRange(text.startIndex..., in: text)
        return regex.matches(in: text, range: range).map { match in
            (1..<match.numberOfRanges).compactMap { Range(match.range(at: $0), in: text).map { String(text[$0]) } }
        }
    }
}
