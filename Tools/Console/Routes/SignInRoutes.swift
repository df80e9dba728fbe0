import Credentials
import Foundation
import Hummingbird
import Logging
import SagaAPI
import ServiceKit

/// `GET /login`: a form to paste an operator's token (`saga-admin token --role operator`);
/// `POST /login`: verifies it and starts a session (the browser gets only a random session id,
/// HttpOnly and SameSite=Strict); `POST /logout` ends it. The sign-in form is protected from
/// cross-site posting by a double-submit value (a cookie scoped to /login and the same value in
/// the form). A token without the operator role is refused (403): the console is for operators.
struct SignInRoutes {
    let sessions: SessionStore
    let verifier: TokenVerifier
    let logger: Logger

    func add(to routes: EdgeRoutes) {
        routes.getOpen("/") { _, _, _ in Layout.redirect("/orders") }
        routes.getOpen("/login") { request, _, _ in
            let nonce = SessionStore.randomToken()
            var response = Self.form(nonce: nonce, message: nil)
            response.setCookie(sessions.loginCookie(nonce))
            return response
        }
        routes.postOpen("/login") { request, _ in
            let form = try await Form.parse(request)
            guard let cookie = request.cookies[SessionStore.loginCookieName]?.value, let sent = form.value("nonce"),
                  SessionStore.same(cookie, sent) else {
                throw Problem.forbidden("the sign-in form expired or was not this console's; open /login again")
            }
            let token = (form.value("token") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw Problem.badRequest("paste a token (saga-admin token --role operator)") }
            let principal: Principal
            do {
                principal = try await verifier.verify(token)
            } catch {
                logger.notice("sign-in refused: \(error)")
                throw Problem(status: 401, title: "Unauthorized",
                              detail: "the token was not accepted (expired, not for this deployment, or not signed by a trusted key)")
            }
            guard principal.has(.operator) else {
                logger.notice("sign-in refused: not an operator", metadata: ["subject": "\(principal.subject)"])
                throw Problem.forbidden("this console is for operators; the token's roles are \(principal.roles.map(\.rawValue).sorted().joined(separator: ", "))")
            }
            let session = sessions.create(token: token, subject: principal.subject)
            logger.notice("operator signed in", metadata: ["operator": "\(principal.subject)"])
            var response = Layout.redirect("/orders")
            response.setCookie(sessions.cookie(for: session))
            response.setCookie(sessions.expiredCookie(SessionStore.loginCookieName, path: "/login"))
            return response
        }
        routes.post("/logout", .requires(.operator)) { request, _, caller in
            // A bearer token has no session to end.
            if request.headers[.authorization] != nil { return Layout.redirect("/login") }
            let form = try await Form.parse(request)
            let session = try form.requireCSRF(of: request, sessions: sessions)
            sessions.end(session.id)
            logger.notice("operator signed out", metadata: ["operator": "\(caller.principal.subject)"])
            var response = Layout.redirect("/login")
            response.setCookie(sessions.expiredCookie(SessionStore.cookieName, path: "/"))
            return response
        }
    }

    static func form(nonce: String, message: String?) -> Response {
        let document: HTML = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Sign in · order-saga console</title>
            <link rel="stylesheet" href="/assets/console.css"></head>
            <body><main class="signin"><h1>Sign in</h1>
            <p>Paste an operator's token: <code>saga-admin token --keys run/&lt;run&gt;/keys --role operator --subject you</code></p>
            <form method="post" action="/login">
            <input type="hidden" name="nonce" value="\(nonce)">
            <label for="token">Token</label>
            <textarea id="token" name="token" rows="6" cols="80" autocomplete="off" spellcheck="false" required></textarea>
            <button type="submit" id="signin">Sign in</button>
            </form></main></body></html>
            """
        return Layout.html(document)
    }
}
