import Logging

/// The migration procedure both backends share: one transaction per migration, which takes
/// the backend's cross-process lock, re-checks `schema_migrations`, applies and records.
enum MigrationRunner {
    /// `lockStatements` open each migration transaction: they take the lock (and may adjust
    /// the session for it).
    static func run(_ migrations: [Migration], on database: some SQLDatabase, lockStatements: [String],
                    createTable: String, logger: Logger) async throws {
        var seen = Set<String>()
        for migration in migrations {
            guard !migration.id.isEmpty else { throw SQLError.configuration("a migration has an empty id") }
            guard seen.insert(migration.id).inserted else {
                throw SQLError.configuration("migration id '\(migration.id)' appears twice")
            }
        }

        do {
            try await database.write { connection in
                for statement in lockStatements { _ = try connection.query(statement) }
                try script(connection).executeScript(createTable)
            }
        } catch let error as SQLError where error.isTransient {
            throw error
        } catch {
            throw SQLError.configuration("cannot create schema_migrations: \(error)")
        }

        // Skips the lock for what is already applied: the common case at every start.
        let applied = try await database.read { connection in
            Set(try connection.query("SELECT id FROM schema_migrations").compactMap { $0.string("id") })
        }

        for migration in migrations where !applied.contains(migration.id) {
            let statements = migration.statements(for: database.dialect)
            let id = migration.id
            do {
                let didApply = try await database.write { connection -> Bool in
                    for statement in lockStatements { _ = try connection.query(statement) }
                    // Another process may have applied it while we waited for the lock.
                    if try !connection.query("SELECT 1 FROM schema_migrations WHERE id = ?", .text(id)).isEmpty {
                        return false
                    }
                    let executor = try script(connection)
                    for statement in statements { try executor.executeScript(statement) }
                    try connection.execute("INSERT INTO schema_migrations (id) VALUES (?)", .text(id))
                    return true
                }
                if didApply { logger.info("applied migration", metadata: ["migration": "\(id)"]) }
            } catch let error as SQLError where error.isTransient {
                throw error
            } catch {
                throw SQLError.configuration("migration '\(id)' failed and was rolled back: \(error)")
            }
        }
    }

    private static func script(_ connection: SQLConnection) throws -> ScriptExecuting {
        guard let executor = connection as? ScriptExecuting else {
            throw SQLError.configuration("connection type \(type(of: connection)) cannot run migrations")
        }
        return executor
    }
}
