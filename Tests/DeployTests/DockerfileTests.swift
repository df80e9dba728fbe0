import Foundation
import ServiceKit
import XCTest

/// A Dockerfile as a list of stages, enough to ask what each stage installs and copies.
struct Dockerfile {
    struct Instruction {
        let keyword: String
        let arguments: String
    }

    struct Stage {
        let name: String?
        let base: String
        var instructions: [Instruction] = []

        var text: String { instructions.map { "\($0.keyword) \($0.arguments)" }.joined(separator: "\n") }
    }

    var stages: [Stage] = []

    static func parse(_ source: String) throws -> Dockerfile {
        // Logical lines: comments dropped (also inside continuations, as Docker does), `\` joins.
        var logical: [String] = []
        var pending = ""
        for raw in source.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
                continue
            }
            pending += line
            if !pending.trimmingCharacters(in: .whitespaces).isEmpty { logical.append(pending) }
            pending = ""
        }

        var file = Dockerfile()
        for line in logical {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            let keyword = parts[0].uppercased()
            let arguments = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            if keyword == "FROM" {
                let words = arguments.split(separator: " ").map(String.init).filter { !$0.hasPrefix("--") }
                guard let base = words.first else { throw Failure("FROM without an image") }
                let name = words.count >= 3 && words[1].uppercased() == "AS" ? words[2] : nil
                file.stages.append(Stage(name: name, base: base))
            } else if keyword == "ARG" && file.stages.isEmpty {
                continue   // global build arguments
            } else {
                guard !file.stages.isEmpty else { throw Failure("\(keyword) before the first FROM") }
                file.stages[file.stages.count - 1].instructions.append(Instruction(keyword: keyword, arguments: arguments))
            }
        }
        return file
    }

    func stage(named name: String) -> Stage? { stages.first { $0.name == name } }

    /// The stage, the stage it is built FROM, and so on up to an external image.
    func lineage(of stage: Stage) -> [Stage] {
        var chain = [stage]
        while let parent = self.stage(named: chain.last!.base), chain.count <= stages.count { chain.append(parent) }
        return chain
    }

    /// The external image a stage ultimately starts from.
    func rootImage(of stage: Stage) -> String { lineage(of: stage).last!.base }

    /// Packages every `apt-get install` of the stage and of the stages it builds on installs.
    func aptPackages(of stage: Stage) -> Set<String> {
        var packages = Set<String>()
        for ancestor in lineage(of: stage) {
            for instruction in ancestor.instructions where instruction.keyword == "RUN" {
                let words = instruction.arguments.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                var installing = false
                for (index, word) in words.enumerated() {
                    if ["&&", "||", ";", "|"].contains(word) { installing = false; continue }
                    // `apt-get [options] install`: the nearest word before that is not an option.
                    if word == "install", let tool = words[..<index].last(where: { !$0.hasPrefix("-") }),
                       ["apt-get", "apt"].contains(tool) {
                        installing = true
                        continue
                    }
                    if installing && !word.hasPrefix("-") {
                        packages.insert(word.trimmingCharacters(in: CharacterSet(charactersIn: ";")))
                        if word.hasSuffix(";") { installing = false }
                    }
                }
            }
        }
        return packages
    }
}

final class DockerfileTests: XCTestCase {
    /// Packages .ci/run installs only for tests and tooling, never to compile: the generated
    /// protobuf code is committed, kcat/PostgreSQL/shellcheck/docker-compose serve the tests,
    /// iptables/faketime/jq the fault matrix (deploy/chaos.sh, run on the local stack only),
    /// a JRE the brokers' TLS layer (Java's, as Kafka's; Tests/Tools/KafkaTLSServer.java),
    /// prometheus the alert rules' promtool checks, chromium and its driver the console's
    /// browser test (ConsoleBrowserTests).
    /// Anything else .ci/run installs is taken to be a build dependency the image needs too.
    static let testOnlyPackages: Set<String> = ["kcat", "protobuf-compiler", "postgresql", "shellcheck", "curl", "docker-compose",
                                                "iptables", "faketime", "jq", "openjdk-17-jre-headless",
                                                "prometheus", "chromium", "chromium-driver"]

    /// What compose runs from the image: the four services, topic-init's kafka-tool, loadgen.
    static let products = ServiceName.allCases.map(\.executable) + ["kafka-tool", "loadgen"]

    var dockerfile = Dockerfile()

    override func setUpWithError() throws {
        dockerfile = try Dockerfile.parse(Deploy.text(Deploy.dockerfile))
    }

    func builder() throws -> Dockerfile.Stage {
        try XCTUnwrap(dockerfile.stages.first { dockerfile.rootImage(of: $0).hasPrefix("swift:") && $0.text.contains("swift build") },
                      "a stage FROM the official swift image runs `swift build`")
    }

    func ciPackages() throws -> [String] {
        let script = try Deploy.text(Deploy.ciRun)
        guard let start = script.range(of: "packages=("), let end = script[start.upperBound...].firstIndex(of: ")") else {
            throw Failure(".ci/run has no packages=(...) list")
        }
        return script[start.upperBound..<end].split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    func testBuilderUsesSwift6OnBookwormWithTheBuildPackagesOfCI() throws {
        let builder = try builder()
        let image = dockerfile.rootImage(of: builder)
        let tag = image.split(separator: ":").last.map(String.init) ?? ""
        XCTAssertTrue(tag.hasPrefix("6."), "builder image \(image): Swift 6.x")
        XCTAssertTrue(tag.contains("bookworm"), "builder image \(image): bookworm, the Debian release CI and the runtime use")

        let installed = dockerfile.aptPackages(of: builder)
        XCTAssertTrue(installed.contains("librdkafka-dev"), "the builder must install librdkafka-dev (CRdKafka); installs \(installed.sorted())")
        let ci = try ciPackages()
        XCTAssertTrue(ci.contains("docker-compose"), ".ci/run must install docker-compose for ComposeConfigTests")
        for package in ci where !Self.testOnlyPackages.contains(package) {
            XCTAssertTrue(installed.contains(package), """
                .ci/run installs \(package) and it is not known to be test-only: the builder stage must install it \
                too (or add it to DockerfileTests.testOnlyPackages with the reason)
                """)
        }
    }

    func testBuilderBuildsEveryProductStaticallyInRelease() throws {
        let text = try builder().text
        for flag in ["swift build", "-c release", "--static-swift-stdlib"] {
            XCTAssertTrue(text.contains(flag), "the builder's swift build needs \(flag)")
        }
        for product in Self.products {
            XCTAssertTrue(text.range(of: "\\b\(product)\\b", options: .regularExpression) != nil,
                          "the builder must build \(product)")
        }
    }

    func testRuntimeIsSlimBookwormWithTheSharedLibraries() throws {
        let runtime = try XCTUnwrap(dockerfile.stage(named: "runtime"), "a stage named runtime (compose builds target: runtime)")
        XCTAssertEqual(dockerfile.rootImage(of: runtime), "debian:bookworm-slim")
        let installed = dockerfile.aptPackages(of: runtime)
        for package in ["librdkafka1", "ca-certificates", "curl", "openssl"] {   // openssl: pki-init (make-pki.sh)
            XCTAssertTrue(installed.contains(package), "the runtime must install \(package); installs \(installed.sorted())")
        }
        XCTAssertFalse(installed.contains("librdkafka-dev"), "headers belong in the builder only")
        let builderName = try XCTUnwrap(try builder().name)
        XCTAssertTrue(runtime.instructions.contains { $0.keyword == "COPY" && $0.arguments.contains("--from=\(builderName)") },
                      "the runtime copies the binaries from the \(builderName) stage")
        XCTAssertEqual(dockerfile.stages.last?.name, "runtime", "runtime last: a plain `docker build` gives the services image")
    }

    func testChaosImageHasTheDockerCLI() throws {
        let chaos = try XCTUnwrap(dockerfile.stage(named: "chaos"), "compose's chaos service builds target: chaos")
        let text = dockerfile.lineage(of: chaos).map(\.text).joined(separator: "\n")
        XCTAssertTrue(text.contains("cli-plugins/docker-compose"), "chaos.sh needs `docker compose`")
        XCTAssertTrue(text.contains("/usr/local/bin/docker"), "chaos.sh needs the docker CLI")
        XCTAssertTrue(dockerfile.rootImage(of: chaos).hasPrefix("debian:"), "chaos.sh is a bash script using GNU tools")
    }

    func testExternalImagesArePinned() throws {
        for stage in dockerfile.stages where dockerfile.stage(named: stage.base) == nil {
            let tag = stage.base.split(separator: "/").last?.split(separator: ":").dropFirst().first.map(String.init)
            XCTAssertNotNil(tag, "FROM \(stage.base) has no tag")
            XCTAssertNotEqual(tag, "latest", "FROM \(stage.base) is not pinned")
        }
    }

    func testDockerignoreKeepsTheBuildFolderOut() throws {
        let ignore = try Deploy.text(Deploy.folder.appendingPathComponent("Dockerfile.dockerignore"))
        let patterns = Set(ignore.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        XCTAssertTrue(patterns.contains(".build"), "a gigabyte .build/ must not be sent as build context")
        XCTAssertTrue(patterns.contains(".git"))
    }
}
