import Credentials
import Hummingbird
import HummingbirdAuth
import Logging
import NIOCore

/// The request context of every service: Hummingbird's, plus the caller its bearer token proved
/// (nil for a request without one; only open routes answer those).
public struct EdgeContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Principal?
    /// Why a presented token was refused; checked by every route that is not open.
    var rejection: TokenRejection?

    public init(source: Source) {
        coreContext = .init(source: source)
        identity = nil
        rejection = nil
    }

    /// Bodies are read only by the routes that take one (`POST /orders`), and never beyond this.
    public var maxUploadSize: Int { 64 * 1024 }
}
