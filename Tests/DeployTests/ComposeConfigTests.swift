import Foundation
import ServiceKit
import XCTest
import Yams

/// Compose itself must accept the file: `docker compose config` where the plugin is installed,
/// and `docker-compose config` (Debian's v1.29, all CI has). The stack needs Compose v2 for its
/// top-level `name`, which 1.29 predates, so 1.29 is given the file without that one line and
/// checks everything else. No Docker engine is needed for either.
final class ComposeConfigTests: XCTestCase {
    static let allProfiles = ["--profile", "load", "--profile", "chaos", "--profile", "metrics", "--profile", "ops"]

    /// The documented ways to run the file: plain, every profile, the scale-out variant
    /// (ephemeral host ports) and PostgreSQL published on the host (an override file), from the
    /// comments and deploy/README.md.
    static let variants: [(label: String, arguments: [String], environment: [String: String], overrides: [String])] = [
        ("default", [], [:], []),
        ("all profiles", allProfiles, [:], []),
        ("scaled (ephemeral host ports)", [], [
            "ORDER_PUBLISH": "127.0.0.1::8080", "INVENTORY_PUBLISH": "127.0.0.1::8081",
            "PAYMENT_PUBLISH": "127.0.0.1::8082", "NOTIFICATION_PUBLISH": "127.0.0.1::8083",
        ], []),
        ("PostgreSQL published on the loopback", [], [:], ["deploy/docker-compose.postgres-port.yml"]),
        ("Jaeger's OTLP receiver published on the loopback", [], [:], ["deploy/docker-compose.otlp-port.yml"]),
    ]

    /// How to hand the file (and override files) to a Compose front end: v1 gets a copy less the
    /// top-level `name`, with deploy/ as the project directory so relative paths resolve as
    /// before; v2 reads the files themselves.
    static func invocation(of tool: [String], _ arguments: [String], overrides: [String] = []) throws -> [String] {
        let extra = overrides.flatMap { ["-f", $0] }
        if tool.count == 1 {
            let copy = FileManager.default.temporaryDirectory.appendingPathComponent("compose-v1-\(UUID().uuidString).yml")
            try Deploy.composeTextWithoutName().write(to: copy, atomically: true, encoding: .utf8)
            return ["--project-directory", "deploy", "-f", copy.path] + extra + arguments
        }
        return Array(tool.dropFirst()) + ["-f", "deploy/docker-compose.yml"] + extra + arguments
    }

    /// Every Compose front end on this machine, as the command prefix that runs it.
    static func composeTools() -> [[String]] {
        var tools: [[String]] = []
        if let v1 = findOnPath("docker-compose") { tools.append([v1]) }
        if let docker = findOnPath("docker"),
           let result = try? runCommand(docker, ["compose", "version"], in: Deploy.root, timeout: 30),
           result.status == 0 {
            tools.append([docker, "compose"])
        }
        return tools
    }

    /// The test's own environment, less what would redirect Compose to another file or project,
    /// with PWD the repository root as in a shell that follows deploy/README.md.
    static func environment(adding extra: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME", "COMPOSE_PATH_SEPARATOR"] {
            environment[name] = nil
        }
        environment["PWD"] = Deploy.root.path
        return environment.merging(extra) { $1 }
    }

    func testComposeAcceptsTheFile() throws {
        let tools = Self.composeTools()
        guard !tools.isEmpty else {
            XCTFail("""
                neither `docker-compose` nor `docker compose` is installed, so the compose file cannot be validated: \
                install docker-compose (apt-get install docker-compose; .ci/run installs it)
                """)
            return
        }
        for tool in tools {
            for variant in Self.variants {
                let arguments = try Self.invocation(of: tool, variant.arguments + ["config", "-q"], overrides: variant.overrides)
                let result = try runCommand(tool[0], arguments, in: Deploy.root,
                                            environment: Self.environment(adding: variant.environment))
                XCTAssertEqual(result.status, 0, """
                    `\(tool[0]) \(arguments.joined(separator: " "))` (\(variant.label)) rejected the file:
                    \(result.stderr)
                    """)
            }
        }
    }

    /// The other tests read the file with Yams; this one makes sure Yams resolves the anchors and
    /// `<<` merges exactly as Compose does, by comparing with Compose's own rendering.
    func testYamsReadsTheFileAsComposeDoes() throws {
        guard let tool = Self.composeTools().first else {
            throw XCTSkip("no Compose front end; testComposeAcceptsTheFile reports it")
        }
        let arguments = try Self.invocation(of: tool, Self.allProfiles + ["config"])
        // The file uses no variable that is not defaulted, so an empty environment renders the
        // same on both sides.
        var environment = Self.environment(adding: [:])
        environment["PWD"] = nil
        let result = try runCommand(tool[0], arguments, in: Deploy.root, environment: environment)
        guard result.status == 0 else {
            XCTFail("compose config failed: \(result.stderr)")
            return
        }
        guard let rendered = YAMLValue.mapping(YAMLValue.mapping(try Yams.load(yaml: result.stdout))?["services"]) else {
            XCTFail("compose config printed no services")
            return
        }
        let ours = try Deploy.services()
        XCTAssertEqual(Set(rendered.keys), Set(ours.keys), "services as Compose sees them")
        for (name, service) in ours {
            guard let body = YAMLValue.mapping(rendered[name]) else { continue }
            let theirs = ComposeService(name: name, body: body)
            XCTAssertEqual(service.environment, theirs.environment, "environment of \(name)")
            XCTAssertEqual(service.invocation, theirs.invocation, "entrypoint + command of \(name)")
            XCTAssertEqual(service.dependencies, theirs.dependencies, "depends_on of \(name)")
            XCTAssertEqual(service.healthcheckTest, theirs.healthcheckTest, "healthcheck of \(name)")
            XCTAssertEqual(service.image, theirs.image, "image of \(name)")
        }
    }
}
