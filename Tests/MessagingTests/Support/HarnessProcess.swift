@testable import DevClusterTesting
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The built messaging-harness executable, run as a real process (crash tests).
enum HarnessProcess {
    static func binary() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["MESSAGING_HARNESS_BINARY"] {
            return URL(fileURLWithPath: path)
        }
        let devCluster = try DevClusterHarness.binary()
        let directory = devCluster.deletingLastPathComponent()
        for name in ["messaging-harness", "MessagingHarness"] {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw DevClusterHarness.Failure(description: "no messaging-harness executable in \(directory.path): run `swift build --product MessagingHarness` first (or set MESSAGING_HARNESS_BINARY)")
    }

    /// Starts `messaging-harness run` against the cluster and the store.
    static func start(cluster: DevClusterHarness, database: String, group: String, extra: [String] = []) throws -> ChildProcess {
        try ChildProcess(executable: try binary(),
                         arguments: ["run", "--database", database, "--bootstrap-file", cluster.bootstrapFile.path, "--dev-cluster-tuning",
                                     "--group", group, "--log-level", "notice"] + extra,
                         name: "harness-\(UUID().uuidString.prefix(6))")
    }
}
