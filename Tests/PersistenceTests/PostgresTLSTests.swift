import Foundation
@testable import Persistence
import XCTest
import DevClusterTesting

/// PostgreSQL over TLS, for real: a server of its own (.ci/postgres-tls.sh) set up as the compose
/// stack's is, with a certificate from deploy/pki/make-pki.sh for 127.0.0.1 and localhost,
/// deploy/postgres/pg_hba.conf (TLS and client certificates only) and init.sql (one role per
/// service). The attacks: a wrong CA, a wrong host name, no TLS, another service's certificate,
/// another service's database. Each must fail; the right CA, name and certificate must connect.
/// Time limits: the server's start and stop are bounded (120 s, 60 s), every connection by its
/// connect_timeout (5 s).
final class PostgresTLSTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let script = root.appendingPathComponent(".ci/postgres-tls.sh").path

    static let folder = FileManager.default.temporaryDirectory.appendingPathComponent("postgres-tls-\(UUID().uuidString)")

    /// Started once, by the first test that runs (a process started from a class-level setUp
    /// was never reaped here: its end went unnoticed), stopped after the last.
    static let server: (port: Int, failure: String?) = {
        guard let port = try? FreePorts.block() else { return (0, "no free port block for the TLS server") }
        let result = run(["start", folder.path, "\(port)"], timeout: 120)
        return (port, result.status == 0 ? nil : "\(script) start failed (\(result.status)): \(result.output)")
    }()

    static var port: Int { server.port }

    override class func tearDown() {
        if FileManager.default.fileExists(atPath: folder.path) {
            stopServer(in: folder)
            try? FileManager.default.removeItem(at: folder)
        }
        super.tearDown()
    }

    override func setUpWithError() throws {
        if getuid() != 0 { throw XCTSkip("needs root: the test server runs as the postgres user (CI runs as root)") }
        if let failure = Self.server.failure { XCTFail(failure); throw SQLError.configuration(failure) }
    }

    /// An immediate shutdown (SIGQUIT to the postmaster), waited for up to 30 s.
    static func stopServer(in folder: URL) {
        let pidFile = folder.appendingPathComponent("data/postmaster.pid")
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
              let pid = text.split(separator: "\n").first.flatMap({ Int32($0) }) else { return }
        kill(pid, SIGQUIT)
        for _ in 0..<300 where kill(pid, 0) == 0 { usleep(100_000) }
    }

    func file(_ path: String, pki: String = "pki") -> String { Self.folder.appendingPathComponent("\(pki)/\(path)").path }

    /// A service's URL as compose gives it: its role and database, verify-full, its certificate.
    func url(host: String = "127.0.0.1", role: String = "order", database: String? = nil, identity: String? = nil,
             sslmode: String = "verify-full", rootPKI: String = "pki", extra: String = "") -> String {
        let id = identity ?? role
        var url = "postgres://\(role)@\(host):\(Self.port)/\(database ?? role)?connect_timeout=5&pool_size=1&sslmode=\(sslmode)"
        if sslmode != "disable" {
            url += "&sslrootcert=\(file("ca/ca.crt", pki: rootPKI))&sslcert=\(file("\(id)/tls.crt"))&sslkey=\(file("\(id)/tls.key"))"
        }
        return url + extra
    }

    /// Connects and asks the server who it thinks we are and whether the session is encrypted.
    func session(_ url: String) async throws -> (user: String, ssl: String, version: String) {
        let database = try await openDatabase(url: url)
        defer { Task { await database.close() } }
        let rows = try await database.read { connection in
            try connection.query("SELECT current_user::text AS who, ssl::text AS encrypted, version::text AS protocol FROM pg_stat_ssl WHERE pid = pg_backend_pid()", [])
        }
        let row = try XCTUnwrap(rows.first)
        return (row.string("who") ?? "", row.string("encrypted") ?? "", row.string("protocol") ?? "")
    }

    func refusal(_ url: String) async -> String {
        do {
            let database = try await openDatabase(url: url)
            await database.close()
            return "connected"
        } catch {
            return "\(error)"
        }
    }

    func testTheRightCAHostAndCertificateConnectOverTLS13() async throws {
        let session = try await session(url())
        XCTAssertEqual(session.user, "order")
        XCTAssertEqual(session.ssl, "true")
        XCTAssertEqual(session.version, "TLSv1.3")
        // By name: the certificate's DNS entry, and the name sent for SNI.
        let byName = try await self.session(url(host: "localhost"))
        XCTAssertEqual(byName.user, "order")
    }

    func testAWrongCAIsRefused() async {
        let message = await refusal(url(rootPKI: "other-pki"))
        XCTAssertNotEqual(message, "connected")
        XCTAssertTrue(message.lowercased().contains("certificate"), message)
    }

    /// verify-full checks the name: 127.0.0.2 reaches the same server, but its certificate
    /// names 127.0.0.1 and localhost only. verify-ca does not check names, and connects.
    func testAWrongHostNameIsRefusedByVerifyFullOnly() async throws {
        let message = await refusal(url(host: "127.0.0.2"))
        XCTAssertNotEqual(message, "connected")
        XCTAssertTrue(message.lowercased().contains("certificate") || message.lowercased().contains("hostname"), message)
        let unnamed = try await session(url(host: "127.0.0.2", sslmode: "verify-ca"))
        XCTAssertEqual(unnamed.ssl, "true")
    }

    /// Without a root certificate verify-full uses the system's store, which does not hold the
    /// stack's CA: refused, not connected unverified.
    func testVerifyFullWithoutARootCertificateDoesNotTrustTheStacksCA() async {
        let url = "postgres://order@127.0.0.1:\(Self.port)/order?connect_timeout=5&pool_size=1&sslmode=verify-full"
            + "&sslcert=\(file("order/tls.crt"))&sslkey=\(file("order/tls.key"))"
        let outcome = await refusal(url)
        XCTAssertNotEqual(outcome, "connected")
    }

    /// pg_hba.conf has no line for plaintext TCP, nor for one role on another's database, and a
    /// certificate acts only as the roles pg_ident.conf maps it to.
    func testTheServerRefusesPlaintextOtherDatabasesAndBorrowedIdentities() async throws {
        let plaintext = await refusal(url(sslmode: "disable"))
        XCTAssertTrue(plaintext.contains("no pg_hba.conf entry"), plaintext)
        let otherDatabase = await refusal(url(database: "inventory"))
        XCTAssertTrue(otherDatabase.contains("no pg_hba.conf entry"), otherDatabase)
        let borrowed = await refusal(url(role: "inventory", identity: "order"))
        XCTAssertTrue(borrowed.contains("certificate authentication failed"), borrowed)
        // A client certificate of another CA, even with the right name in it.
        let foreign = "postgres://order@127.0.0.1:\(Self.port)/order?connect_timeout=5&pool_size=1&sslmode=verify-full"
            + "&sslrootcert=\(file("ca/ca.crt"))&sslcert=\(file("order/tls.crt", pki: "other-pki"))&sslkey=\(file("order/tls.key", pki: "other-pki"))"
        let impostor = await refusal(foreign)
        XCTAssertNotEqual(impostor, "connected")
        // The operator's certificate may act as a service (kafka-tool offsets), on its database only.
        let operatorSession = try await session(url(role: "inventory", identity: "kafka-tool"))
        XCTAssertEqual(operatorSession.user, "inventory")
    }

    // MARK: - helpers

    static func run(_ arguments: [String], timeout: TimeInterval) -> (status: Int32, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("postgres-tls-out-\(UUID().uuidString)")
        XCTAssertTrue(FileManager.default.createFile(atPath: output.path, contents: nil))
        defer { try? FileManager.default.removeItem(at: output) }
        guard let handle = try? FileHandle(forWritingTo: output) else { return (-1, "cannot write \(output.path)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "\(error)") }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            return (-1, "did not finish within \(Int(timeout)) s")
        }
        try? handle.close()
        return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }

}
