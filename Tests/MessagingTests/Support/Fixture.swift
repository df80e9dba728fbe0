@testable import DevClusterTesting
import Foundation
import Messaging
import Persistence
import StoreFixtures
import XCTest

/// A dev cluster and a store for one test, torn down afterwards whatever happens.
func withClusterAndStore(_ backend: Backend, migrations: [Migration] = AppliedTable.migrations,
                         _ body: (DevClusterHarness, TestStore) async throws -> Void) async throws {
    let cluster = try DevClusterHarness()
    let store: TestStore
    do {
        store = try await TestStore.make(backend, migrations: migrations)
    } catch {
        cluster.stop()
        throw error
    }
    do {
        try await body(cluster, store)
    } catch {
        await store.tearDown()
        cluster.stop()
        throw error
    }
    await store.tearDown()
    cluster.stop()
}

func outboxCount(_ database: any SQLDatabase) async throws -> Int {
    let rows = try await database.read { try $0.query("SELECT count(*) AS n FROM outbox", []) }
    return Int(rows.first?.int("n") ?? -1)
}
