import Foundation
import XCTest
import Yams

/// The deploy folder as the tests see it: paths found from this file's location, the compose
/// file parsed with Yams (anchors and `<<` merges resolved, as Compose does), and small readers
/// for the loosely typed YAML.
enum Deploy {
    /// Tests/DeployTests/DeployFixture.swift -> the repository root.
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let folder = root.appendingPathComponent("deploy")
    static let composeFile = folder.appendingPathComponent("docker-compose.yml")
    static let dockerfile = folder.appendingPathComponent("Dockerfile")
    static let seedFile = folder.appendingPathComponent("seed.json")
    static let postgresInit = folder.appendingPathComponent("postgres/init.sql")
    static let prometheusConfig = folder.appendingPathComponent("prometheus.yml")
    static let ciRun = root.appendingPathComponent(".ci/run")

    static func text(_ url: URL) throws -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw Failure("cannot read \(url.path): \(error)")
        }
    }

    static func yaml(_ url: URL) throws -> [String: Any] {
        let source = try text(url)
        guard let document = try Yams.load(yaml: source), let mapping = YAMLValue.mapping(document) else {
            throw Failure("\(url.lastPathComponent) is not a YAML mapping")
        }
        return mapping
    }

    /// The compose file less its top-level `name` line, for docker-compose 1.29, which predates it.
    static func composeTextWithoutName() throws -> String {
        let lines = try text(composeFile).split(separator: "\n", omittingEmptySubsequences: false)
        let kept = lines.filter { !$0.hasPrefix("name:") }
        guard kept.count == lines.count - 1 else {
            throw Failure("docker-compose.yml should have exactly one top-level `name:` line, has \(lines.count - kept.count)")
        }
        return kept.joined(separator: "\n")
    }

    /// The compose file's `services`, by name.
    static func services() throws -> [String: ComposeService] {
        guard let services = YAMLValue.mapping(try yaml(composeFile)["services"]) else {
            throw Failure("docker-compose.yml has no services mapping")
        }
        var result: [String: ComposeService] = [:]
        for (name, body) in services {
            guard let body = YAMLValue.mapping(body) else { throw Failure("service \(name) is not a mapping") }
            result[name] = ComposeService(name: name, body: body)
        }
        return result
    }

    static func service(_ name: String, in services: [String: ComposeService]) throws -> ComposeService {
        guard let service = services[name] else {
            throw Failure("docker-compose.yml has no service '\(name)'; it has: \(services.keys.sorted().joined(separator: ", "))")
        }
        return service
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Readers for values Yams gives back as `Any`.
enum YAMLValue {
    static func mapping(_ value: Any?) -> [String: Any]? {
        guard let raw = value as? [AnyHashable: Any] else { return nil }
        var result: [String: Any] = [:]
        for (key, element) in raw { result[scalar(key.base) ?? "\(key)"] = element }
        return result
    }

    static func sequence(_ value: Any?) -> [Any]? { value as? [Any] }

    /// A scalar as Compose reads it: strings stay, numbers and booleans become their text.
    static func scalar(_ value: Any?) -> String? {
        switch value {
        case let string as String: string
        case let bool as Bool: bool ? "true" : "false"
        case let int as Int: String(int)
        case let double as Double: String(double)
        default: nil
        }
    }

    /// A string or a list of strings (Compose accepts both for command, entrypoint, healthcheck).
    static func strings(_ value: Any?) -> [String] {
        if let text = scalar(value) { return [text] }
        return sequence(value)?.compactMap { scalar($0) } ?? []
    }
}

/// What Compose substitutes when the variable is unset: `${NAME:-default}` and `${NAME-default}`
/// become the default, `$$` a single dollar. The stack must work with nothing exported.
func withComposeDefaults(_ text: String) -> String {
    var result = ""
    var rest = Substring(text)
    while let dollar = rest.firstIndex(of: "$") {
        result += rest[..<dollar]
        let after = rest[rest.index(after: dollar)...]
        if after.first == "$" {
            result += "$"
            rest = after.dropFirst()
        } else if after.first == "{", let close = after.firstIndex(of: "}") {
            let inner = after[after.index(after: after.startIndex)..<close]
            if let range = inner.range(of: ":-") ?? inner.range(of: "-") {
                result += inner[range.upperBound...]
            }
            rest = after[after.index(after: close)...]
        } else {
            result += "$"
            rest = after
        }
    }
    return result + rest
}

struct ComposeService {
    let name: String
    let body: [String: Any]

    var image: String? { YAMLValue.scalar(body["image"]).map(withComposeDefaults) }
    var buildTarget: String? { YAMLValue.scalar(YAMLValue.mapping(body["build"])?["target"]) }
    var hasBuild: Bool { body["build"] != nil }
    var profiles: [String] { YAMLValue.strings(body["profiles"]) }

    /// `environment` as a mapping or as a list of NAME=value; values with Compose defaults applied.
    var environment: [String: String] {
        var result: [String: String] = [:]
        if let mapping = YAMLValue.mapping(body["environment"]) {
            for (key, value) in mapping { result[key] = YAMLValue.scalar(value).map(withComposeDefaults) ?? "" }
        } else {
            for entry in YAMLValue.strings(body["environment"]) {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                result[parts[0]] = parts.count > 1 ? withComposeDefaults(parts[1]) : ""
            }
        }
        return result
    }

    /// Entrypoint followed by command, as one argument list.
    var invocation: [String] {
        (YAMLValue.strings(body["entrypoint"]) + YAMLValue.strings(body["command"])).map(withComposeDefaults)
    }

    /// depends_on as service -> condition (the short list form means service_started).
    var dependencies: [String: String] {
        if let mapping = YAMLValue.mapping(body["depends_on"]) {
            return mapping.mapValues { YAMLValue.scalar(YAMLValue.mapping($0)?["condition"]) ?? "service_started" }
        }
        return Dictionary(uniqueKeysWithValues: YAMLValue.strings(body["depends_on"]).map { ($0, "service_started") })
    }

    var healthcheckTest: [String] { YAMLValue.strings(YAMLValue.mapping(body["healthcheck"])?["test"]) }

    /// Short-form volumes, `source:target[:mode]`.
    var volumes: [(source: String, target: String)] {
        YAMLValue.strings(body["volumes"]).map(withComposeDefaults).compactMap { entry in
            let parts = entry.split(separator: ":").map(String.init)
            return parts.count >= 2 ? (parts[0], parts[1]) : nil
        }
    }

    var ports: [String] { YAMLValue.strings(body["ports"]).map(withComposeDefaults) }
}

/// Runs a program to completion; output goes through files so a chatty child cannot block.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

func runCommand(_ executable: String, _ arguments: [String], in directory: URL,
                environment: [String: String]? = nil, input: String? = nil,
                timeout: TimeInterval = 120) throws -> CommandResult {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("stdout")
    let errURL = scratch.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = directory
    if let environment { process.environment = environment }
    process.standardOutput = out
    process.standardError = err
    let stdin = Pipe()
    process.standardInput = stdin
    let done = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in done.signal() }
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try? stdin.fileHandleForWriting.close()
    if done.wait(timeout: .now() + timeout) == .timedOut {
        process.terminate()
        done.wait()
        throw Failure("\(executable) \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s")
    }
    try? out.close()
    try? err.close()
    return CommandResult(status: process.terminationStatus,
                         stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
}

/// The first executable of this name on PATH.
func findOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") where !directory.isEmpty {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
