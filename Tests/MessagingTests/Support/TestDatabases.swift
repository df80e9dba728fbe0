import Foundation
import Logging
import Messaging
import Persistence
import StoreFixtures
import XCTest

/// The messaging tests' stores: the shared fixtures (StoreFixtures), migrated with the
/// messaging tables unless a test says otherwise.
extension TestStore {
    static func make(_ backend: Backend, migrations: [Migration] = MessagingSchema.migrations) async throws -> TestStore {
        try await backend.makeStore(migrations: migrations)
    }
}

/// Runs `body` against a fresh messaging store of each backend, tearing it down afterwards.
func forEachBackend(_ backends: [Backend] = Backend.allCases,
                    _ body: (TestStore) async throws -> Void) async throws {
    try await StoreFixtures.forEachBackend(backends, migrations: MessagingSchema.migrations, body)
}

struct TestTimeout: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` until it holds; fails after `timeout` (a bound, never a timing assertion).
func eventually(_ what: String, timeout: TimeInterval = 60, interval: Duration = .milliseconds(50),
                _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try await condition() { return }
        if Date() > deadline { throw TestTimeout(what: what) }
        try await Task.sleep(for: interval)
    }
}
