import Foundation
import Hummingbird
import HummingbirdTesting
import Persistence
import SagaAPI
import ServiceKit
import XCTest

/// Errors render themselves as problem JSON, in process (no sockets): what a client can do
/// about each is in its status.
final class ProblemMiddlewareTests: XCTestCase {
    private func app() -> some ApplicationProtocol {
        let router = Router()
        router.middlewares.add(ProblemMiddleware<BasicRequestContext>.service())
        router.post("/full") { _, _ -> String in throw SQLError.transient("database or disk is full (SQLite code 13)") }
        router.post("/constraint") { _, _ -> String in throw SQLError.permanent("CHECK constraint failed") }
        router.post("/bad") { _, _ -> String in throw Problem.badRequest("no lines") }
        return Application(router: router)
    }

    func testATransientDatabaseErrorIs503WithRetryAfter() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/full", method: .post) { response in
                XCTAssertEqual(response.status, .serviceUnavailable)
                XCTAssertEqual(response.headers[.retryAfter], "1")
                XCTAssertEqual(response.headers[.contentType], "application/problem+json")
                let problem = try JSONDecoder().decode(Problem.self, from: Data(buffer: response.body))
                XCTAssertEqual(problem.status, 503)
                // The database's own words go to the log, under the reference the body carries.
                XCTAssertFalse(problem.detail.contains("disk is full") || problem.detail.contains("SQLite"), problem.detail)
                XCTAssertTrue(problem.detail.contains("reference"), problem.detail)
            }
        }
    }

    func testOtherErrorsKeepTheirStatus() async throws {
        try await app().test(.router) { client in
            try await client.execute(uri: "/constraint", method: .post) { response in
                XCTAssertEqual(response.status, .internalServerError)
                XCTAssertNil(response.headers[.retryAfter])
                XCTAssertFalse(String(buffer: response.body).contains("CHECK constraint"), "a 500 carries no SQL")
            }
            try await client.execute(uri: "/bad", method: .post) { response in
                XCTAssertEqual(response.status, .badRequest)
                XCTAssertEqual(try JSONDecoder().decode(Problem.self, from: Data(buffer: response.body)).detail, "no lines")
            }
            try await client.execute(uri: "/nowhere", method: .get) { response in
                XCTAssertEqual(response.status, .notFound)
            }
        }
    }
}
