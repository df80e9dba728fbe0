import Foundation
@testable import DevClusterTesting

#if canImport(Glibc)
import Glibc
#endif

/// Runs a script with posix_spawn and waitpid. Foundation's Process learns that a child exited
/// from a descriptor the child inherits, and a script that leaves services running in the
/// background passes that descriptor on to them: Process would wait for the services too.
enum ScriptProcess {
    static func run(_ script: String, _ arguments: [String], timeout: TimeInterval) throws -> ProcessResult {
        let started = Date()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("script-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdout").path
        let err = directory.appendingPathComponent("stderr").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let argv = (["/bin/bash", script] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ)
        guard spawned == 0 else { throw SagaStack.Failure(description: "posix_spawn \(script) failed: \(spawned)") }

        var status: Int32 = 0
        var timedOut = false
        let deadline = Date().addingTimeInterval(timeout)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                timedOut = true
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            usleep(50_000)
        }
        let exited = status & 0x7f == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        func read(_ path: String) -> String {
            (try? Data(contentsOf: URL(fileURLWithPath: path))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        return ProcessResult(status: code, stdout: read(out), stderr: read(err), timedOut: timedOut,
                             seconds: Date().timeIntervalSince(started))
    }
}
