import DevClusterAPI
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the built `dev-cluster` executable as a child process for one test: a fresh temp
/// directory, control API on a free port, and the fault-injection calls as methods.
///
///     let cluster = try DevClusterHarness()
///     defer { cluster.stop() }
///     try cluster.pause(broker: 1)
///
/// The child also gets `--exit-with-parent`, so even a crashed test run leaves no cluster behind.
final class DevClusterHarness {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let directory: URL
    let bootstrap: String
    let controlURL: String
    let bootstrapFile: URL
    let controlFile: URL
    private let child: ChildProcess
    private var exitStatus: Int32?

    /// - Parameters:
    ///   - arguments: extra dev-cluster flags (e.g. `["--pause-rtt-ms", "5000"]`).
    ///   - startupTimeout: bound on the wait for the bootstrap and control files.
    init(brokers: Int? = nil, partitions: Int? = nil, arguments: [String] = [],
         startupTimeout: TimeInterval = 30) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("dev-cluster-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        bootstrapFile = directory.appendingPathComponent("bootstrap")
        controlFile = directory.appendingPathComponent("control")

        var args = ["--control-port", "0", "--bootstrap-file", bootstrapFile.path,
                    "--control-file", controlFile.path, "--exit-with-parent"]
        if let brokers { args += ["--brokers", "\(brokers)"] }
        if let partitions { args += ["--partitions", "\(partitions)"] }
        child = try ChildProcess(executable: try Self.binary(), arguments: args + arguments,
                                 directory: directory, name: "dev-cluster")

        let deadline = Date().addingTimeInterval(startupTimeout)
        var files: (String, String)?
        while files == nil {
            if let boot = Self.line(in: bootstrapFile), let ctl = Self.line(in: controlFile) {
                files = (boot, ctl)
            } else if !child.isRunning {
                let status = child.wait(timeout: 1).status
                throw Failure(description: "dev-cluster exited with status \(status) before it was ready; stderr:\n\(child.stderr)")
            } else if Date() > deadline {
                child.kill()
                throw Failure(description: "dev-cluster not ready after \(startupTimeout) s (no bootstrap/control file in \(directory.path)); stderr:\n\(child.stderr)")
            } else {
                usleep(20_000)
            }
        }
        (bootstrap, controlURL) = files!
    }

    deinit { stop() }

    /// The built executable: next to the test bundle (`.build/<triple>/debug/dev-cluster`),
    /// or `DEV_CLUSTER_BINARY`.
    static func binary() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["DEV_CLUSTER_BINARY"] {
            return URL(fileURLWithPath: path)
        }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // macOS runs the tests inside Foo.xctest/Contents/MacOS.
        if dir.path.contains(".xctest/") {
            while dir.pathExtension != "xctest" && dir.path != "/" { dir.deleteLastPathComponent() }
            dir.deleteLastPathComponent()
        }
        let candidate = dir.appendingPathComponent("dev-cluster")
        guard FileManager.default.isExecutableFile(atPath: candidate.path) else {
            throw Failure(description: "no dev-cluster executable at \(candidate.path): run `swift build --product dev-cluster` first (or set DEV_CLUSTER_BINARY)")
        }
        return candidate
    }

    private static func line(in file: URL) -> String? {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
        let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return line.isEmpty ? nil : line
    }

    /// What the cluster logged so far (for failure messages); kept after stop().
    var stderr: String { finalStderr ?? child.stderr }
    private var finalStderr: String?

    // MARK: control API

    func status() throws -> DevClusterStatus {
        try decode(DevClusterStatus.self, try call("GET", "/status"))
    }

    @discardableResult func pause(broker: Int, ms: Int? = nil) throws -> DevClusterActionResult {
        try action("/brokers/\(broker)/pause" + (ms.map { "?ms=\($0)" } ?? ""))
    }

    @discardableResult func resume(broker: Int) throws -> DevClusterActionResult {
        try action("/brokers/\(broker)/resume")
    }

    /// `broker` is an id or "all"; 0 ms restores.
    @discardableResult func setRtt(broker: String, ms: Int) throws -> DevClusterActionResult {
        try action("/brokers/\(broker)/rtt?ms=\(ms)")
    }

    @discardableResult func down(broker: Int) throws -> DevClusterActionResult {
        try action("/brokers/\(broker)/down")
    }

    @discardableResult func up(broker: Int) throws -> DevClusterActionResult {
        try action("/brokers/\(broker)/up")
    }

    @discardableResult func evacuate(broker: Int, groups: [String] = []) throws -> DevClusterActionResult {
        try action("/brokers/\(broker)/evacuate" + query(groups))
    }

    @discardableResult func rebalanceLeaders(groups: [String] = []) throws -> DevClusterActionResult {
        try action("/leaders/rebalance" + query(groups))
    }

    private func query(_ groups: [String]) -> String {
        groups.isEmpty ? "" : "?" + groups.map { "group=\($0)" }.joined(separator: "&")
    }

    private func action(_ path: String) throws -> DevClusterActionResult {
        try decode(DevClusterActionResult.self, try call("POST", path))
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResult) throws -> T {
        guard response.status == 200 else {
            throw Failure(description: "HTTP \(response.status): \(response.body)")
        }
        return try JSONDecoder().decode(T.self, from: Data(response.body.utf8))
    }

    struct HTTPResult {
        let status: Int
        let body: String
    }

    /// Any control call, errors included (for tests of the problem responses).
    func call(_ method: String, _ path: String) throws -> HTTPResult {
        let result = try ChildProcess.run(
            "/usr/bin/curl",
            ["-sS", "-X", method, "--max-time", "15", "-w", "\n%{http_code}", controlURL + path],
            timeout: 20)
        guard result.status == 0, let newline = result.stdout.lastIndex(of: "\n"),
              let code = Int(result.stdout[result.stdout.index(after: newline)...]) else {
            throw Failure(description: "curl \(method) \(path) failed (\(result.status)): \(result.stderr)")
        }
        return HTTPResult(status: code, body: String(result.stdout[..<newline]))
    }

    // MARK: lifecycle

    /// SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit status (128+signal if
    /// killed by one). Idempotent; also removes the temp directory.
    @discardableResult func stop(timeout: TimeInterval = 10) -> Int32 {
        if let exitStatus { return exitStatus }
        if child.isRunning { child.signal(SIGTERM) }
        var result = child.wait(timeout: timeout)
        if result.timedOut { result = child.wait(timeout: 5) }  // wait() killed it
        exitStatus = result.status
        finalStderr = child.stderr
        try? FileManager.default.removeItem(at: directory)
        return result.status
    }
}

// MARK: - child processes and kcat

/// Outside ChildProcess, whose own `kill()` would shadow the C function.
private func sendSignal(_ pid: Int32, _ sig: Int32) {
    _ = kill(pid, sig)
}

struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
    let timedOut: Bool
    let seconds: TimeInterval
}

/// A child process whose output goes to files (no pipe can fill up and block it).
final class ChildProcess {
    private let process = Process()
    private let outFile: URL
    private let errFile: URL
    private let started = Date()
    private let ownsDirectory: URL?

    /// `environment`: variables added to (or replacing) the test process's own.
    init(executable: URL, arguments: [String], input: String? = nil, directory: URL? = nil,
         name: String = "child", environment: [String: String] = [:]) throws {
        let dir: URL
        if let directory {
            dir = directory
            ownsDirectory = nil
        } else {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("proc-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            ownsDirectory = dir
        }
        outFile = dir.appendingPathComponent("\(name).stdout")
        errFile = dir.appendingPathComponent("\(name).stderr")
        _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        process.currentDirectoryURL = dir
        process.standardOutput = try FileHandle(forWritingTo: outFile)
        process.standardError = try FileHandle(forWritingTo: errFile)
        if let input {
            let inFile = dir.appendingPathComponent("\(name).stdin")
            try Data(input.utf8).write(to: inFile)
            process.standardInput = try FileHandle(forReadingFrom: inFile)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
    }

    deinit {
        if process.isRunning { kill() }
        if let ownsDirectory { try? FileManager.default.removeItem(at: ownsDirectory) }
    }

    var isRunning: Bool { process.isRunning }
    var pid: Int32 { process.processIdentifier }
    /// Decoded leniently: binary output (e.g. protobuf payloads printed by kcat) keeps its text parts.
    var stdout: String { (try? Data(contentsOf: outFile)).map { String(decoding: $0, as: UTF8.self) } ?? "" }
    var stderr: String { (try? Data(contentsOf: errFile)).map { String(decoding: $0, as: UTF8.self) } ?? "" }

    func signal(_ sig: Int32) {
        if process.isRunning { sendSignal(process.processIdentifier, sig) }
    }

    func kill() {
        signal(SIGKILL)
        process.waitUntilExit()
    }

    /// Waits up to `timeout`; on timeout kills the process (SIGKILL) and says so.
    func wait(timeout: TimeInterval) -> ProcessResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        let timedOut = process.isRunning
        if timedOut { kill() }
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal
            ? 128 + process.terminationStatus : process.terminationStatus
        return ProcessResult(status: status, stdout: stdout, stderr: stderr, timedOut: timedOut,
                             seconds: Date().timeIntervalSince(started))
    }

    static func run(_ executable: String, _ arguments: [String], input: String? = nil,
                    timeout: TimeInterval) throws -> ProcessResult {
        try ChildProcess(executable: URL(fileURLWithPath: executable), arguments: arguments, input: input)
            .wait(timeout: timeout)
    }
}

/// kcat (/usr/bin/kcat) as an independent client: a different code path from our Kafka library.
enum Kcat {
    static let path = "/usr/bin/kcat"

    /// Client settings that keep a test's waits short when brokers misbehave.
    static let quickClient = ["-X", "reconnect.backoff.max.ms=500", "-X", "socket.timeout.ms=10000"]

    static func run(_ arguments: [String], input: String? = nil, timeout: TimeInterval = 20) throws -> ProcessResult {
        try ChildProcess.run(path, arguments, input: input, timeout: timeout)
    }

    /// Starts kcat without waiting, e.g. a producer that a paused broker holds.
    static func start(_ arguments: [String], input: String? = nil) throws -> ChildProcess {
        try ChildProcess(executable: URL(fileURLWithPath: path), arguments: arguments, input: input, name: "kcat")
    }

    struct Metadata: Decodable {
        struct Broker: Decodable { let id: Int; let name: String }
        struct Topic: Decodable { let topic: String; let partitions: [Partition] }
        struct Partition: Decodable { let partition: Int; let leader: Int }
        let brokers: [Broker]
        let topics: [Topic]

        func leaders(of topic: String) -> [Int]? {
            topics.first { $0.topic == topic }?.partitions.sorted { $0.partition < $1.partition }.map(\.leader)
        }
    }

    /// `kcat -L -J`: brokers, topics and leaders as the cluster reports them to clients.
    static func metadata(_ bootstrap: String, topic: String? = nil) throws -> Metadata {
        let result = try run(["-L", "-J", "-b", bootstrap, "-m", "10"] + quickClient + (topic.map { ["-t", $0] } ?? []),
                             timeout: 30)
        guard result.status == 0 else {
            throw DevClusterHarness.Failure(description: "kcat -L failed (\(result.status)): \(result.stderr)")
        }
        return try JSONDecoder().decode(Metadata.self, from: Data(result.stdout.utf8))
    }

    /// Produces `lines` (one message each) to one partition and waits for the acks.
    static func produce(_ bootstrap: String, topic: String, partition: Int, lines: [String],
                        timeout: TimeInterval = 20) throws -> ProcessResult {
        try run(["-P", "-b", bootstrap, "-t", topic, "-p", "\(partition)",
                 "-X", "message.timeout.ms=\(Int(timeout * 1000) - 2000)"] + quickClient,
                input: lines.joined(separator: "\n") + "\n", timeout: timeout)
    }

    /// Every message of one partition, from the beginning to the current end.
    static func consume(_ bootstrap: String, topic: String, partition: Int,
                        timeout: TimeInterval = 20) throws -> [String] {
        let result = try run(["-C", "-b", bootstrap, "-t", topic, "-p", "\(partition)", "-o", "beginning",
                              "-e", "-q", "-f", "%s\n"] + quickClient, timeout: timeout)
        guard result.status == 0 else {
            throw DevClusterHarness.Failure(description: "kcat -C failed (\(result.status)): \(result.stderr)")
        }
        return result.stdout.split(separator: "\n").map(String.init)
    }
}
