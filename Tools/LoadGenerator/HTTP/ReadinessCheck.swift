/// Waits until every service answers 200 on /readyz, so a run does not start (and fail in a
/// confusing way) against a stack that is still starting or incomplete.
struct ReadinessCheck: Sendable {
    let http: ServiceHTTPClient
    let urls: ServiceURLs
    let clock: any LoadClock

    func wait(timeout: Duration) async throws {
        let deadline = clock.now() + timeout
        while true {
            var notReady: [String] = []
            for (name, url) in urls.all {
                do {
                    let reply = try await http.send(.GET, url + "/readyz", timeout: .seconds(5))
                    if reply.status != 200 { notReady.append("\(name) at \(url) is not ready (\(reply.status): \(problemText(reply.body)))") }
                } catch {
                    notReady.append("\(name) at \(url) does not answer (\(error))")
                }
            }
            if notReady.isEmpty { return }
            guard clock.now() < deadline else {
                throw LoadGenError("services not ready after \(timeout): \(notReady.joined(separator: "; ")). Start them, fix the --*-url options, or raise --ready-timeout")
            }
            try await clock.sleep(until: clock.now() + .milliseconds(500))
        }
    }
}
