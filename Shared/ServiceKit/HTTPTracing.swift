import Hummingbird

/// Hummingbird's tracing middleware (a server span per request, W3C context taken from the
/// request's `traceparent`), except for the probes and the scrape: a span per poll would be a
/// trace of its own every few seconds, about nothing. Added only while tracing is on.
struct HTTPTracingMiddleware<Context: RequestContext>: RouterMiddleware {
    static var untraced: Set<String> { ["/metrics", "/healthz", "/readyz"] }
    private let tracing = TracingMiddleware<Context>()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.untraced.contains(request.uri.path) { return try await next(request, context) }
        return try await tracing.handle(request, context: context, next: next)
    }
}
