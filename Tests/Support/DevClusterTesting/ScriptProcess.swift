import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a script with posix_spawn and waitpid. Foundation's Process learns that a child exited
/// from a descriptor the child inherits, and a script that leaves services running in the
/// background passes that descriptor on to them: Process would wait for the services too.
final class ScriptProcess {
    let pid: pid_t
    private let started = Date()
    private let directory: URL
    private var status: Int32?

    private init(_ script: String, _ arguments: [String], environment extra: [String: String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("script-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory.appendingPathComponent("stdout").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, directory.appendingPathComponent("stderr").path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let argv = (["/bin/bash", script] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var environment = ProcessInfo.processInfo.environment
        environment.merge(extra) { $1 }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, envp)
        guard spawned == 0 else { throw DevClusterHarness.Failure(description: "posix_spawn \(script) failed: \(spawned)") }
        self.pid = pid
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Runs the script to its end (or SIGKILLs it after `timeout`).
    static func run(_ script: String, _ arguments: [String], timeout: TimeInterval,
                    environment: [String: String] = [:]) throws -> ProcessResult {
        try ScriptProcess(script, arguments, environment: environment).wait(timeout: timeout)
    }

    /// Starts the script and returns at once.
    static func start(_ script: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ScriptProcess {
        try ScriptProcess(script, arguments, environment: environment)
    }

    func signal(_ signal: Int32) {
        if status == nil { kill(pid, signal) }
    }

    /// Waits up to `timeout`, then SIGKILLs the script and says it timed out.
    func wait(timeout: TimeInterval) -> ProcessResult {
        var timedOut = false
        if status == nil {
            var raw: Int32 = 0
            let deadline = Date().addingTimeInterval(timeout)
            while waitpid(pid, &raw, WNOHANG) == 0 {
                if Date() > deadline {
                    timedOut = true
                    kill(pid, SIGKILL)
                    waitpid(pid, &raw, 0)
                    break
                }
                usleep(50_000)
            }
            let exited = raw & 0x7f == 0
            status = exited ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        }
        func read(_ name: String) -> String {
            (try? Data(contentsOf: directory.appendingPathComponent(name))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return ProcessResult(status: status!, stdout: read("stdout"), stderr: read("stderr"), timedOut: timedOut,
                             seconds: Date().timeIntervalSince(started))
    }
}
