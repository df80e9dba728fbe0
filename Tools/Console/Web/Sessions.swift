import Credentials
import Crypto
import EventSchema
import Foundation
import Hummingbird
import Logging
import SagaAPI
import ServiceKit

/// Signed-in operators, kept in memory: the browser holds only a random session id (HttpOnly,
/// SameSite=Strict), never the bearer token, and each session has its own CSRF token that every
/// form of the console carries back. The token is verified again on every request, so an expired
/// or revoked one ends the session; a restarted console signs everyone out.
final class SessionStore: @unchecked Sendable {
    static let cookieName = "saga_console_session"
    static let loginCookieName = "saga_console_login"
    static let maxAge = Duration.seconds(8 * 3600)
    static let maxSessions = 1000

    struct Session: Sendable {
        let id: String
        let token: String
        let csrf: String
        let subject: String
        let created: ContinuousClock.Instant
    }

    /// Whether cookies carry `Secure`: off only where the console listens on a loopback address
    /// (plain http that never leaves the machine); anywhere else it is served behind TLS.
    let secureCookies: Bool
    private let lock = NSLock()
    private var sessions: [String: Session] = [:]

    init(secureCookies: Bool) {
        self.secureCookies = secureCookies
    }

    func create(token: String, subject: String) -> Session {
        let session = Session(id: Self.randomToken(), token: token, csrf: Self.randomToken(), subject: subject, created: .now)
        lock.withLock {
            if sessions.count >= Self.maxSessions {
                let cutoff = ContinuousClock.now - Self.maxAge
                sessions = sessions.filter { $0.value.created > cutoff }
                if sessions.count >= Self.maxSessions, let oldest = sessions.values.min(by: { $0.created < $1.created }) {
                    sessions[oldest.id] = nil
                }
            }
            sessions[session.id] = session
        }
        return session
    }

    func session(_ id: String) -> Session? {
        lock.withLock {
            guard let session = sessions[id] else { return nil }
            guard ContinuousClock.now - session.created < Self.maxAge else {
                sessions[id] = nil
                return nil
            }
            return session
        }
    }

    func end(_ id: String) {
        lock.withLock { sessions[id] = nil }
    }

    func session(of request: Request) -> Session? {
        request.cookies[Self.cookieName].flatMap { session($0.value) }
    }

    func cookie(for session: Session) -> Cookie {
        Cookie(name: Self.cookieName, value: session.id, maxAge: Int(Self.maxAge.components.seconds), path: "/",
               secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    func expiredCookie(_ name: String, path: String) -> Cookie {
        Cookie(name: name, value: "deleted", maxAge: 0, path: path, secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    /// The sign-in form's CSRF pair: the same random value in a cookie and in the form
    /// (a page on another site can neither read the cookie nor set it).
    func loginCookie(_ value: String) -> Cookie {
        Cookie(name: Self.loginCookieName, value: value, maxAge: 600, path: "/login", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    static func randomToken() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        return Base64URL.encode(bytes)
    }

    /// Compares without leaking where two tokens differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}

/// A POSTed form (`application/x-www-form-urlencoded`), values by name in the order sent.
struct Form: Sendable {
    static let maxBytes = 256 * 1024
    let fields: [(name: String, value: String)]

    func value(_ name: String) -> String? { fields.first { $0.name == name }?.value }
    func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }

    static func parse(_ request: Request) async throws -> Form {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("application/x-www-form-urlencoded") else {
            throw Problem(status: 415, title: "Unsupported Media Type", detail: "the console takes forms (application/x-www-form-urlencoded)")
        }
        var request = request
        let body = try await request.collectBody(upTo: maxBytes)
        return Form(encoded: String(decoding: body.readableBytesView, as: UTF8.self))
    }

    init(encoded: String) {
        fields = encoded.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// The console's forms carry the session's CSRF token; a POST without it, or with another
    /// session's, is refused before it does anything.
    func requireCSRF(of request: Request, sessions: SessionStore) throws -> SessionStore.Session {
        guard let session = sessions.session(of: request) else {
            throw Problem(status: 401, title: "Unauthorized", detail: "sign in first")
        }
        guard let sent = value("csrf"), SessionStore.same(sent, session.csrf) else {
            throw Problem.forbidden("the form's CSRF token is missing or not this session's; reload the page and try again")
        }
        return session
    }
}
