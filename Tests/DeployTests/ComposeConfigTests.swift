import Foundation
import ServiceKit
import XCTest
import Yams

/// Compose itself must accept the file: `docker compose config` where the plugin is installed,
/// and `docker-compose config` (Debian's v1.29, all CI has). The stack needs Compose v2 for its
/// top-level `name`, which 1.29 predates, so 1.29 is given the file without that one line and
/// checks everything else. No Docker engine is needed for either.
final class ComposeConfigTests: XCTestCase {
    /// The documented ways to run the file: plain, every profile, and the scale-out variant
    /// (ephemeral host ports) from the comments and deploy/README.md.
    static let variants: [(label: String, arguments: [String], environment: [String: String])] = [
        ("default", [], [:]),
        ("all profiles", ["--profile", "load", "--profile", "chaos", "--profile", "metrics"], [:]),
        ("scaled (ephemeral host ports)", [], [
            "ORDER_PUBLISH": "127.0.0.1::8080", "INVENTORY_PUBLISH": "127.0.0.1::8081",
            "PAYMENT_PUBLISH": "127.0.0.1::8082", "NOTIFICATION_PUBLISH": "127.0.0.1::8083",
        ]),
    ]

    /// How to hand the file to a Compose front end: v1 reads it from stdin, less the top-level
    /// `name` (relative paths still resolve against deploy/); v2 reads the file itself.
    static func invocation(of tool: [String], _ arguments: [String]) throws -> (arguments: [String], input: String?) {
        if tool.count == 1 {
            return (["--project-directory", "deploy", "-f", "-"] + arguments, try Deploy.composeTextWithoutName())
        }
        return (Array(tool.dropFirst()) + ["-f", "deploy/docker-compose.yml"] + arguments, nil)
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
                let (arguments, input) = try Self.invocation(of: tool, variant.arguments + ["config"])
                let result = try runCommand(tool[0], arguments, in: Deploy.root,
                                            environment: Self.environment(adding: variant.environment), input: input)
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
        let (arguments, input) = try Self.invocation(
            of: tool, ["--profile", "load", "--profile", "chaos", "--profile", "metrics", "config"])
        // The file uses no variable that is not defaulted, so an empty environment renders the
        // same on both sides.
        var environment = Self.environment(adding: [:])
        environment["PWD"] = nil
        let result = try runCommand(tool[0], arguments, in: Deploy.root, environment: environment, input: input)
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
